import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { readArchiveSummary, writeImageArchive } from '../archive/index.ts';
import { AirlockError, describeError } from '../errors.ts';
import { sha256File } from '../files.ts';
import { listArchives } from '../import/archives.ts';
import { formatPlatform, type Platform } from '../oci/index.ts';
import type { RegistryClient } from '../registry/index.ts';
import type { Logger } from '../report/log.ts';
import type { Progress } from '../report/progress.ts';
import { failedResult, formatResultLine, type ImageResult, secondsSince } from '../report/results.ts';
import { type BlobSource, createBlobSource, sharedDigests } from './blob-source.ts';
import { lockOutput } from './output-lock.ts';
import { type ImagesJson, type ImagesJsonEntry, previousChecksums, writeOutputs } from './outputs.ts';
import { type ImagePlan, mergeByDigest, planImage } from './plan.ts';

export interface ExportImagesOptions {
  /** Fully qualified references, as discovery returns them. */
  images: string[];
  output: string;
  platforms: Platform[];
  compression: 'none' | 'gzip';
  gzipLevel?: number;
  concurrency: number;
  client: RegistryClient;
  logger: Logger;
  progress: Progress;
  signal?: AbortSignal;
  /** Resolve everything, write nothing (not even the output directory). */
  dryRun?: boolean;
  /** Remove archives in the output directory that images.json no longer lists. */
  prune?: boolean;
  /** Where each image was found, recorded in images.json. */
  sources?: ReadonlyMap<string, ImagesJsonEntry['sources']>;
  chart?: ImagesJson['chart'];
  /**
   * Files written beside the archives under the same lock and listed in the same SHA256SUMS and images.json:
   * the importer's runtime or its image archive.
   */
  extras?: () => Promise<ExportExtras>;
}

export interface ExportExtras {
  images?: ImagesJsonEntry[];
  importer?: ImagesJson['importer'];
}

export interface ExportReport {
  results: ImageResult[];
  manifest?: ImagesJson;
  /** Archives in the output directory that images.json does not list (removed with `prune`). */
  unlisted?: string[];
}

/** What every per-image step shares within one run. */
interface RunContext {
  options: ExportImagesOptions;
  source: BlobSource;
  checksums: ReadonlyMap<string, string>;
  report: (result: ImageResult) => void;
}

/** Scratch files of the run: the shared-blob cache and partial files. Only the lock holder touches them. */
const SCRATCH_PREFIX = '.airlock-blobs-';

/** An archive from an earlier run counts as done when it holds the same digest under every name we need. */
const isAlreadyExported = async (plan: ImagePlan): Promise<boolean> => {
  const exists = await stat(plan.file).then(
    (info) => info.isFile(),
    () => false,
  );
  if (!exists) return false;
  const summary = await readArchiveSummary(plan.file).catch(() => undefined);
  const digest = plan.image.target.descriptor.digest;
  return Boolean(
    summary?.images.some(
      (image) => image.digest === digest && plan.image.names.every((name) => image.names.includes(name)),
    ),
  );
};

/**
 * Partial files and blob caches are only left behind by a killed process; they are never valid. Removing them
 * is safe only while holding the directory's lock, when no other export can be writing them.
 */
const removeStaleScratch = async (output: string, logger: Logger) => {
  for (const name of await readdir(output).catch(() => [] as string[])) {
    if (!name.endsWith('.partial') && !name.startsWith(SCRATCH_PREFIX)) continue;
    logger.debug(`removing ${name} left by an interrupted run`);
    await rm(path.join(output, name), { recursive: true, force: true });
  }
};

/** Resolves every manifest first: bad references, auth and platform problems show before any big download. */
const planAll = async (
  options: ExportImagesOptions,
  limit: ReturnType<typeof pLimit>,
  report: (result: ImageResult) => void,
): Promise<ImagePlan[]> => {
  const plans = await Promise.all(
    options.images.map((image) =>
      limit(async () => {
        const started = performance.now();
        try {
          options.signal?.throwIfAborted();
          return await planImage(options.client, image, options);
        } catch (error) {
          report(failedResult(image, started, error));
          return undefined;
        }
      }),
    ),
  );
  return mergeByDigest(plans.filter((plan): plan is ImagePlan => plan !== undefined));
};

/** Writes one archive, streaming its layers; returns its sha256 and size. */
const writeArchive = async (plan: ImagePlan, { options, source }: RunContext) => {
  const { progress, signal } = options;
  progress.start(plan.display, plan.display, plan.size);
  let written = 0;
  try {
    return await writeImageArchive({
      path: plan.file,
      image: plan.image,
      compression: options.compression,
      gzipLevel: options.gzipLevel,
      openLayer: (descriptor) => source.open(plan.reference, descriptor, signal),
      signal,
      onProgress: (bytes) => {
        progress.advance(plan.display, bytes - written);
        written = bytes;
      },
    });
  } finally {
    progress.finish(plan.display);
  }
};

