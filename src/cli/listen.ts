/**
 * `herald listen`: a local webhook receiver for trying Herald out. It checks each request's
 * Standard Webhooks signature the way a real receiver should and prints what arrived.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isValidSigningSecret, verifySignature } from '../delivery/sign.ts';

export interface ListenerOptions {
  /** Port to bind; 0 picks a free one (see the returned `port`). */
  port: number;
  /** The subscription's signing secret, `whsec_…`. */
  secret: string;
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** Status answered to correctly signed requests. Default 204. */
  status?: number;
  /** Receives one entry per request: a summary line, then the body indented below it. */
  print: (line: string) => void;
}

export interface Listener {
  port: number;
  close(): Promise<void>;
}

/** Characters of a body shown before it is cut, so a 1 MiB batch does not flood the terminal. */
export const PRINT_LIMIT = 2048;
/** Larger requests are refused unread: far beyond anything Herald sends. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const TOLERANCE_SECONDS = 300;

function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(' ') : value;
}

/** Why the signature is not accepted, or null when it is. */
function rejection(req: IncomingMessage, secret: string, body: string, nowSeconds: number): string | null {
  const id = header(req, 'webhook-id');
  const timestamp = header(req, 'webhook-timestamp');
  const signature = header(req, 'webhook-signature');
  if (!id || !timestamp || !signature) return 'missing webhook-id, webhook-timestamp or webhook-signature';
  if (verifySignature(secret, { id, timestamp, signature }, body, nowSeconds, TOLERANCE_SECONDS)) return null;
  const skew = nowSeconds - Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(skew) > TOLERANCE_SECONDS) {
    return `timestamp ${timestamp} is not within ${TOLERANCE_SECONDS}s of now`;
  }
  return 'signature does not match';
}

function isCloudEvent(value: unknown): value is { type: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    'specversion' in value &&
    typeof (value as { type?: unknown }).type === 'string'
  );
}

/** The CloudEvents type(s) of a body, and the body pretty-printed when it is JSON. */
function describeBody(body: string): { types: string; pretty: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { types: '', pretty: body };
  }
  const pretty = JSON.stringify(parsed, null, 2);
  if (isCloudEvent(parsed)) return { types: parsed.type, pretty };
  if (Array.isArray(parsed) && parsed.length > 0 && parsed.every(isCloudEvent)) {
    const distinct = [...new Set(parsed.map((event) => event.type))];
    return { types: `batch of ${parsed.length}: ${distinct.join(', ')}`, pretty };
  }
  return { types: '', pretty };
}

function truncate(text: string): string {
  if (text.length <= PRINT_LIMIT) return text;
  return `${text.slice(0, PRINT_LIMIT)}\n… (${text.length - PRINT_LIMIT} more characters)`;
}

/** Starts the receiver; resolves once it is listening. */
export async function startListener(options: ListenerOptions): Promise<Listener> {
  if (!isValidSigningSecret(options.secret)) throw new TypeError('secret must be whsec_ + base64 of 24..64 bytes');
  const okStatus = options.status ?? 204;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('herald listen expects POST\n');
      return;
    }
    const body = await readBody(req);
    if (body === null) {
      res.writeHead(413, { connection: 'close' }).end();
      return;
    }
    const now = Date.now();
    const reason = rejection(req, options.secret, body, Math.floor(now / 1000));
    const { types, pretty } = describeBody(body);
    const summary = [
      new Date(now).toISOString(),
      reason === null ? '✓' : `✗ (${reason})`,
      header(req, 'webhook-id') ?? '-',
      types,
    ]
      .filter((part) => part !== '')
      .join(' ');
    options.print(`${summary}\n${truncate(pretty).replace(/^/gm, '  ')}`);
    if (reason === null) res.writeHead(okStatus).end();
    else res.writeHead(401, { 'content-type': 'text/plain' }).end(`invalid signature: ${reason}\n`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(400).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Senders keep connections alive; without this close() would wait for them to time out.
        server.closeAllConnections();
      }),
  };
}
