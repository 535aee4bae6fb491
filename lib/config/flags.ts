import { type ParseArgsConfig, parseArgs } from 'node:util';
import { AirlockError } from '../errors.ts';
import { withSuggestion } from './suggest.ts';

export type FlagSpecs = NonNullable<ParseArgsConfig['options']>;

/**
 * The flags of every command that moves images (export, import, push): how many at once, how often to retry,
 * how long one image may take, how much to log. Each command spreads them into its own table.
 */
export const RUN_FLAGS = {
  concurrency: { type: 'string' },
  retries: { type: 'string' },
  timeout: { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies FlagSpecs;

/**
 * Command-line flags for both commands, through Node's own parser: every unknown option named in one line,
 * a stray argument refused, and otherwise Node's reason (a missing value, a value given to a switch).
 */
export const parseFlags = <const Specs extends FlagSpecs>(argv: readonly string[], options: Specs) => {
  const args = [...argv];
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: Specs; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true });
  } catch (error) {
    const { tokens } = parseArgs({ args, options, strict: false, tokens: true });
    const known = Object.keys(options);
    const unknown = tokens.flatMap((token) => {
      if (token.kind !== 'option' || Object.hasOwn(options, token.name)) return [];
      // A short option (-x) is named as typed; only long ones are spelled closely enough to suggest.
      return [token.rawName.startsWith('--') ? withSuggestion(token.name, known, '--') : token.rawName];
    });
    const reason = unknown.length > 0 ? `unknown option ${unknown.join(', ')}` : (error as Error).message;
    throw new AirlockError('BAD_INPUT', `${reason} — see --help`, { cause: error });
  }
  if (parsed.positionals.length > 0) {
    throw new AirlockError(
      'BAD_INPUT',
      `unexpected argument ${parsed.positionals.join(' ')} — options start with -- (see --help)`,
    );
  }
  return parsed.values;
};

/**
 * A value as a whole number of at least `minimum`, or one BAD_INPUT line naming where it came from: a flag
 * (`--retries`) or its environment twin (`AIRLOCK_RETRIES`).
 */
export const wholeNumberFrom = (name: string, value: unknown, minimum: number): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < minimum) {
    throw new AirlockError(
      'BAD_INPUT',
      `expected a whole number of at least ${minimum}, got ${JSON.stringify(value)}`,
      { subject: name },
    );
  }
  return number;
};

/** A flag's value as a whole number of at least `minimum`, or one BAD_INPUT line naming the flag. */
export const wholeNumber = (flag: string, value: unknown, minimum: number): number =>
  wholeNumberFrom(`--${flag}`, value, minimum);
