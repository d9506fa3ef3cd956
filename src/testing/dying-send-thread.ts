/** A sender thread (send-thread.ts) that exits when it is handed a request whose body is "die". */
import { parentPort } from 'node:worker_threads';
import '../delivery/send-thread.ts';
import type { ToSenderThread } from '../delivery/send-thread.ts';

// Attached in the same turn as send-thread's own listener: a message that came in between would
// reach only this one.
parentPort?.on('message', (message: ToSenderThread) => {
  if (Array.isArray(message) && message.some(([, request]) => request.body === 'die')) process.exit(3);
});
