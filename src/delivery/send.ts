/**
 * One HTTP attempt (SPEC §5): POST, bounded by the subscription's timeout from connect to the
 * last byte kept, no redirects, only the first 4 KiB of the answer kept. Every connect goes
 * through the URL guard's lookup, so DNS rebinding cannot reach private addresses.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { Agent } from 'undici';
import { BLOCKED_URL_CODE, checkLiteralHost, checkUrlSyntax, guardedConnectLookup, type Lookup } from './url-guard.ts';

/** Bytes of a response body kept for the attempt log. */
export const RESPONSE_BODY_LIMIT = 4096;

/**
 * Bytes of a response body read and thrown away after the kept part so the connection can be
 * reused; a longer body closes the connection instead, which is cheaper than reading it.
 */
export const RESPONSE_DISCARD_LIMIT = 64 * 1024;

export type SendErrorKind = 'timeout' | 'dns' | 'refused' | 'tls' | 'network' | 'blocked_url';

export type SendResult =
  | {
      kind: 'response';
      status: number;
      /** Lower-case names; repeated headers joined with ", ". */
      headers: Record<string, string>;
      /** The first 4096 bytes of the body as UTF-8 text (a character cut in half is dropped). */
      body: string;
      durationMs: number;
    }
  | { kind: 'error'; errorKind: SendErrorKind; message: string; durationMs: number };

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The whole attempt: connect, request, response headers and the kept body. */
  timeoutMs: number;
}

export interface SenderOptions {
  /** HERALD_ALLOW_PRIVATE_URLS: when true, the URL guard lets private addresses through. */
  allowPrivateUrls: boolean;
  /** Name resolution for every connect. Default: the system resolver (`dns.lookup`). */
  lookup?: Lookup;
  /** Keep-alive connections per origin. Default 64. */
  connectionsPerOrigin?: number;
  /** Sent as `user-agent` unless the request's headers carry one. */
  userAgent: string;
}

class AttemptTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`no complete response within ${timeoutMs} ms`);
    this.name = 'AttemptTimeout';
  }
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_NODATA', 'EAI_FAIL']);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|ERR_OSSL_|EPROTO$)/;

// Errors arrive wrapped (cause) or grouped (AggregateError from happy-eyeballs), so look at all.
function codesOf(error: unknown, seen = new Set<unknown>()): string[] {
  if (error === null || typeof error !== 'object' || seen.has(error)) return [];
  seen.add(error);
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  const own = typeof code === 'string' ? [code] : [];
  const nested = Array.isArray(errors) ? errors.flatMap((e) => codesOf(e, seen)) : [];
  return [...own, ...codesOf(cause, seen), ...nested];
}

/** Sorts a failed attempt into the kinds the attempt log shows (SPEC §4 Logs). */
export function errorKindOf(error: unknown): SendErrorKind {
  const codes = codesOf(error);
  if (codes.includes(BLOCKED_URL_CODE)) return 'blocked_url';
  if (codes.some((c) => TIMEOUT_CODES.has(c))) return 'timeout';
  if (codes.some((c) => DNS_CODES.has(c))) return 'dns';
  if (codes.includes('ECONNREFUSED')) return 'refused';
  if (codes.some((c) => TLS_CODE.test(c))) return 'tls';
  if (/\b(SSL|TLS|certificate)\b/i.test((error as Error)?.message ?? '')) return 'tls';
  return 'network';
}

function messageOf(error: unknown): string {
  const err = error as { message?: string; code?: string; errors?: unknown[] };
  const inner = Array.isArray(err.errors) && err.errors.length > 0 ? (err.errors[0] as Error) : null;
  const message = (err.message || inner?.message || String(error)).trim();
  if (!err.code || err.code === BLOCKED_URL_CODE || message.includes(err.code)) return message;
  return `${err.code}: ${message}`;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** Keeps the first `keep` bytes, discards up to `discard` more, then gives up on the connection. */
function readHead(body: Readable, keep: number, discard: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let seen = 0;
    const done = () => {
      body.off('data', onData);
      body.off('end', done);
      body.off('error', reject);
      body.on('error', () => undefined);
      resolve(Buffer.concat(kept));
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (keptBytes < keep) {
        const part = chunk.subarray(0, keep - keptBytes);
        kept.push(part);
        keptBytes += part.length;
      }
      if (seen > keep + discard) {
        done();
        body.destroy();
      }
    };
    body.on('data', onData);
    body.once('end', done);
    body.once('error', reject);
  });
}

/**
 * Makes delivery attempts over a shared keep-alive connection pool. One per process; `close()`
 * on shutdown.
 */
export class Sender {
  readonly #agent: Agent;
  readonly #allowPrivate: boolean;
  readonly #userAgent: string;

  constructor(options: SenderOptions) {
    this.#allowPrivate = options.allowPrivateUrls;
    this.#userAgent = options.userAgent;
    this.#agent = new Agent({
      connections: options.connectionsPerOrigin ?? 64,
      connect: {
        lookup: guardedConnectLookup(options.allowPrivateUrls, options.lookup),
        // undici's own 10 s connect limit would cut attempts short of a 30 s timeoutMs; the
        // per-attempt abort in send() is the real bound.
        timeout: 30_000,
      },
    });
  }

  async send(request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const fail = (errorKind: SendErrorKind, message: string): SendResult => ({
      kind: 'error',
      errorKind,
      message,
      durationMs: elapsed(),
    });

    const syntax = checkUrlSyntax(request.url);
    if (syntax !== null) return fail('blocked_url', `URL ${syntax}`);
    const url = new URL(request.url);
    // Connects to IP literals skip the lookup, so the guard has to see them here.
    const literal = checkLiteralHost(url, this.#allowPrivate);
    if (literal !== null) return fail('blocked_url', literal);

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new AttemptTimeout(request.timeoutMs));
    }, request.timeoutMs);
    try {
      const response = await this.#agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: Object.keys(request.headers).some((name) => name.toLowerCase() === 'user-agent')
          ? request.headers
          : { 'user-agent': this.#userAgent, ...request.headers },
        body: request.body,
        signal: controller.signal,
        // Backstops only: the abort above already bounds the whole attempt.
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
      const head = await readHead(response.body, RESPONSE_BODY_LIMIT, RESPONSE_DISCARD_LIMIT);
      return {
        kind: 'response',
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        // StringDecoder.write holds back a trailing partial character instead of mangling it.
        body: new StringDecoder('utf8').write(head),
        durationMs: elapsed(),
      };
    } catch (error) {
      if (timedOut) return fail('timeout', `no complete response within ${request.timeoutMs} ms`);
      return fail(errorKindOf(error), messageOf(error));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes idle connections and waits for requests in flight. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}
