/**
 * Error codes are stable: the importer's JSON summary and the exporter's images.json carry them,
 * and operators grep logs for them.
 */
export type ErrorCode =
  | 'ARCHIVE_CORRUPT'
  | 'AUTH_DENIED'
  | 'BAD_INPUT'
  | 'CHECKSUM_MISMATCH'
  | 'COMMAND_FAILED'
  | 'DIGEST_MISMATCH'
  | 'DISK_FULL'
  | 'NETWORK'
  | 'NOT_ALLOWED'
  | 'NOT_FOUND'
  | 'OUTPUT_LOCKED'
  | 'PLATFORM_MISSING'
  | 'REFERENCE_INVALID'
  | 'RUNTIME_UNREACHABLE'
  | 'TIMEOUT'
  | 'TOOL_MISSING'
  | 'UNSUPPORTED';

export interface AirlockErrorOptions extends ErrorOptions {
  /** What the error is about (an image, a file, a tool): the line starts with it, and results keep it apart. */
  subject?: string;
}

// A brand shared through the global symbol registry: an exported runtime runs two bundles (its entry file and the
// importer), each with its own copy of this module, and an error one copy raises is described by the other.
const AIRLOCK_ERROR = Symbol.for('airlock.error');

/**
 * Base of every error airlock expects; anything else is a bug and keeps its stack trace. The message is built
 * here from the subject and the reason, so a caller that already names the subject takes the reason alone.
 */
export class AirlockError extends Error {
  readonly code: ErrorCode;
  readonly subject: string | undefined;
  /** The message without its subject. */
  readonly reason: string;

  constructor(code: ErrorCode, reason: string, options?: AirlockErrorOptions) {
    super(options?.subject ? `${options.subject}: ${reason}` : reason, options);
    Object.defineProperty(this, AIRLOCK_ERROR, { value: true });
    this.name = 'AirlockError';
    this.code = code;
    this.subject = options?.subject;
    this.reason = reason;
  }
}

/**
 * Bytes that do not hash to (or are not as long as) the digest that named them, wherever they came from: a
 * registry, a cache, an archive. Never store or import them.
 */
export class DigestMismatchError extends AirlockError {
  readonly expected: string;
  readonly actual: string;

  constructor(reason: string, expected: string, actual: string, options?: AirlockErrorOptions) {
    super('DIGEST_MISMATCH', reason, options);
    this.name = 'DigestMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** Any copy's AirlockError (see AIRLOCK_ERROR), not only this module's. */
export const isAirlockError = (error: unknown): error is AirlockError =>
  typeof error === 'object' && error !== null && AIRLOCK_ERROR in error;

/** One line for a person: the message of an expected error, the stack of a bug. */
export const describeError = (error: unknown): string => {
  if (isAirlockError(error)) return error.message;
  if (error instanceof Error) return error.stack ?? error.message;
  return String(error);
};

/** The line for a result about `subject`: the reason alone when the error is about that same subject. */
export const describeErrorFor = (subject: string, error: unknown): string =>
  isAirlockError(error) && error.subject === subject ? error.reason : describeError(error);

/** Maps Node's system errors to the codes above, so callers see one vocabulary. */
export const codeOfSystemError = (error: unknown): ErrorCode | undefined => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'DISK_FULL';
    case 'ENOENT':
      return 'NOT_FOUND';
    case 'ECONNRESET':
    case 'ECONNREFUSED':
    case 'EPIPE':
    case 'ETIMEDOUT':
    case 'EAI_AGAIN':
    case 'ENOTFOUND':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'NETWORK';
    default:
      return undefined;
  }
};

/**
 * Exit codes of the exporter and the push: 0 every image done; 1 some image failed; 2 bad input before any image
 * was tried; 130 interrupted. Here rather than with either command, so the push does not load the exporter.
 */
export const ExitCode = { ok: 0, failed: 1, badInput: 2, interrupted: 130 } as const;
