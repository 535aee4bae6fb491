import { openVerifiedTar, type VerifiedTarOptions } from './stream.ts';
import type { ArchiveSummary } from './summary.ts';

export type VerifyArchiveOptions = Omit<VerifiedTarOptions, 'approve' | 'afterFirstChunk'>;

/**
 * One streaming pass that proves an archive is safe and whole: the file's sha256, gzip integrity, every tar
 * entry's path and type, every blob's digest, and every reference resolving inside the archive. The same pass
 * an import streams through (openVerifiedTar), with the bytes dropped instead of handed to a runtime.
 */
export const verifyArchive = async (
  path: string,
  options: VerifyArchiveOptions = {},
): Promise<ArchiveSummary> => {
  const { tar, verified } = await openVerifiedTar(path, options);
  for await (const _chunk of tar) {
    // Drained: only the checks matter here.
  }
  return verified;
};
