import packageJson from '../../package.json' with { type: 'json' };
import { parseFlags, RUN_FLAGS, wholeNumberFrom } from '../config/flags.ts';
import { AirlockError, describeError } from '../errors.ts';

// One version for the package and the importer's log header; esbuild inlines it into the Job's bundle.
export const IMPORTER_VERSION = packageJson.version;

export interface ImportOptions {
  dir: string;
  runtime: 'auto' | 'containerd' | 'docker';
  containerdAddress?: string;
  namespace: string;
  dockerHost?: string;
  strict: boolean;
  /** The release's image references, one per line, and where they came from; images.json's names when absent. */
  images?: { text: string; source: string };
  allowUnverified: boolean;
  concurrency: number;
  retries: number;
  /** Per image, in seconds. */
  timeout: number;
  nodeName?: string;
  verbose: boolean;
  help: boolean;
}

/** Each flag and the environment variable the hook Job sets instead (flags win). */
export const IMPORT_FLAGS = {
  dir: 'AIRLOCK_DIR',
  runtime: 'AIRLOCK_RUNTIME',
  'containerd-address': 'AIRLOCK_CONTAINERD_ADDRESS',
  namespace: 'AIRLOCK_NAMESPACE',
  'docker-host': 'AIRLOCK_DOCKER_HOST',
  strict: 'AIRLOCK_STRICT',
  images: 'AIRLOCK_IMAGES',
  'allow-unverified': 'AIRLOCK_ALLOW_UNVERIFIED',
  concurrency: 'AIRLOCK_CONCURRENCY',
  retries: 'AIRLOCK_RETRIES',
  timeout: 'AIRLOCK_TIMEOUT',
  verbose: 'AIRLOCK_VERBOSE',
} as const;

export const IMPORT_USAGE = `Usage: importer --dir DIR [options]

Imports every image archive in DIR into the node's container runtime.

  --dir DIR                    archives to import (env AIRLOCK_DIR; default /images)
  --runtime auto|containerd|docker   (env AIRLOCK_RUNTIME; default auto)
  --containerd-address SOCK    (env AIRLOCK_CONTAINERD_ADDRESS)
  --namespace NS               containerd namespace (env AIRLOCK_NAMESPACE; default k8s.io)
  --docker-host unix://SOCK    (env AIRLOCK_DOCKER_HOST, then DOCKER_HOST)
  --strict                     exit 1 when any image failed (env AIRLOCK_STRICT=true)
  --images REFS                the only images to create: references one per line, as the pod specs
                               write them (env AIRLOCK_IMAGES; default: the names in DIR/images.json)
  --allow-unverified           import without DIR/SHA256SUMS, loudly (env AIRLOCK_ALLOW_UNVERIFIED=true)
  --concurrency N              imports at once; on containerd small archives share one (env
                               AIRLOCK_CONCURRENCY; default 1)
  --retries N                  retries for transient runtime errors (env AIRLOCK_RETRIES; default 2)
  --timeout SECONDS            per archive, summed over a shared import (env AIRLOCK_TIMEOUT; default 600)
  --verbose                    debug logs (env AIRLOCK_VERBOSE=true)
`;

const BOOLEAN_TEXT: Record<string, boolean> = {
  true: true,
  '1': true,
  yes: true,
  false: false,
  '0': false,
  no: false,
  '': false,
};

const parseBoolean = (name: string, text: string): boolean => {
  const value = BOOLEAN_TEXT[text.trim().toLowerCase()];
  if (value === undefined)
    throw new AirlockError('BAD_INPUT', `expected true or false, got ${JSON.stringify(text)}`, {
      subject: name,
    });
  return value;
};

export const parseImportArguments = (
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ImportOptions => {
  const flags: Record<string, string | boolean | undefined> = parseFlags(argv, {
    dir: { type: 'string' },
    runtime: { type: 'string' },
    'containerd-address': { type: 'string' },
    namespace: { type: 'string' },
    'docker-host': { type: 'string' },
    strict: { type: 'boolean' },
    images: { type: 'string' },
    'allow-unverified': { type: 'boolean' },
    ...RUN_FLAGS,
  });
  // A flag wins; otherwise its environment twin; otherwise the default.
  const pick = (flag: keyof typeof IMPORT_FLAGS): { name: string; text?: string } => {
    const value = flags[flag];
    if (value !== undefined) return { name: `--${flag}`, text: String(value) };
    const fromEnv = env[IMPORT_FLAGS[flag]];
    return { name: IMPORT_FLAGS[flag], text: fromEnv === '' ? undefined : fromEnv };
  };

  const runtime = pick('runtime');
  const runtimeValue = runtime.text ?? 'auto';
  if (runtimeValue !== 'auto' && runtimeValue !== 'containerd' && runtimeValue !== 'docker') {
    throw new AirlockError(
      'BAD_INPUT',
      `expected auto, containerd or docker, got ${JSON.stringify(runtimeValue)}`,
      { subject: runtime.name },
    );
  }
  const strict = pick('strict');
  const images = pick('images');
  const allowUnverified = pick('allow-unverified');
  const verbose = pick('verbose');
  const concurrency = pick('concurrency');
  const retries = pick('retries');
  const timeout = pick('timeout');
  const containerdAddress = pick('containerd-address').text;
  const dockerHost = pick('docker-host').text ?? env.DOCKER_HOST;

  return {
    dir: pick('dir').text ?? '/images',
    runtime: runtimeValue,
    ...(containerdAddress ? { containerdAddress } : {}),
    namespace: pick('namespace').text ?? 'k8s.io',
    ...(dockerHost ? { dockerHost } : {}),
    strict: strict.text === undefined ? false : parseBoolean(strict.name, strict.text),
    ...(images.text === undefined ? {} : { images: { text: images.text, source: images.name } }),
    allowUnverified:
      allowUnverified.text === undefined ? false : parseBoolean(allowUnverified.name, allowUnverified.text),
    concurrency: concurrency.text === undefined ? 1 : wholeNumberFrom(concurrency.name, concurrency.text, 1),
    retries: retries.text === undefined ? 2 : wholeNumberFrom(retries.name, retries.text, 0),
    timeout: timeout.text === undefined ? 600 : wholeNumberFrom(timeout.name, timeout.text, 1),
    ...(env.NODE_NAME ? { nodeName: env.NODE_NAME } : {}),
    verbose: verbose.text === undefined ? false : parseBoolean(verbose.name, verbose.text),
    help: Boolean(flags.help),
  };
};

/**
 * The options of a command run, or its exit code when there is nothing to run: 2 after one line for bad flags,
 * 0 after the usage for --help.
 */
export const readImportOptions = (
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env?: NodeJS.ProcessEnv },
  usage: string = IMPORT_USAGE,
): ImportOptions | number => {
  let options: ImportOptions;
  try {
    options = parseImportArguments(argv, io.env ?? process.env);
  } catch (error) {
    io.stderr.write(`error: ${describeError(error)}\n`);
    return 2;
  }
  if (!options.help) return options;
  io.stdout.write(usage);
  return 0;
};
