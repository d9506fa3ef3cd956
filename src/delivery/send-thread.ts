/**
 * The sender thread's body (see threaded-sender.ts): a plain Sender whose attempts arrive and
 * whose results leave in batches, one message per turn of this thread's event loop each way.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { type SendRequest, type SendResult, Sender, type SenderOptions } from './send.ts';

/** What the main thread posts: attempts to make, or 'close'. */
export type ToSenderThread = [id: number, request: SendRequest][] | 'close';
/** What this thread posts back: 'ready' once it can send, results by attempt id, or 'closed' once every attempt is done. */
export type FromSenderThread = [id: number, result: SendResult][] | 'ready' | 'closed';

const port = parentPort;
if (port) {
  const sender = new Sender(workerData as SenderOptions);
  let results: [number, SendResult][] = [];
  let flushing = false;
  const flush = () => {
    flushing = false;
    const batch = results;
    results = [];
    port.postMessage(batch satisfies FromSenderThread);
  };
  port.on('message', (message: ToSenderThread) => {
    if (message === 'close') {
      void sender.close().then(() => port.postMessage('closed' satisfies FromSenderThread));
      return;
    }
    for (const [id, request] of message) {
      void sender.send(request).then((result) => {
        results.push([id, result]);
        if (!flushing) {
          flushing = true;
          setImmediate(flush);
        }
      });
    }
  });
  void warmUp(workerData as SenderOptions).finally(() => port.postMessage('ready' satisfies FromSenderThread));
}

/**
 * One request to a server of this thread's own on 127.0.0.1 before saying 'ready': the first
 * request of a fresh thread took ~35 ms (compiling the send path), against ~1 ms for the next, and
 * a rate-limited subscription's first two requests, booked 1/rate apart, arrived close together.
 */
/** Enough for the first real request to take ~9 ms instead of ~36 (one warm-up request: ~13). */
const WARM_UP_REQUESTS = 3;
async function warmUp(options: SenderOptions): Promise<void> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(204).end());
  });
  try {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const local = new Sender({ ...options, allowPrivateUrls: true });
    for (let i = 0; i < WARM_UP_REQUESTS; i++) {
      await local.send({ url: `http://127.0.0.1:${port}/`, headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 2000 });
    }
    await local.close();
  } finally {
    server.close();
  }
}
