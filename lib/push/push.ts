import { join } from 'node:path';
import pLimit from 'p-limit';
import { AirlockError, type ErrorCode, isAirlockError } from '../errors.ts';
import type { Descriptor } from '../oci/index.ts';
import type { RegistryUploader } from '../registry/index.ts';
import type { Logger } from '../report/log.ts';
import type { Progress } from '../report/progress.ts';
import { formatResultLine, type ImageResult } from '../report/results.ts';
import { type IndexedArchive, indexArchive } from './archive.ts';
import { type BlobLedger, blobPresent, putBlob } from './blobs.ts';
import { type NameMapping, type RegistryTarget, type TargetName, targetName } from './names.ts';
import { type PushImage, planArchive } from './plan.ts';
import { BlobSources } from './sources.ts';

/** One name written in the target registry, for the printed mapping and `--json`. */
export interface PushedName {
  archive: string;
  source: string;
  target: string;
  digest: string;
}

export interface PushArchivesOptions {
  dir: string;
  archives: readonly string[];
  /** SHA256SUMS; undefined only with allowUnverified. */
  checksums: ReadonlyMap<string, string> | undefined;
  allowUnverified: boolean;
  uploader: RegistryUploader;
  target: RegistryTarget;
  mappings: readonly NameMapping[];
  ledger: BlobLedger;
  concurrency: number;
  logger: Logger;
  progress: Progress;
  signal?: AbortSignal;
}

export interface PushReport {
  results: ImageResult[];
  names: PushedName[];
  /** Blobs sent as bytes (not skipped, not mounted), for the summary line. */
  uploadedBlobs: number;
}

const BLOB_CONCURRENCY = 4;

interface ImageWork {
  archive: IndexedArchive;
  image: PushImage;
  targets: TargetName[];
  uploaded: number;
  uploadedBytes: number;
  wrote: boolean;
}

/** Every (repository, blob) the registry lacked when asked (the ledger, else a HEAD), grouped by digest. */
const missingBlobs = async (work: ImageWork, options: PushArchivesOptions, repositories: string[]) => {
  const { uploader, ledger, signal } = options;
  const limit = pLimit(BLOB_CONCURRENCY);
  const uploads = new Map<string, { repository: string; descriptor: Descriptor }[]>();
  const checks: Promise<void>[] = [];
  for (const repository of repositories) {
    const seen = new Set<string>();
    for (const manifest of work.image.manifests) {
      for (const descriptor of manifest.blobs) {
        if (seen.has(descriptor.digest)) continue;
        seen.add(descriptor.digest);
        checks.push(
          limit(async () => {
            if (await blobPresent(uploader, ledger, repository, descriptor.digest, signal)) return;
            uploads.set(descriptor.digest, [
              ...(uploads.get(descriptor.digest) ?? []),
              { repository, descriptor },
            ]);
          }),
        );
      }
    }
  }
  await Promise.all(checks);
  return uploads;
};

/** Puts each missing blob into every repository lacking it: sent once, mounted into the others. */
const sendBlobs = async (
  work: ImageWork,
  options: PushArchivesOptions,
  uploads: Map<string, { repository: string; descriptor: Descriptor }[]>,
) => {
  if (uploads.size === 0) return;
  const { uploader, ledger, progress, signal } = options;
  const sources = new BlobSources(work.archive, signal);
  try {
    // A blob the run already put in another repository is mounted from there, and extracted only if that is declined.
    const mountable = (digest: string, targets: { repository: string }[]) =>
      targets.every(({ repository }) => ledger.elsewhere(digest, repository) !== undefined);
    await sources.prepare(
      [...uploads].filter(([digest, targets]) => !mountable(digest, targets)).map(([digest]) => digest),
    );
    const limit = pLimit(BLOB_CONCURRENCY);
    await Promise.all(
      [...uploads].map(([digest, targets]) =>
        limit(async () => {
          for (const { repository, descriptor } of targets) {
            const id = `${repository}@${digest}`;
            progress.start(id, `${repository}@${digest.slice(7, 19)}`, descriptor.size);
            const outcome = await putBlob(
              uploader,
              ledger,
              repository,
              descriptor,
              () => sources.get(digest),
              {
                ...(signal ? { signal } : {}),
                onBytes: (bytes) => progress.advance(id, bytes),
              },
            ).finally(() => progress.finish(id));
            if (outcome === 'present') continue;
            work.wrote = true;
            if (outcome === 'mounted') continue;
            work.uploaded += 1;
            work.uploadedBytes += descriptor.size;
          }
        }),
      ),
    );
  } finally {
    await sources.close();
  }
};

/** Children by digest, then the top by digest, then the tags: a tag only ever names complete content. */
const putManifests = async (work: ImageWork, options: PushArchivesOptions, incomplete: string[]) => {
  const { uploader, signal } = options;
  const { top } = work.image;
  for (const repository of incomplete) {
    for (const manifest of work.image.manifests) {
      if (manifest.digest === top.digest) continue;
      await uploader.putManifest(repository, manifest.digest, manifest, signal);
    }
    try {
      await uploader.putManifest(repository, top.digest, top, signal);
    } catch (error) {
      if (work.image.missingChildren === 0 || !isAirlockError(error)) throw error;
      throw new AirlockError(
        error.code,
        `${error.message} — the archive holds ${work.image.manifests.length} of the index's ${work.image.manifests.length + work.image.missingChildren} platforms and this registry wants all of them; export with every platform of the image`,
        { cause: error },
      );
    }
    work.wrote = true;
  }
  for (const target of work.targets) {
    if (!target.tag) continue;
    if ((await uploader.manifestDigest(target.repository, target.tag, signal)) === top.digest) continue;
    await uploader.putManifest(target.repository, target.tag, top, signal);
    work.wrote = true;
  }
};

