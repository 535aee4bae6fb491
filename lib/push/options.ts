import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type FlagSpecs, loadConfig, parseFlags, wholeNumber } from '../config/index.ts';
import { AirlockError } from '../errors.ts';
import { type NameMapping, parseMapping, parseRegistryTarget, type RegistryTarget } from './names.ts';

export interface PushCommandOptions {
  target: RegistryTarget;
  dir: string;
  mappings: NameMapping[];
  insecure: boolean;
  /** Token realm hosts trusted with the registry's credentials (config.toml trusted_token_realms). */
  trustedTokenRealms: string[];
  /** PEM text of --ca-file. */
  ca?: string;
  allowUnverified: boolean;
  concurrency: number;
  /** Upload in chunks of this size; undefined: one PUT per blob unless the registry asks for chunks. */
  chunkBytes?: number;
  stallTimeoutMs: number;
  retries: number;
  json: boolean;
  verbose: boolean;
  help: boolean;
}

export const PUSH_USAGE = `Usage: ./scripts/push-images.ts --registry HOST[:PORT][/PREFIX] [options]

Pushes every archive of an images directory into a registry, keeping every manifest digest.

  --registry HOST[/PREFIX]  registry to push to, with an optional repository prefix (required)
  --dir DIR                 images directory: archives and SHA256SUMS (default: images)
  --map SOURCE=TARGET       repositories under SOURCE go under TARGET instead (repeatable)
  --insecure                plain HTTP to the registry (loopback always is)
  --config FILE             config file for insecure_registries and trusted_token_realms (default: config.toml when it exists)
  --ca-file FILE            PEM file of CA certificates the registry's certificate chains to
  --allow-unverified        push without SHA256SUMS, or archives it does not list (loudly)
  --concurrency N           archives pushed at once (default: 3)
  --chunk-size BYTES        upload blobs in chunks of this size (default: one request per blob unless the registry asks for chunks)
  --timeout SECONDS         no bytes for this long fails the attempt, which is retried (default: 30)
  --retries N               attempts after the first on 429, 5xx, resets and stalls (default: 4)
  --json                    machine-readable output on stdout
  --verbose                 debug logs
  -h, --help                this help
`;

const PUSH_FLAGS = {
  registry: { type: 'string' },
  dir: { type: 'string' },
  map: { type: 'string', multiple: true },
  insecure: { type: 'boolean' },
  config: { type: 'string' },
  'ca-file': { type: 'string' },
  'allow-unverified': { type: 'boolean' },
  concurrency: { type: 'string' },
  'chunk-size': { type: 'string' },
  timeout: { type: 'string' },
  retries: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies FlagSpecs;

const readCa = async (file: string, cwd: string): Promise<string> => {
  try {
    const text = await readFile(resolve(cwd, file), 'utf8');
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return text;
  } catch (error) {
    throw new AirlockError('BAD_INPUT', `--ca-file ${file}: ${(error as Error).message}`, { cause: error });
  }
};

export const parsePushArguments = async (
  argv: readonly string[],
  cwd = process.cwd(),
): Promise<PushCommandOptions> => {
  const flags = parseFlags(argv, PUSH_FLAGS);
  const help = Boolean(flags.help);
  if (!flags.registry && !help) {
    throw new AirlockError('BAD_INPUT', '--registry HOST[:PORT][/PREFIX] is required — see --help');
  }
  const timeout = Number(flags.timeout ?? 30);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new AirlockError(
      'BAD_INPUT',
      `--timeout: expected a number above 0, got ${JSON.stringify(flags.timeout)}`,
    );
  }
  // The exporter's config file: the same registry settings apply to the push (a token service on its own host).
  const configFile = flags.config ?? (existsSync(resolve(cwd, 'config.toml')) ? 'config.toml' : undefined);
  const config = configFile
    ? await loadConfig(resolve(cwd, configFile), { required: flags.config !== undefined })
    : undefined;
  const target = flags.registry ? parseRegistryTarget(flags.registry) : { host: '', prefix: '' };
  return {
    target,
    dir: resolve(cwd, flags.dir ?? 'images'),
    mappings: (flags.map ?? []).map(parseMapping),
    insecure: Boolean(flags.insecure) || (config?.insecureRegistries ?? []).includes(target.host),
    trustedTokenRealms: config?.trustedTokenRealms ?? [],
    ...(flags['ca-file'] ? { ca: await readCa(flags['ca-file'], cwd) } : {}),
    allowUnverified: Boolean(flags['allow-unverified']),
    concurrency: wholeNumber('concurrency', flags.concurrency ?? 3, 1),
    ...(flags['chunk-size'] ? { chunkBytes: wholeNumber('chunk-size', flags['chunk-size'], 1) } : {}),
    stallTimeoutMs: timeout * 1000,
    retries: wholeNumber('retries', flags.retries ?? 4, 0),
    json: Boolean(flags.json),
    verbose: Boolean(flags.verbose),
    help,
  };
};
