import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { readArchiveSummary, writeImageArchive } from '../archive/index.ts';
import { AirlockError, describeError, isAirlockError } from '../errors.ts';
import type { Platform } from '../oci/index.ts';
import type { RegistryClient } from '../registry/index.ts';
import type { Logger } from '../report/log.ts';
import type { Progress } from '../report/progress.ts';
import { formatResultLine, type ImageResult } from '../report/results.ts';
import { createBlobSource, sharedDigests } from './blob-source.ts';
import {
  type ImagesJson,
  type ImagesJsonEntry,
  previousChecksums,
  sha256File,
  writeOutputs,
} from './outputs.ts';
import { formatPlatform, type ImagePlan, planImage } from './plan.ts';

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
  /** Resolve everything, write nothing. */
  dryRun?: boolean;
  /** Where each image was found, recorded in images.json. */
  sources?: ReadonlyMap<string, ImagesJsonEntry['sources']>;
  chart?: ImagesJson['chart'];
}

export interface ExportReport {
  results: ImageResult[];
  manifest?: ImagesJson;
}

const seconds = (since: number) => (performance.now() - since) / 1000;

const failure = (image: string, started: number, error: unknown): ImageResult => ({
  image,
  outcome: 'failed',
  seconds: seconds(started),
  reason: describeError(error),
  ...(isAirlockError(error) ? { code: error.code } : {}),
});

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

/** Partial files are only left behind by a killed process; they are never valid. */
const removeStalePartials = async (output: string, logger: Logger) => {
  for (const name of await readdir(output).catch(() => [] as string[])) {
    if (!name.endsWith('.partial')) continue;
    logger.debug(`removing ${name} left by an interrupted run`);
    await rm(path.join(output, name), { force: true });
  }
};

export const exportImages = async (options: ExportImagesOptions): Promise<ExportReport> => {
  const { client, logger, progress, signal } = options;
  const limit = pLimit(Math.max(1, options.concurrency));
  const results: ImageResult[] = [];
  const report = (result: ImageResult) => {
    results.push(result);
    progress.print(formatResultLine(result));
  };

  // Resolve every manifest first: it finds bad references, auth and platform problems before any big download,
  // and tells which layers several images share.
  const plans = (
    await Promise.all(
      options.images.map((image) =>
        limit(async () => {
          const started = performance.now();
          try {
            signal?.throwIfAborted();
            return await planImage(client, image, options);
          } catch (error) {
            report(failure(image, started, error));
            return undefined;
          }
        }),
      ),
    )
  ).filter((plan): plan is ImagePlan => plan !== undefined);

  if (options.dryRun) {
    for (const plan of plans) {
      logger.info(`would export ${plan.display} (${plan.platforms.join(', ')}) -> ${plan.file}`);
    }
    return { results };
  }

  const source = createBlobSource(
    client,
    path.join(options.output, '.airlock-blobs'),
    sharedDigests(plans.map((plan) => plan.layers)),
  );
  await removeStalePartials(options.output, logger);
  const checksums = await previousChecksums(options.output);
  const entries: ImagesJsonEntry[] = [];

  try {
    await Promise.all(
      plans.map((plan) =>
        limit(async () => {
          const started = performance.now();
          const base = path.basename(plan.file);
          try {
            signal?.throwIfAborted();
            let sha256: string;
            let size: number;
            if (await isAlreadyExported(plan)) {
              sha256 = checksums.get(base) ?? (await sha256File(plan.file));
              size = (await stat(plan.file)).size;
              report({
                image: plan.display,
                outcome: 'skipped',
                seconds: seconds(started),
                bytes: size,
                file: base,
                reason: 'already exported with the same digest',
              });
            } else {
              progress.start(plan.display, plan.display, plan.size);
              let written = 0;
              try {
                const archive = await writeImageArchive({
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
                sha256 = archive.sha256;
                size = archive.size;
              } finally {
                progress.finish(plan.display);
              }
              report({
                image: plan.display,
                outcome: 'exported',
                seconds: seconds(started),
                bytes: size,
                file: base,
                digest: plan.image.target.descriptor.digest,
              });
            }
            entries.push({
              reference: plan.display,
              names: plan.image.names,
              digest: plan.image.target.descriptor.digest,
              mediaType: plan.image.target.descriptor.mediaType,
              platforms: plan.platforms,
              file: base,
              size,
              sha256,
              sources: options.sources?.get(plan.display) ?? [],
            });
          } catch (error) {
            report(failure(plan.display, started, error));
          }
        }),
      ),
    );
  } finally {
    await source.dispose();
  }

  const manifest: ImagesJson = {
    generator: 'airlock',
    ...(options.chart ? { chart: options.chart } : {}),
    platforms: options.platforms.map(formatPlatform),
    images: entries,
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
  return { results, manifest };
};
