/**
 * Errors Node's HTTP parser and timeouts report before (or instead of) a request reaching Fastify:
 * headers too large, a malformed request or content-length, a request that did not arrive in time.
 * Fastify hands these to `clientErrorHandler` with the raw socket; the answer is written straight
 * onto it as problem+json like every other error, then the connection is closed.
 */
import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyInstance } from 'fastify';
import { HeraldError } from '../errors.ts';
import { problemOf } from './problem.ts';

/** Details for the parser codes a client is most likely to meet; any other gets a generic one. */
const PARSER_DETAILS: Record<string, string> = {
  HPE_INVALID_CONTENT_LENGTH: 'the content-length header is not a valid number',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'the request has more than one content-length header',
  HPE_INVALID_TRANSFER_ENCODING:
    'the transfer-encoding header is not valid, or is sent together with content-length',
  HPE_INVALID_EOF_STATE:
    'the connection was closed before the whole request arrived (a body shorter than its content-length)',
  HPE_INVALID_METHOD:
    'the request does not start with a valid method ' +
    '(bytes after a body longer than its content-length are read as a new request)',
};

/** The problem to answer for a client error, or null when nothing should be written. */
export function clientErrorProblem(error: ConnectionError): HeraldError | null {
  switch (error.code) {
    case 'ECONNRESET':
      return null;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HeraldError('request_timeout', 'the request did not arrive completely within the time allowed');
    case 'HPE_HEADER_OVERFLOW':
      return new HeraldError(
        'headers_too_large',
        `the request line and headers are larger than ${maxHeaderSize} bytes`,
      );
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new HeraldError('payload_too_large', 'the chunk extensions of the body are too large');
    default:
      return new HeraldError(
        'malformed_request',
        PARSER_DETAILS[error.code] ?? `the request is not valid HTTP/1.1 (${error.code ?? 'unknown error'})`,
      );
  }
}

/** The whole raw HTTP/1.1 answer: status line, headers with the body's byte length, body. */
export function rawProblemResponse(problem: HeraldError): string {
  const body = JSON.stringify(problemOf(problem));
  return (
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}\r\n` +
    'content-type: application/problem+json\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'connection: close\r\n' +
    '\r\n' +
    body
  );
}

/** True when the socket's current response has already started: writing more would corrupt it. */
function answerAlreadyStarted(socket: Socket): boolean {
  // `_httpMessage` is the response Node has attached to the socket; Node's own fallback handler
  // makes the same check before writing its bare error answers.
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  return Boolean(current?.headersSent);
}

/**
 * Fastify's clientErrorHandler (called with the instance as `this`). Logs the parser code only: the
 * error also carries the raw bytes received, which may hold an API key.
 */
export function answerClientError(this: FastifyInstance, error: ConnectionError, socket: Socket): void {
  if (socket.destroyed) return;
  const problem = clientErrorProblem(error);
  if (problem === null) {
    socket.destroy();
    return;
  }
  this.log.debug({ code: error.code, status: problem.status }, 'client error');
  // A connection that has sent nothing yet and timed out has no request to answer; a 408 written
  // now could be read by the client as the answer to a request it is about to send.
  const silent = problem.code === 'request_timeout' && socket.bytesRead === 0;
  if (!silent && socket.writable && !answerAlreadyStarted(socket)) socket.write(rawProblemResponse(problem));
  socket.destroy();
}