/** Reads every pushed manifest back by digest and compares it with the archive's bytes. */
const readBack = async (work: ImageWork, options: PushArchivesOptions, repositories: string[]) => {
  for (const repository of repositories) {
    const served = await options.uploader.readManifest(repository, work.image.top.digest);
    if (!served.bytes.equals(work.image.top.bytes)) {
      throw new AirlockError('DIGEST_MISMATCH', 'the registry serves other bytes than were pushed', {
        subject: `${options.target.host}/${repository}@${work.image.top.digest}`,
      });
    }
  }
};

const pushImage = async (work: ImageWork, options: PushArchivesOptions): Promise<void> => {
  const repositories = [...new Set(work.targets.map((target) => target.repository))];
  const present = await Promise.all(
    repositories.map(
      async (repository) =>
        (await options.uploader.manifestDigest(repository, work.image.top.digest, options.signal)) ===
        work.image.top.digest,
    ),
  );
  // A manifest the registry accepted has all its blobs: an unchanged image costs no blob request at all.
  const incomplete = repositories.filter((_, position) => !present[position]);
  try {
    if (incomplete.length > 0) await sendBlobs(work, options, await missingBlobs(work, options, incomplete));
  } catch (error) {
    // A damaged archive makes the registry refuse a blob's digest: SHA256SUMS names the cause better.
    await work.archive.verified;
    throw error;
  }
  // Blobs may go up before the file's checksum is known (the registry checks each digest); names may not.
  await work.archive.verified;
  await putManifests(work, options, incomplete);
  await readBack(work, options, repositories);
};

const failedResult = (image: string, started: number, error: unknown): ImageResult => ({
  image,
  outcome: 'failed',
  seconds: (Date.now() - started) / 1000,
  reason: error instanceof Error ? error.message : String(error),
  code: (isAirlockError(error) ? error.code : 'NETWORK') satisfies ErrorCode,
});

/** Checks, plans and pushes one archive; every image in it gives one result. */
const pushArchive = async (name: string, options: PushArchivesOptions, report: PushReport) => {
  const started = Date.now();
  const record = (result: ImageResult) => {
    report.results.push(result);
    options.logger.info(formatResultLine(result));
  };
  const expected = options.checksums?.get(name);
  if (options.checksums && expected === undefined && !options.allowUnverified) {
    record(
      failedResult(
        name,
        started,
        new AirlockError(
          'CHECKSUM_MISMATCH',
          `${name}: not listed in SHA256SUMS — refusing to push an unverified archive (--allow-unverified pushes it anyway)`,
        ),
      ),
    );
    return;
  }
  let images: PushImage[];
  let archive: IndexedArchive;
  try {
    archive = await indexArchive(join(options.dir, name), {
      ...(expected ? { sha256: expected } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    images = planArchive(archive);
  } catch (error) {
    record(failedResult(name, started, error));
    return;
  }
  for (const image of images) {
    const imageStarted = Date.now();
    let targets: TargetName[] = [];
    try {
      if (image.names.length === 0) {
        throw new AirlockError(
          'BAD_INPUT',
          `${name}: an image in the archive has no name (only a tag in org.opencontainers.image.ref.name?) — name it HOST/REPOSITORY:TAG when saving`,
        );
      }
      targets = image.names.map((source) => targetName(source, options.target, options.mappings));
      const work: ImageWork = { archive, image, targets, uploaded: 0, uploadedBytes: 0, wrote: false };
      await pushImage(work, options);
      for (const target of targets) {
        report.names.push({
          archive: name,
          source: target.source,
          target: target.reference,
          digest: image.top.digest,
        });
      }
      report.uploadedBlobs += work.uploaded;
      record({
        image: targets[0]!.reference,
        outcome: work.wrote ? 'pushed' : 'skipped',
        seconds: (Date.now() - imageStarted) / 1000,
        bytes: work.uploadedBytes,
        file: name,
        digest: image.top.digest,
        names: targets.map((target) => target.reference),
        ...(work.wrote ? {} : { reason: 'already in the registry' }),
      });
    } catch (error) {
      record({ ...failedResult(targets[0]?.reference ?? name, imageStarted, error), file: name });
    }
  }
};

/** Pushes every archive; one archive's failure never stops the others. */
export const pushArchives = async (options: PushArchivesOptions): Promise<PushReport> => {
  const report: PushReport = { results: [], names: [], uploadedBlobs: 0 };
  const limit = pLimit(options.concurrency);
  await Promise.all(
    options.archives.map((name) =>
      limit(() => (options.signal?.aborted ? undefined : pushArchive(name, options, report))),
    ),
  );
  return report;
};