/** The per-image step: skip an archive already on disk, or write it; report the result either way. */
const exportPlan = async (plan: ImagePlan, context: RunContext): Promise<ImagesJsonEntry | undefined> => {
  const started = performance.now();
  const file = path.basename(plan.file);
  const digest = plan.image.target.descriptor.digest;
  const result = { image: plan.display, file };
  try {
    context.options.signal?.throwIfAborted();
    let sha256: string;
    let size: number;
    if (await isAlreadyExported(plan)) {
      sha256 = context.checksums.get(file) ?? (await sha256File(plan.file));
      size = (await stat(plan.file)).size;
      const reason = 'already exported with the same digest';
      context.report({ ...result, outcome: 'skipped', seconds: secondsSince(started), bytes: size, reason });
    } else {
      ({ sha256, size } = await writeArchive(plan, context));
      context.report({ ...result, outcome: 'exported', seconds: secondsSince(started), bytes: size, digest });
    }
    return {
      reference: plan.display,
      references: plan.references,
      names: plan.image.names,
      digest,
      mediaType: plan.image.target.descriptor.mediaType,
      platforms: plan.platforms,
      file,
      size,
      sha256,
      sources: plan.references.flatMap((reference) => context.options.sources?.get(reference) ?? []),
    };
  } catch (error) {
    context.report(failedResult(plan.display, started, error));
    return undefined;
  }
};

/** Archives the directory holds that this run's images.json does not list: left by earlier exports. */
const findUnlisted = async (options: ExportImagesOptions, manifest: ImagesJson): Promise<string[]> => {
  const listed = new Set(manifest.images.map((entry) => entry.file));
  const { archives } = await listArchives(options.output);
  const unlisted = archives.filter((name) => !listed.has(name));
  for (const name of unlisted) {
    if (options.prune) {
      await rm(path.join(options.output, name), { force: true });
      options.logger.info(`removed ${name}: not listed in images.json (--prune)`);
    } else {
      options.logger.warn(
        `${name}: not listed in images.json (left by an earlier export); the importer refuses it — --prune removes it`,
      );
    }
  }
  return unlisted;
};

const writeManifest = async (
  options: ExportImagesOptions,
  entries: ImagesJsonEntry[],
  extras: ExportExtras = {},
) => {
  const manifest: ImagesJson = {
    generator: 'airlock',
    ...(options.chart ? { chart: options.chart } : {}),
    platforms: options.platforms.map(formatPlatform),
    images: [...entries, ...(extras.images ?? [])],
    ...(extras.importer ? { importer: extras.importer } : {}),
  };
  try {
    await writeOutputs(options.output, manifest);
  } catch (error) {
    throw new AirlockError(
      'DISK_FULL',
      `${options.output}: could not write SHA256SUMS and images.json: ${describeError(error)}`,
      { cause: error },
    );
  }
  return manifest;
};

export const exportImages = async (options: ExportImagesOptions): Promise<ExportReport> => {
  const limit = pLimit(Math.max(1, options.concurrency));
  const results: ImageResult[] = [];
  const report = (result: ImageResult) => {
    results.push(result);
    options.progress.print(formatResultLine(result));
  };

  const plans = await planAll(options, limit, report);
  if (options.dryRun) {
    for (const plan of plans) {
      options.logger.info(`would export ${plan.display} (${plan.platforms.join(', ')}) -> ${plan.file}`);
    }
    return { results };
  }

  await mkdir(options.output, { recursive: true });
  const lock = await lockOutput(options.output);
  try {
    await removeStaleScratch(options.output, options.logger);
    const scratch = path.join(
      options.output,
      `${SCRATCH_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    const source = createBlobSource(options.client, scratch, sharedDigests(plans.map((plan) => plan.layers)));
    const context = { options, source, checksums: await previousChecksums(options.output), report };
    let entries: (ImagesJsonEntry | undefined)[];
    try {
      entries = await Promise.all(plans.map((plan) => limit(() => exportPlan(plan, context))));
    } finally {
      await source.dispose();
    }
    const extras = await options.extras?.();
    const manifest = await writeManifest(
      options,
      entries.filter((entry): entry is ImagesJsonEntry => entry !== undefined),
      extras,
    );
    return { results, manifest, unlisted: await findUnlisted(options, manifest) };
  } finally {
    await lock.release();
  }
};
