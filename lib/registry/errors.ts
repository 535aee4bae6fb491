import { AirlockError, type AirlockErrorOptions } from '../errors.ts';
import type { Platform } from '../oci/index.ts';

/** The registry refused us (401/403 after following its challenge), or wants credentials we do not have. */
export class AuthDeniedError extends AirlockError {
  constructor(reason: string, options?: AirlockErrorOptions) {
    super('AUTH_DENIED', reason, options);
    this.name = 'AuthDeniedError';
  }
}

/** The registry has no such repository, tag, manifest or blob. */
export class NotFoundError extends AirlockError {
  constructor(reason: string, options?: AirlockErrorOptions) {
    super('NOT_FOUND', reason, options);
    this.name = 'NotFoundError';
  }
}

export class PlatformMissingError extends AirlockError {
  readonly missing: Platform[];
  readonly available: Platform[];

  constructor(reason: string, missing: Platform[], available: Platform[], options?: AirlockErrorOptions) {
    super('PLATFORM_MISSING', reason, options);
    this.name = 'PlatformMissingError';
    this.missing = missing;
    this.available = available;
  }
}

/** The connection failed, or the registry kept answering 429/5xx until the retry budget ran out. */
export class NetworkError extends AirlockError {
  readonly host: string;

  constructor(host: string, reason: string, options?: AirlockErrorOptions) {
    super('NETWORK', reason, options);
    this.name = 'NetworkError';
    this.host = host;
  }
}

/** No bytes arrived for the stall timeout, on every attempt. */
export class TimeoutError extends AirlockError {
  readonly host: string;

  constructor(host: string, reason: string, options?: AirlockErrorOptions) {
    super('TIMEOUT', reason, options);
    this.name = 'TimeoutError';
    this.host = host;
  }
}

/** The registry answered something this client cannot use (schema 1, an unexpected status, a huge manifest). */
export class RegistryProtocolError extends AirlockError {
  constructor(reason: string, options?: AirlockErrorOptions) {
    super('UNSUPPORTED', reason, options);
    this.name = 'RegistryProtocolError';
  }
}
