import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { LimitFunction } from 'p-limit';
import { type ArchiveSummary, openVerifiedTar } from '../archive/index.ts';
import { AirlockError } from '../errors.ts';
import type { Logger } from '../report/log.ts';
import { failedResult, type ImageResult, secondsSince } from '../report/results.ts';
import { withRetries } from '../retry.ts';
import type { ContainerRuntime, RuntimeImage } from '../runtime/index.ts';
import type { ImageAllowlist } from './allowlist.ts';
import { checkArchiveNames, createdNames, namesOfSummary } from './policy.ts';
import { expectedNames, indexRuntimeImages, isPresent } from './present.ts';

/** What every archive of one run shares. */
export interface ArchiveRun {
  dir: string;
  runtime: ContainerRuntime;
  logger: Logger;
  retries: number;
  /** Per archive, in milliseconds. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** SHA256SUMS; undefined only when the operator allowed unverified imports. */
  checksums: ReadonlyMap<string, string> | undefined;
  allowlist: ImageAllowlist;
  /** The node's images under the names the archives hold, listed once for the run. */
  present: ReadonlyMap<string, RuntimeImage>;
  summaries: ReadonlyMap<string, Promise<ArchiveSummary>>;
  /** Runtime slots: one archive streams into the runtime per slot. */
  importing: LimitFunction;
  /** Test seam: runs after the first chunk of an archive was read from its open descriptor. */
  afterFirstChunk?: (file: string) => Promise<void>;
}

/** The archive's expected sha256; throws for one SHA256SUMS does not list (an earlier export's, or a stray). */
const expectedChecksum = (run: ArchiveRun, name: string): string | undefined => {
  if (!run.checksums) return undefined;
  const expected = run.checksums.get(name);
  if (expected !== undefined) return expected;
  throw new AirlockError(
    'NOT_ALLOWED',
    `${path.join(run.dir, name)}: refused: not listed in SHA256SUMS (left from an earlier export, or copied in by hand) — remove it, or export again so SHA256SUMS lists it`,
  );
};

const warnUnnamed = (run: ArchiveRun, name: string, summary: ArchiveSummary): void => {
  if (run.runtime.kind !== 'docker') return;
  for (const image of summary.images) {
    if (expectedNames(image, 'docker').length > 0) continue;
    run.logger.warn(
      `${name}: Docker cannot name an image by digest from an archive: ${image.names.join(', ')} goes in as image ${image.configDigest ?? '(no ID)'} without a name — pods on this node that reference it by digest will try to pull it; reference it by tag, or use containerd`,
    );
  }
};

/**
 * One pass: the file is opened once and streamed into the runtime while it is checked; the entries that name
 * images are held back until the file's sha256, every blob, every reference and every name checked out.
 */
const streamIntoRuntime = async (run: ArchiveRun, name: string, sha256: string | undefined) => {
  const file = path.join(run.dir, name);
  const { tar, verified } = await openVerifiedTar(file, {
    ...(sha256 ? { sha256 } : {}),
    approve: (_summary, documents) => checkArchiveNames(file, createdNames(file, documents), run.allowlist),
    ...(run.afterFirstChunk ? { afterFirstChunk: () => run.afterFirstChunk!(file) } : {}),
  });
  const imported = await run.runtime.importTar(tar, {
    timeoutMs: run.timeoutMs,
    ...(run.signal ? { signal: run.signal } : {}),
  });
  return { summary: await verified, reported: new Set(imported.names) };
};

/**
 * The runtime's own report usually names everything it created; listing every image on the node after each
 * archive would cost a call that grows with the node's image count.
 */
const confirmNames = async (
  run: ArchiveRun,
  name: string,
  names: readonly string[],
  reported: ReadonlySet<string>,
) => {
  let missing = names.filter((imageName) => !reported.has(imageName));
  if (missing.length > 0) {
    const after = indexRuntimeImages(await withRetries(() => run.runtime.listImages(missing), run));
    missing = missing.filter((imageName) => !after.has(imageName));
  }
  if (missing.length > 0) {
    throw new AirlockError(
      'ARCHIVE_CORRUPT',
      `imported, but the runtime has no image named ${missing.join(', ')}`,
      { subject: name },
    );
  }
};

/** Imports one archive, or skips or refuses it; never throws: its failure is a result like any other. */
export const importArchive = async (run: ArchiveRun, name: string): Promise<ImageResult> => {
  let started = performance.now();
  try {
    run.signal?.throwIfAborted();
    const sha256 = expectedChecksum(run, name);
    const bytes = (await stat(path.join(run.dir, name))).size;
    const summary = await run.summaries.get(name)!;
    // Every name already on this content changes nothing, whatever the release lists: in image mode the
    // importer's own archive sits beside the others, loaded by hand before the first install.
    if (isPresent(summary.images, run.present, run.runtime.kind)) {
      const names = summary.images.flatMap((image) => expectedNames(image, run.runtime.kind));
      return {
        image: name,
        outcome: 'skipped',
        seconds: secondsSince(started),
        bytes,
        reason: 'already present with the same digest',
        names,
      };
    }
    // An early look at the names: a hostile archive is refused before a byte of it reaches the runtime.
    checkArchiveNames(path.join(run.dir, name), namesOfSummary(summary), run.allowlist);
    const done = await run.importing(() => {
      // Time spent waiting for the runtime to finish the previous archive is not this archive's.
      started = performance.now();
      return withRetries(() => streamIntoRuntime(run, name, sha256), run);
    });
    warnUnnamed(run, name, done.summary);
    const names = done.summary.images.flatMap((image) => expectedNames(image, run.runtime.kind));
    // Pinning and confirming the names run beside the next archive's import.
    if (run.runtime.kind === 'containerd' && names.length > 0)
      await withRetries(() => run.runtime.pin(names), run);
    await confirmNames(run, name, names, done.reported);
    return { image: name, outcome: 'imported', seconds: secondsSince(started), bytes, names };
  } catch (error) {
    return failedResult(name, started, error);
  }
};
