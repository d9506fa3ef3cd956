/**
 * One HTTP attempt (SPEC §5): POST, bounded by the subscription's timeout from connect to the
 * last byte kept, no redirects, only the first 4 KiB of the answer kept. Every connect goes
 * through the URL guard's lookup, so DNS rebinding cannot reach private addresses.
 */
import { StringDecoder } from 'node:string_decoder';
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

/** What the worker needs of a sender: Sender, or ThreadedSender (threaded-sender.ts). */
export interface AttemptSender {
  send(request: SendRequest): Promise<SendResult>;
  /** Resolves once requests would leave at once (a sender thread that is up and warm). */
  ready?(): Promise<void>;
  /** Waits for attempts in flight, then lets the connections go. */
  close(): Promise<void>;
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
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** Where a URL's requests go, worked out once per URL: parsing and checking it cost more than sending. */
type Target = { kind: 'ok'; origin: string; path: string } | { kind: 'blocked'; message: string };

/** Distinct subscription URLs remembered; past this the map starts over. */
const TARGETS_KEPT = 10_000;

/**
 * Makes delivery attempts over a shared keep-alive connection pool. One per process; `close()`
 * on shutdown.
 */
export class Sender implements AttemptSender {
  readonly #agent: Agent;
  readonly #allowPrivate: boolean;
  readonly #userAgent: string;
  readonly #targets = new Map<string, Target>();

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

  private targetOf(url: string): Target {
    let target = this.#targets.get(url);
    if (target) return target;
    const syntax = checkUrlSyntax(url);
    if (syntax !== null) target = { kind: 'blocked', message: `URL ${syntax}` };
    else {
      const parsed = new URL(url);
      // Connects to IP literals skip the lookup, so the guard has to see them here.
      const literal = checkLiteralHost(parsed, this.#allowPrivate);
      target =
        literal !== null
          ? { kind: 'blocked', message: literal }
          : { kind: 'ok', origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    }
    if (this.#targets.size >= TARGETS_KEPT) this.#targets.clear();
    this.#targets.set(url, target);
    return target;
  }

  /**
   * One attempt, through undici's dispatch API: the request API's body stream, abort signal and
   * promise plumbing cost more CPU per delivery than the HTTP exchange itself. A timer bounds the
   * whole attempt; the first 4 KiB of the answer are kept, up to 64 KiB more read and dropped so
   * the connection can be reused, and a longer answer closes the connection instead.
   */
  send(request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const target = this.targetOf(request.url);
    if (target.kind === 'blocked') {
      return Promise.resolve({ kind: 'error', errorKind: 'blocked_url', message: target.message, durationMs: elapsed() });
    }
    let headers = request.headers;
    if (!('user-agent' in headers) && !Object.keys(headers).some((name) => name.toLowerCase() === 'user-agent')) {
      headers = { 'user-agent': this.#userAgent, ...headers };
    }
    return new Promise<SendResult>((resolve) => {
      let controller: { abort(reason: Error): void } | null = null;
      let finished = false;
      let status = 0;
      let responseHeaders: Record<string, string> = {};
      const kept: Buffer[] = [];
      let keptBytes = 0;
      let seen = 0;
      const finish = (result: SendResult) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        resolve(result);
      };
      const answer = () =>
        finish({
          kind: 'response',
          status,
          headers: responseHeaders,
          // StringDecoder.write holds back a trailing partial character instead of mangling it.
          body: keptBytes === 0 ? '' : new StringDecoder('utf8').write(kept.length === 1 ? (kept[0] as Buffer) : Buffer.concat(kept)),
          durationMs: elapsed(),
        });
      const timer = setTimeout(() => {
        finish({ kind: 'error', errorKind: 'timeout', message: `no complete response within ${request.timeoutMs} ms`, durationMs: elapsed() });
        // Before the request reaches a socket there is nothing to abort yet: onRequestStart does it.
        controller?.abort(new AttemptTimeout(request.timeoutMs));
      }, request.timeoutMs);
      this.#agent.dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: 'POST',
          headers,
          body: request.body,
          // Backstops only: the timer above already bounds the whole attempt.
          headersTimeout: request.timeoutMs,
          bodyTimeout: request.timeoutMs,
        },
        {
          onRequestStart: (ctl) => {
            controller = ctl;
            if (finished) ctl.abort(new AttemptTimeout(request.timeoutMs));
          },
          onResponseStart: (_ctl, statusCode, received) => {
            status = statusCode;
            responseHeaders = flattenHeaders(received);
          },
          onResponseData: (ctl, chunk) => {
            seen += chunk.length;
            if (keptBytes < RESPONSE_BODY_LIMIT) {
              // A copy: the chunk is a view of the socket's read buffer.
              const part = Buffer.from(chunk.subarray(0, RESPONSE_BODY_LIMIT - keptBytes));
              kept.push(part);
              keptBytes += part.length;
            }
            if (seen > RESPONSE_BODY_LIMIT + RESPONSE_DISCARD_LIMIT) {
              // Enough: answer with what was kept, and let the connection go rather than read on.
              answer();
              ctl.abort(new Error('response body too long to read to its end'));
            }
          },
          onResponseEnd: () => answer(),
          onResponseError: (_ctl, error) => {
            if (finished) return;
            finish({ kind: 'error', errorKind: errorKindOf(error), message: messageOf(error), durationMs: elapsed() });
          },
        },
      );
    });
  }

  /** Closes idle connections and waits for requests in flight. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}
