/**
 * Every error answer is application/problem+json (RFC 9457). Known errors (HeraldError, request
 * validation, Fastify's body/content-type errors) are mapped here; anything else is logged and
 * answered with an opaque 500.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DOCS_BASE, ERROR_CATALOGUE, type ErrorCode, type FieldProblem, HeraldError } from '../errors.ts';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldProblem[];
}

export function problemOf(error: HeraldError): ProblemBody {
  const body: ProblemBody = {
    type: `${DOCS_BASE}#${error.code}`,
    title: error.title,
    status: error.status,
    detail: error.message,
  };
  if (error.errors && error.errors.length > 0) body.errors = error.errors;
  return body;
}

export function sendProblem(reply: FastifyReply, error: HeraldError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
  return reply.code(error.status).type('application/problem+json').send(JSON.stringify(problemOf(error)));
}

interface AjvLikeError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

const PART_NAMES: Record<string, string> = {
  body: 'request body',
  querystring: 'query string',
  params: 'path',
  headers: 'headers',
};

function fromValidation(error: FastifyError): HeraldError {
  const part = (error as { validationContext?: string }).validationContext ?? 'body';
  const errors = (error.validation as AjvLikeError[]).map((e): FieldProblem => {
    let path = e.instancePath;
    if (e.keyword === 'required') path += `/${String(e.params.missingProperty)}`;
    if (e.keyword === 'additionalProperties') path += `/${String(e.params.additionalProperty)}`;
    const message =
      e.keyword === 'additionalProperties' ? 'is not a known field' : (e.message ?? 'is not valid');
    return { path: part === 'body' ? path || '/' : `${part}:${path || '/'}`, message };
  });
  return new HeraldError('validation_failed', `the ${PART_NAMES[part] ?? part} is not valid`, errors);
}

const FASTIFY_CODES: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['unsupported_media_type', 'send the body as application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['validation_failed', 'the content-length does not match the body'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['invalid_json', 'the body is empty but the content-type says JSON'],
  FST_ERR_CTP_BODY_TOO_LARGE: ['payload_too_large', 'the request body is larger than the limit'],
  FST_ERR_MAX_PARAM_LENGTH: ['validation_failed', 'a path parameter is too long'],
  FST_ERR_BAD_URL: ['validation_failed', 'the URL is not valid (bad percent-encoding)'],
};

/** Maps any thrown error to a HeraldError, or null for an unexpected (internal) one. */
export function toHeraldError(error: unknown): HeraldError | null {
  if (error instanceof HeraldError) return error;
  const e = error as FastifyError;
  if (e.validation) return fromValidation(e);
  const known = e.code ? FASTIFY_CODES[e.code] : undefined;
  if (known) return new HeraldError(known[0], known[1]);
  if (e instanceof SyntaxError && e.statusCode === 400) return new HeraldError('invalid_json', e.message);
  const status = e.statusCode ?? 0;
  if (status >= 400 && status < 500) {
    const code = (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).find((c) => ERROR_CATALOGUE[c].status === status);
    return new HeraldError(code ?? 'validation_failed', e.message);
  }
  return null;
}

export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const known = toHeraldError(error);
  if (known) return sendProblem(reply, known);
  request.log.error({ err: error }, 'internal error');
  return sendProblem(reply, new HeraldError('internal', 'an internal error occurred; it has been logged'));
}
