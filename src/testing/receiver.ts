/**
 * Test-only: a real webhook receiver on 127.0.0.1 whose answers a test scripts, and which records
 * every request (headers, raw body, arrival time).
 */
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** Date.now() once the whole body was read. */
  at: number;
  /**
   * When the request's headers arrived, in fractional milliseconds since the epoch
   * (performance.timeOrigin + performance.now()): for timing rules finer than Date.now()'s 1 ms.
   */
  startedAt: number;
  url: string;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (a slow or hanging receiver). */
  delayMs?: number;
}

export type Script = (request: Received, index: number) => Reply;

export class TestReceiver {
  readonly received: Received[] = [];
  private server: Server | null = null;
  private waiters: { count: number; resolve: () => void }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  port = 0;
  /** Requests open now: from their headers' arrival until their response is sent or the connection drops. */
  open = 0;
  /** The most requests ever open at once. */
  maxOpen = 0;

  constructor(private script: Script = () => ({ status: 204 })) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Answers the requests from now on with `script`. */
  answer(script: Script): void {
    this.script = script;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const startedAt = performance.timeOrigin + performance.now();
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      res.once('close', () => {
        this.open--;
      });
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const request: Received = {
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
          startedAt,
          url: req.url ?? '',
        };
        const index = this.received.length;
        this.received.push(request);
        for (const waiter of this.waiters.filter((w) => this.received.length >= w.count)) waiter.resolve();
        this.waiters = this.waiters.filter((w) => this.received.length < w.count);
        const reply = this.script(request, index);
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(reply.status, reply.headers ?? {});
          res.end(reply.body ?? '');
        };
        if (reply.delayMs) {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            send();
          }, reply.delayMs);
          this.timers.add(timer);
        } else send();
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  /** Resolves once `count` requests have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`waited ${timeoutMs} ms for ${count} requests, got ${this.received.length}`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Polls `check` until it returns a value other than undefined/false (or times out). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
