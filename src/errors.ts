/**
 * Every error Herald answers with, in one catalogue. Known errors become problem+json (RFC 9457)
 * with `type` = `${DOCS_BASE}#<code>`; anything not in here is an internal error and stays opaque.
 * docs/errors.md documents each code; a test keeps the two in sync.
 */
export const ERROR_CATALOGUE = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  invalid_json: { status: 400, title: 'The request body is not valid JSON' },
  malformed_request: { status: 400, title: 'The request is not valid HTTP' },
  unauthorized: { status: 401, title: 'Missing or unknown credentials' },
  forbidden: { status: 403, title: 'The key lacks the role or permission for this call' },
  not_found: { status: 404, title: 'No such resource' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  version_conflict: { status: 409, title: 'The resource has changed since the given version' },
  request_timeout: { status: 408, title: 'The request did not arrive in time' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'The request body must be application/json' },
  quota_exceeded: { status: 429, title: 'The monthly event quota is exhausted' },
  too_many_requests: { status: 429, title: 'Too many requests of this environment are waiting' },
  headers_too_large: { status: 431, title: 'The request headers are too large' },
  internal: { status: 500, title: 'Internal server error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const DOCS_BASE = 'https://herald.dev/errors';

/** One problem inside a request, located by JSON pointer (`/events/3/data/email`). */
export interface FieldProblem {
  path: string;
  message: string;
}

export class HeraldError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(
    readonly code: ErrorCode,
    detail: string,
    readonly errors?: FieldProblem[],
    /** Seconds, sent as `Retry-After` (429 and 503). */
    readonly retryAfterSeconds?: number,
  ) {
    super(detail);
    this.name = 'HeraldError';
    this.status = ERROR_CATALOGUE[code].status;
    this.title = ERROR_CATALOGUE[code].title;
  }
}

export const notFound = (what: string): HeraldError => new HeraldError('not_found', `${what} was not found`);

export const invalid = (detail: string, errors?: FieldProblem[]): HeraldError =>
  new HeraldError('validation_failed', detail, errors);

export const conflict = (detail: string): HeraldError => new HeraldError('conflict', detail);
