import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { LimitFunction } from 'p-limit';
import { type ArchiveDocuments, type ArchiveSummary, openVerifiedTar } from '../archive/index.ts';
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

/** An archive that passed every check made before a byte of it reaches the runtime. */
export interface PendingArchive {
  name: string;
  file: string;
  /** From SHA256SUMS; undefined only when the operator allowed unverified imports. */
  sha256: string | undefined;
  bytes: number;
  summary: ArchiveSummary;
}

/** What one archive's stream is checked with: its sha256, and the allowlist once every byte checked out. */
export const verifyOptions = (run: ArchiveRun, pending: PendingArchive) => ({
  ...(pending.sha256 ? { sha256: pending.sha256 } : {}),
  approve: (_summary: ArchiveSummary, documents: ArchiveDocuments) =>
    checkArchiveNames(pending.file, createdNames(pending.file, documents), run.allowlist),
  ...(run.afterFirstChunk ? { afterFirstChunk: () => run.afterFirstChunk!(pending.file) } : {}),
});

export const importOptions = (run: ArchiveRun, archives: number) => ({
  timeoutMs: run.timeoutMs * archives,
  ...(run.signal ? { signal: run.signal } : {}),
});

/**
 * One pass: the file is opened once and streamed into the runtime while it is checked; the entries that name
 * images are held back until the file's sha256, every blob, every reference and every name checked out.
 */
const streamIntoRuntime = async (run: ArchiveRun, pending: PendingArchive) => {
  const { tar, verified } = await openVerifiedTar(pending.file, verifyOptions(run, pending));
  const imported = await run.runtime.importTar(tar, importOptions(run, 1));
  return { summary: await verified, reported: new Set(imported.names) };
};

/** The names the runtime did not report creating and does not list either: one listing for them all. */
const missingNames = async (
  run: ArchiveRun,
  names: readonly string[],
  reported: ReadonlySet<string>,
): Promise<Set<string>> => {
  // The runtime's own report usually names everything it created; a listing grows with the node's images.
  const unreported = names.filter((imageName) => !reported.has(imageName));
  if (unreported.length === 0) return new Set();
  const after = indexRuntimeImages(await withRetries(() => run.runtime.listImages(unreported), run));
  return new Set(unreported.filter((imageName) => !after.has(imageName)));
};

/** Pins what the runtime took in and confirms each archive's names: one call of each for the whole stream. */
export const finishImported = async (
  run: ArchiveRun,
  done: ReadonlyArray<{ pending: PendingArchive; summary: ArchiveSummary }>,
  reported: ReadonlySet<string>,
  started: number,
): Promise<ImageResult[]> => {
  const namesOf = done.map(({ pending, summary }) => {
    warnUnnamed(run, pending.name, summary);
    return summary.images.flatMap((image) => expectedNames(image, run.runtime.kind));
  });
  const all = namesOf.flat();
  let missing: Set<string>;
  try {
    if (run.runtime.kind === 'containerd' && all.length > 0)
      await withRetries(() => run.runtime.pin(all), run);
    missing = await missingNames(run, all, reported);
  } catch (error) {
    return done.map(({ pending }) => failedResult(pending.name, started, error));
  }
  return done.map(({ pending }, position): ImageResult => {
    const names = namesOf[position]!;
    const lacking = names.filter((imageName) => missing.has(imageName));
    if (lacking.length === 0) {
      const { name, bytes } = pending;
      return { image: name, outcome: 'imported', seconds: secondsSince(started), bytes, names };
    }
    const error = new AirlockError(
      'ARCHIVE_CORRUPT',
      `imported, but the runtime has no image named ${lacking.join(', ')}`,
      { subject: pending.name },
    );
    return failedResult(pending.name, started, error);
  });
};

/**
 * Skips an archive whose every name is already on this content, refuses one SHA256SUMS or the allowlist does
 * not admit, or hands it back to be imported. Never throws: its failure is a result like any other.
 */
export const prepareArchive = async (
  run: ArchiveRun,
  name: string,
): Promise<ImageResult | PendingArchive> => {
  const started = performance.now();
  try {
    run.signal?.throwIfAborted();
    const sha256 = expectedChecksum(run, name);
    const file = path.join(run.dir, name);
    const bytes = (await stat(file)).size;
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
    checkArchiveNames(file, namesOfSummary(summary), run.allowlist);
    return { name, file, sha256, bytes, summary };
  } catch (error) {
    return failedResult(name, started, error);
  }
};

/** Imports one archive in a stream of its own, retried when the runtime was unreachable. */
export const importAlone = async (run: ArchiveRun, pending: PendingArchive): Promise<ImageResult[]> => {
  let started = performance.now();
  try {
    const done = await run.importing(() => {
      // Time spent waiting for the runtime to finish the previous archive is not this archive's.
      started = performance.now();
      return withRetries(() => streamIntoRuntime(run, pending), run);
    });
    return await finishImported(run, [{ pending, summary: done.summary }], done.reported, started);
  } catch (error) {
    return [failedResult(pending.name, started, error)];
  }
};
