/**
 * Test-only: HTTP/1.1 over raw node:net sockets, for what a well-behaved client never does: stop
 * halfway through headers or a body, send malformed framing, hold many connections open. Answers
 * are read as Node writes them (content-length framed) into the same shape as test-app's Answer.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import { type Socket, connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Answer } from './test-app.ts';

/** Starts the (already built) app on 127.0.0.1 and a free port; app.close() stops it. */
export async function listenOnLoopback(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the server has no port');
  return address.port;
}

/** Resolves once the server counts at most `count` open connections (fails after `withinMs`). */
export async function waitForConnections(server: Server, count: number, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const open = await new Promise<number>((resolve, reject) =>
      server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
    );
    if (open <= count) return;
    if (Date.now() > deadline) throw new Error(`the server still has ${open} connections, expected ${count}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const [statusLine = '', ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers };
}

const opened = new Set<RawConnection>();

/**
 * Destroys every connection opened so far (for afterEach): a test that fails midway must not leave
 * a half-sent request behind, or closing the app waits on it.
 */
export function destroyAllConnections(): void {
  for (const connection of opened) connection.destroy();
  opened.clear();
}

/** One client connection: write what you like, read answers one by one, see when it closes. */
export class RawConnection {
  readonly openedAt = Date.now();
  /** When the connection closed (ms since opening); null while open. */
  closedAfterMs: number | null = null;
  private buffer = Buffer.alloc(0);
  private readonly closing: Promise<void>;
  private wake: () => void = () => {};

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    // A refused or reset connection is what some tests expect: it shows up as closed.
    socket.on('error', () => {});
    this.closing = once(socket, 'close').then(() => {
      this.closedAfterMs = Date.now() - this.openedAt;
      this.wake();
    });
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = connect(port, '127.0.0.1');
    const connection = new RawConnection(socket);
    opened.add(connection);
    await once(socket, 'connect');
    return connection;
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Writes `data` one byte every `everyMs` until it is all sent or the connection closes. */
  drip(data: string, everyMs: number): void {
    let i = 0;
    const timer = setInterval(() => {
      if (i >= data.length || this.socket.destroyed) return clearInterval(timer);
      this.write(data[i++] as string);
    }, everyMs);
  }

  /** Everything received and not yet read as an answer. */
  unread(): string {
    return this.buffer.toString('utf8');
  }

  private takeAnswer(): Answer | null {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const { status, headers } = parseHead(this.buffer.subarray(0, end).toString('latin1'));
    const length = Number(headers['content-length'] ?? 0);
    if (this.buffer.length < end + 4 + length) return null;
    const text = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    let body: unknown = text;
    if (/json/.test(headers['content-type'] ?? '')) body = JSON.parse(text);
    return { status, headers, body };
  }

  /** The next complete answer; fails if the connection closes first or nothing comes within `withinMs`. */
  async answer(withinMs = 5000): Promise<Answer> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const answer = this.takeAnswer();
      if (answer) return answer;
      if (this.closedAfterMs !== null) {
        throw new Error(`closed without a (complete) answer: ${JSON.stringify(this.unread())}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${withinMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Every answer until the connection closes (fails if it is still open after `withinMs`). */
  async answersUntilClosed(withinMs = 5000): Promise<Answer[]> {
    if (!(await this.closedWithin(withinMs))) throw new Error(`still open after ${withinMs} ms`);
    const answers: Answer[] = [];
    for (let answer = this.takeAnswer(); answer; answer = this.takeAnswer()) answers.push(answer);
    return answers;
  }

  /** True once the connection has closed, false if it is still open after `withinMs`. */
  async closedWithin(withinMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, withinMs);
    });
    await Promise.race([this.closing, timeout]);
    clearTimeout(timer);
    return this.closedAfterMs !== null;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
