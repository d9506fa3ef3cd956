/**
 * The sender thread's body (see threaded-sender.ts): a plain Sender whose attempts arrive and
 * whose results leave in batches, one message per turn of this thread's event loop each way.
 */
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
  port.postMessage('ready' satisfies FromSenderThread);
}
