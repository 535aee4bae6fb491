import { existsSync } from 'node:fs';
// Direct module paths, not the folders' index files: this runs at every start-up, `--help` included, and an
// index would load the config schema (zod), the TOML parser and the importer's build for a few constants.
import { IMPORTER_MODES, type ImporterMode } from '../bundle/modes.ts';
import { type FlagSpecs, parseFlags, RUN_FLAGS, wholeNumber } from '../config/flags.ts';
import type { AirlockConfig } from '../config/schema.ts';
import type { DiscoverOptions } from '../discover/types.ts';
import { AirlockError } from '../errors.ts';
import { parsePlatform } from '../oci/platform.ts';
import type { Platform } from '../oci/schema.ts';
import type { Logger } from '../report/log.ts';

export interface ExportCommandOptions {
  chart: string;
  valuesFiles: string[];
  set: string[];
  output: string;
  platforms: Platform[];
  list: boolean;
  json: boolean;
  dryRun: boolean;
  prune: boolean;
  concurrency: number;
  verbose: boolean;
  includeUnrendered: boolean;
  compression: 'none' | 'gzip';
  gzipLevel: number;
  stallTimeoutMs: number;
  retries: number;
  helm?: string;
  /** `--why REF`: print where the image was found and exit. */
  why?: string;
  /** `--lock FILE`: write every reference with the digest it resolved to. */
  lock?: string;
  /** `--locked FILE`: export exactly the digests FILE locks; a moved tag fails. */
  locked?: string;
  importer: ImporterMode;
  help: boolean;
  config?: AirlockConfig;
  configFile?: string;
}

export const EXPORT_USAGE = `Usage: ./scripts/export-images.ts [options]

Finds every image the chart uses and saves each as an archive that containerd and Docker load.

  --chart DIR             chart to scan (default: helm)
  -f, --values FILE       values file, as for helm (repeatable)
  --set KEY=VAL           value override, as for helm (repeatable)
  --config FILE           config file (default: config.toml when it exists)
  --output DIR            where archives go (default: images)
  --platform LIST         OS/ARCH[/VARIANT][,...] to keep from multi-arch images (default: linux/amd64)
  --list                  print the image list, one reference per line, and exit
  --json                  machine-readable output on stdout
  --dry-run               resolve every image in its registry, write nothing
  --prune                 remove archives in --output that this export's images.json does not list
  --concurrency N         images handled at once (default: 3)
  --compression gzip|none gzip writes <repository>_<tag>.tar.gz, none writes .tar (default: gzip)
  --gzip-level N          0-9 with gzip; layers are already compressed, so 0 (stored) is fastest (default: 0)
  --timeout SECONDS       no bytes from a registry for this long fails the attempt, which is retried (default: 30)
  --retries N             attempts after the first on 429, 5xx, resets and stalls, per image (default: 4)
  --include-unrendered    also export images of values or Chart.yaml that the chart does not render
  --why REF               print every place REF was found (template, object, field or argument, values key) and exit
  --lock FILE             write every reference with the digest it resolved to into FILE (default: no lockfile)
  --locked FILE           export exactly the digests FILE locks; fail if a tag has moved (default: no lockfile)
  --importer MODE         auto|bundle|image|none: bundle writes the importer runtime (node, ctr, libraries) of
                          every --platform into importer/; image writes the airlock/importer image archive;
                          auto is bundle when the chart renders the import hook, else none (default: auto)
  --helm PATH             helm binary (default: helm on PATH)
  --verbose               debug logs
  -h, --help              this help
`;

const positiveNumber = (flag: string, value: unknown): number => {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new AirlockError('BAD_INPUT', `--${flag}: expected a number above 0, got ${JSON.stringify(value)}`);
  }
  return number;
};

