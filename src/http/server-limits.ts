/**
 * The HTTP server's limits on time and connections, so that no client can hold the server's
 * sockets, memory or file descriptors without bound (SPEC §7). Defaults assume a reverse proxy or
 * load balancer in front: Herald's keep-alive outlasts the proxy's idle timeout (60 s in nginx and
 * AWS ALB), so the proxy always closes an idle upstream connection first and never sends a request
 * down one Herald is closing; Herald answers a slow request with its own 408 before a proxy's 60 s
 * upstream timeout would turn it into a 504.
 */
import type { Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyHttpOptions } from 'fastify';
import { answerClientError } from './client-error.ts';

export interface HttpLimits {
  /**
   * HERALD_HEADERS_TIMEOUT_MS, default 10000: the request line and headers must arrive within this
   * long, counted from the connection's first moment or the request's first byte. A connection that
   * sends nothing at all in this time is closed without an answer.
   */
  headersTimeoutMs: number;
  /**
   * HERALD_REQUEST_TIMEOUT_MS, default 30000: the whole request, body included, must arrive within
   * this long (408 otherwise). Time spent answering is not counted.
   */
  requestTimeoutMs: number;
  /** HERALD_KEEP_ALIVE_TIMEOUT_MS, default 65000: an idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /**
   * HERALD_SOCKET_TIMEOUT_MS, default 60000: a connection on which no byte moves either way for this
   * long while a request is being received or answered is closed (like nginx's send_timeout: a
   * client that stops reading its answer).
   */
  socketTimeoutMs: number;
  /**
   * HERALD_MAX_REQUESTS_PER_CONNECTION, default 1000 (nginx's keepalive_requests): the answer to the
   * last request carries `connection: close` and the connection ends.
   */
  maxRequestsPerConnection: number;
  /** HERALD_MAX_CONNECTIONS, default 1024: connections beyond this many are closed as soon as accepted. */
  maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  socketTimeoutMs: 60_000,
  maxRequestsPerConnection: 1000,
  maxConnections: 1024,
});

/**
 * How often Node looks for requests past their header or request timeout. Node checks on an
 * interval (30 s by default), so a timeout is only enforced to within one interval: a quarter of
 * the shorter timeout, at most 1 s, keeps the overshoot small at a negligible cost.
 */
export function connectionsCheckingIntervalMs(limits: HttpLimits): number {
  const shorter = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return Math.max(10, Math.min(1000, Math.floor(shorter / 4)));
}

/**
 * The Fastify options that carry the limits. Fastify sets the server's requestTimeout,
 * keepAliveTimeout, maxRequestsPerSocket and (as connectionTimeout) its socket timeout itself;
 * headersTimeout and the checking interval exist only as node:http server options, given through
 * `http` (with requestTimeout again, because Node refuses a headersTimeout above the requestTimeout
 * it is constructed with).
 */
export function serverOptionsFor(limits: HttpLimits): Pick<
  FastifyHttpOptions<Server>,
  'requestTimeout' | 'connectionTimeout' | 'keepAliveTimeout' | 'maxRequestsPerSocket' | 'http' | 'clientErrorHandler'
> {
  return {
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.socketTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerConnection,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: connectionsCheckingIntervalMs(limits),
    },
    clientErrorHandler: answerClientError,
  };
}

const DROP_WARNING_INTERVAL_MS = 60_000;

/** Node sets this on the response to a connection's last allowed request; @types/node omits it. */
type LastAnswer = ServerResponse & { maxRequestsOnConnectionReached?: boolean };

/**
 * The limits Fastify has no option for. Caps concurrent connections (a net.Server setting); refused
 * connections are logged as one warning a minute at most, so a flood does not also flood the log.
 * And ends a connection after the last request it may carry: Node 20 announces `connection: close`
 * on that answer but keeps the socket open until the keep-alive timeout; the header set explicitly
 * makes Node close the socket once the answer is written.
 */
export function applyConnectionLimits(server: Server, limits: HttpLimits, log: FastifyBaseLogger): void {
  server.maxConnections = limits.maxConnections;
  let refused = 0;
  let lastWarning = 0;
  server.on('drop', () => {
    refused++;
    const now = Date.now();
    if (now - lastWarning < DROP_WARNING_INTERVAL_MS) return;
    log.warn({ maxConnections: limits.maxConnections, refused }, 'connection cap reached; refusing connections');
    lastWarning = now;
    refused = 0;
  });
  server.prependListener('request', (_request, response: LastAnswer) => {
    if (response.maxRequestsOnConnectionReached) response.setHeader('connection', 'close');
  });
}
