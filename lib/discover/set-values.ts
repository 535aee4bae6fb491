import { AirlockError } from '../errors.ts';
import { isPlainObject, type Values } from './yaml-file.ts';

/** Splits on `separator` outside `{...}` lists, honouring backslash escapes. */
const splitUnescaped = (text: string, separator: string): string[] => {
  const parts: string[] = [];
  let current = '';
  let depth = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (char === '\\' && index + 1 < text.length) {
      current += char + text[index + 1];
      index++;
      continue;
    }
    if (char === '{') depth++;
    if (char === '}') depth = Math.max(0, depth - 1);
    if (char === separator && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  parts.push(current);
  return parts;
};

const removeEscapes = (text: string): string => text.replace(/\\(.)/g, '$1');

/** As helm's strvals: true/false/null and integers are typed, everything else stays a string (so `1.10` survives). */
const typedScalar = (text: string): unknown => {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^-?(0|[1-9]\d*)$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  return removeEscapes(text);
};

const parseValue = (text: string): unknown => {
  if (text.startsWith('{') && text.endsWith('}')) {
    const inner = text.slice(1, -1);
    return inner === '' ? [] : splitUnescaped(inner, ',').map(typedScalar);
  }
  return typedScalar(text);
};

type PathStep = string | number;

const parseKey = (key: string, expression: string): PathStep[] => {
  const steps: PathStep[] = [];
  for (const part of splitUnescaped(key, '.')) {
    const match = /^(.*?)((?:\[\d+\])*)$/.exec(part);
    const name = removeEscapes(match?.[1] ?? '');
    if (name === '') throw badSet(expression, `empty key in ${JSON.stringify(key)}`);
    steps.push(name);
    for (const index of (match?.[2] ?? '').matchAll(/\[(\d+)\]/g)) steps.push(Number(index[1]));
  }
  return steps;
};

const badSet = (expression: string, reason: string) =>
  new AirlockError('BAD_INPUT', `--set ${expression}: ${reason} — use key.path=value or key.list[0]=value`);

const assign = (root: Values, steps: PathStep[], value: unknown): void => {
  let container: Values | unknown[] = root;
  for (const [position, step] of steps.entries()) {
    const last = position === steps.length - 1;
    const nextIsIndex = typeof steps[position + 1] === 'number';
    const slot: Record<string | number, unknown> = container as Record<string | number, unknown>;
    if (last) {
      slot[step] = value;
      return;
    }
    const existing = slot[step];
    if (nextIsIndex ? Array.isArray(existing) : isPlainObject(existing)) {
      container = existing as Values | unknown[];
      continue;
    }
    const created: Values | unknown[] = nextIsIndex ? [] : {};
    slot[step] = created;
    container = created;
  }
};

/**
 * Parses `--set` expressions (`a.b=c`, `a.list[0]=c`, `a=1,b=2`, `a={x,y}`) into a values tree, for the values scan.
 * Helm does its own parsing when it renders; this only has to agree on the common forms.
 */
export const parseSetValues = (expressions: readonly string[]): Values => {
  const values: Values = {};
  for (const expression of expressions) {
    for (const pair of splitUnescaped(expression, ',')) {
      if (pair === '') continue;
      const equals = splitUnescaped(pair, '=');
      if (equals.length < 2) throw badSet(expression, `${JSON.stringify(pair)} has no '='`);
      const key = equals[0]!;
      const value = equals.slice(1).join('=');
      assign(values, parseKey(key, expression), parseValue(value));
    }
  }
  return values;
};
