import type { Readable } from 'node:stream';
import { ImageIndex } from '../oci/index.ts';
import { ArchiveCorruptError, ImportStoppedError } from './errors.ts';
import {
  type Checked,
  checkedEntries,
  namingEntries,
  openPass,
  type Pass,
  type Settle,
  settled,
  toRuntimeStream,
  type VerifiedTarOptions,
} from './stream.ts';
import { type ArchiveDocuments, type ArchiveSummary, parseDocument } from './summary.ts';

export interface BatchMember {
  path: string;
  options: Omit<VerifiedTarOptions, 'signal'>;
}

export interface VerifiedBatch {
  /** One uncompressed tar holding every member that checked out, under one index.json naming all their images. */
  tar: Readable;
  /**
   * Per member, in order: resolves once it checked out and its names are in the stream; rejects with its own
   * reason, or with ImportStoppedError when the stream ended before it was read whole or it cannot share one.
   */
  verified: Promise<ArchiveSummary>[];
}

/**
 * Only OCI layouts share a stream: the runtime then resolves every image through index.json by digest, and
 * each blob is stored under the digest of its bytes. Paths never name content, so an archive dropped from the
 * batch after its entries went by cannot stand in for another's.
 */
const requireLayout = (path: string, documents: ArchiveDocuments): void => {
  if (documents.ociLayout && documents.index) return;
  throw new ImportStoppedError(path);
};

/** One index.json listing every member's images, and one layout marker: what names them all at once. */
const mergeDocuments = (members: ReadonlyArray<{ path: string; documents: ArchiveDocuments }>) => {
  const [first] = members;
  if (members.length === 1 && first) return first.documents;
  const indexes = members.map(({ path, documents }) =>
    parseDocument(path, 'index.json', documents.index!, ImageIndex),
  );
  const merged = { ...indexes[0], manifests: indexes.flatMap((index) => index.manifests) };
  return { ociLayout: first?.documents.ociLayout, index: Buffer.from(JSON.stringify(merged)) };
};

/** Each member's entries in turn, then the merged names of those that checked out. */
async function* batchChunks(
  members: readonly BatchMember[],
  settles: readonly Settle[],
  state: { current?: Pass },
): AsyncGenerator<Buffer> {
  const passed: Array<{ path: string; documents: ArchiveDocuments }> = [];
  const passedBlobs = new Set<string>();
  for (const [position, member] of members.entries()) {
    const settle = settles[position]!;
    let checked: Checked;
    try {
      state.current = { ...(await openPass(member.path, member.options)), passedBlobs };
      checked = yield* checkedEntries(state.current);
      requireLayout(member.path, checked.documents);
    } catch (error) {
      settle.reject(error);
      // Cut inside an entry: the stream can no longer be read as a tar, so it ends here, unnamed.
      if (state.current && !state.current.entriesWhole) throw error;
      continue;
    } finally {
      state.current = undefined;
    }
    passed.push({ path: member.path, documents: checked.documents });
    settle.resolve(checked.summary);
  }
  if (passed.length === 0) {
    throw new ArchiveCorruptError(`none of the ${members.length} archives of this import checked out`);
  }
  yield* namingEntries(mergeDocuments(passed));
}

/**
 * Several archives in one import stream, each opened only when its turn comes and verified as it streams,
 * exactly as openVerifiedTar does for one. An archive refused after its last entry (checksum, references,
 * names) leaves the stream whole and is simply not named; one cut inside an entry ends the stream.
 */
export const openVerifiedBatch = (members: readonly BatchMember[], signal?: AbortSignal): VerifiedBatch => {
  const pending = members.map(() => settled());
  const state: { current?: Pass } = {};
  const tar = toRuntimeStream(
    batchChunks(
      members,
      pending.map(({ settle }) => settle),
      state,
    ),
    () => members.map(({ path }, position) => ({ path, settle: pending[position]!.settle })),
    () => void state.current?.handle.close().catch(() => undefined),
    signal,
  );
  return { tar, verified: pending.map(({ promise }) => promise) };
};