const EXPORT_FLAGS = {
  ...RUN_FLAGS,
  chart: { type: 'string' },
  values: { type: 'string', short: 'f', multiple: true },
  set: { type: 'string', multiple: true },
  config: { type: 'string' },
  output: { type: 'string' },
  platform: { type: 'string', multiple: true },
  compression: { type: 'string' },
  'gzip-level': { type: 'string' },
  helm: { type: 'string' },
  why: { type: 'string' },
  lock: { type: 'string' },
  locked: { type: 'string' },
  importer: { type: 'string' },
  list: { type: 'boolean' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  prune: { type: 'boolean' },
  'include-unrendered': { type: 'boolean' },
} as const satisfies FlagSpecs;

/** Flags win over config.toml, which wins over defaults. */
export const parseExportArguments = async (
  argv: readonly string[],
  cwd = process.cwd(),
): Promise<ExportCommandOptions> => {
  const flags = parseFlags(argv, EXPORT_FLAGS);
  const configFile = flags.config ?? (existsSync(`${cwd}/config.toml`) ? `${cwd}/config.toml` : undefined);
  const config = configFile
    ? await (await import('../config/load.ts')).loadConfig(configFile, {
        required: flags.config !== undefined,
      })
    : undefined;

  const compression = flags.compression ?? config?.compression ?? 'gzip';
  if (compression !== 'none' && compression !== 'gzip') {
    throw new AirlockError(
      'BAD_INPUT',
      `--compression: expected none or gzip, got ${JSON.stringify(compression)}`,
    );
  }
  const gzipLevel = Number(flags['gzip-level'] ?? config?.gzipLevel ?? 0);
  if (!Number.isInteger(gzipLevel) || gzipLevel < 0 || gzipLevel > 9) {
    throw new AirlockError(
      'BAD_INPUT',
      `--gzip-level: expected 0 to 9, got ${JSON.stringify(flags['gzip-level'])}`,
    );
  }
  const platformText = flags.platform?.join(',');
  const platforms = (platformText ? platformText.split(',') : (config?.platforms ?? ['linux/amd64']))
    .map((text) => text.trim())
    .filter(Boolean)
    .map(parsePlatform);

  const importer = flags.importer ?? 'auto';
  if (!(IMPORTER_MODES as readonly string[]).includes(importer)) {
    throw new AirlockError(
      'BAD_INPUT',
      `--importer: expected ${IMPORTER_MODES.join(', ')}, got ${JSON.stringify(importer)}`,
    );
  }

  return {
    chart: flags.chart ?? config?.chart ?? 'helm',
    valuesFiles: flags.values ?? config?.values ?? [],
    set: flags.set ?? [],
    output: flags.output ?? config?.output ?? 'images',
    platforms,
    list: Boolean(flags.list),
    json: Boolean(flags.json),
    dryRun: Boolean(flags['dry-run']),
    prune: Boolean(flags.prune),
    concurrency: wholeNumber('concurrency', flags.concurrency ?? config?.concurrency ?? 3, 1),
    stallTimeoutMs: positiveNumber('timeout', flags.timeout ?? 30) * 1000,
    retries: wholeNumber('retries', flags.retries ?? 4, 0),
    verbose: Boolean(flags.verbose),
    includeUnrendered: Boolean(flags['include-unrendered'] || config?.includeUnrendered),
    compression,
    gzipLevel,
    ...(flags.helm ? { helm: flags.helm } : {}),
    ...(flags.why ? { why: flags.why } : {}),
    ...(flags.lock ? { lock: flags.lock } : {}),
    ...(flags.locked ? { locked: flags.locked } : {}),
    importer: importer as ImporterMode,
    help: Boolean(flags.help),
    ...(config ? { config } : {}),
    ...(configFile ? { configFile } : {}),
  };
};

/** What discovery is asked, the same for the rendering the command starts early and for discovery itself. */
export const discoverOptionsOf = (options: ExportCommandOptions, logger: Logger): DiscoverOptions => ({
  chart: options.chart,
  valuesFiles: options.valuesFiles,
  set: options.set,
  ...(options.helm ? { helm: options.helm } : {}),
  additionalImages: options.config?.additionalImages ?? [],
  exclude: options.config?.exclude ?? [],
  includeUnrendered: options.includeUnrendered,
  logger,
});
