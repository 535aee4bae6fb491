import { AirlockError, type AirlockErrorOptions } from '../errors.ts';

/** The archive is not what it claims to be: truncated, hostile, or not an image archive at all. */
export class ArchiveCorruptError extends AirlockError {
  constructor(reason: string, options?: AirlockErrorOptions) {
    super('ARCHIVE_CORRUPT', reason, options);
    this.name = 'ArchiveCorruptError';
  }
}

/** The whole file does not match the sha256 recorded for it in SHA256SUMS. */
export class ChecksumMismatchError extends AirlockError {
  readonly expected: string;
  readonly actual: string;

  constructor(file: string, expected: string, actual: string) {
    super(
      'CHECKSUM_MISMATCH',
      `sha256 is ${actual}, SHA256SUMS expects ${expected} — the file changed or was damaged in transit; copy it again from the export`,
      { subject: file },
    );
    this.name = 'ChecksumMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** The runtime stopped reading before this archive was read whole: none of its names were created. */
export class ImportStoppedError extends ArchiveCorruptError {
  constructor(file: string) {
    super(`${file}: the import stopped before the archive was read`);
    this.name = 'ImportStoppedError';
  }
}
