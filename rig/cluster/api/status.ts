// Errors the API server answers with, as metav1.Status objects: clients (kubectl, Helm) read `reason` and
// `code` to tell "not found" from "conflict" from "invalid", so every failure goes through here.

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'UnsupportedMediaType'
  | 'Gone'
  | 'Expired'
  | 'InternalError'
  | 'NotImplemented';

const CODES: Record<StatusReason, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  UnsupportedMediaType: 415,
  Gone: 410,
  Expired: 410,
  InternalError: 500,
  NotImplemented: 501,
};

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason?: string; message: string; field?: string }[];
}

export class ApiError extends Error {
  readonly code: number;

  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = CODES[reason];
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason === 'NotImplemented' ? 'NotImplemented' : this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export const notFound = (_kind: string, resource: string, group: string, name: string): ApiError =>
  new ApiError('NotFound', `${group ? `${resource}.${group}` : resource} "${name}" not found`, {
    name,
    group,
    kind: resource,
  });

export const invalid = (kind: string, name: string, causes: { field: string; message: string }[]): ApiError =>
  new ApiError(
    'Invalid',
    `${kind} "${name}" is invalid: ${causes.map((cause) => `${cause.field}: ${cause.message}`).join(', ')}`,
    { name, kind, causes: causes.map((cause) => ({ reason: 'FieldValueInvalid', ...cause })) },
  );

export const successStatus = (details: StatusDetails): Record<string, unknown> => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Success',
  details,
});
