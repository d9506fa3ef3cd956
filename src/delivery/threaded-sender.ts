/**
 * Delivery attempts made on a thread of their own. The HTTP exchange (undici: writing the
 * request, parsing the answer, the socket callbacks) was a quarter of the main thread's CPU per
 * delivery, and the main thread, which also serves the API and runs SQLite, was the bottleneck
 * with the second core partly idle. Requests go to the thread and results come back in batches,
 * one message per turn of each event loop; the thread holds its own Sender and connection pool.
 *
 * A custom DNS lookup (tests) is a function and cannot cross to a thread: use Sender for that.
 */
import type { Worker } from 'node:worker_threads';
import { startThread } from '../threads.ts';
import type { FromSenderThread, ToSenderThread } from './send-thread.ts';
import type { AttemptSender, SendRequest, SendResult, SenderOptions } from './send.ts';

// Run from src/ (tests, tsx) the thread's body is the .ts beside this file; in the bundle that
// bin/herald.mjs makes, it is the send-thread.mjs built beside the bundle.
const THREAD_BODY = new URL(import.meta.url.endsWith('.ts') ? './send-thread.ts' : './send-thread.mjs', import.meta.url);

/**
 * The thread keeps little alive (the attempts in flight), so a small young generation does: V8's
 * default for a second heap added ~40 MB to the process's peak RSS (243 MB in the bench).
 */
const THREAD_HEAP = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 256 };

/** A thread that dies this soon after starting is replaced only after as long again: no crash loop. */
const RESTART_PAUSE_MS = 1000;

export class ThreadedSender implements AttemptSender {
  /** Null while a thread that died is waiting to be replaced. */
  #thread: Worker | null;
  #startedAt = 0;
  #restart: NodeJS.Timeout | null = null;
  readonly #options: Omit<SenderOptions, 'lookup'>;
  readonly #waiting = new Map<number, (result: SendResult) => void>();
  #queued: [number, SendRequest][] = [];
  #posting = false;
  #nextId = 0;
  #closing: Promise<void> | null = null;
  /** Resolved when the first thread can send (or could not start: then attempts fail as they would). */
  readonly #ready: Promise<void>;
  #isReady: () => void = () => {};

  /** @param threadBody the thread's module; default send-thread (tests give ones that fail). */
  constructor(
    options: Omit<SenderOptions, 'lookup'>,
    private readonly threadBody: URL = THREAD_BODY,
  ) {
    this.#options = options;
    this.#ready = new Promise((resolve) => {
      this.#isReady = resolve;
    });
    this.#thread = this.#start();
  }

  /**
   * Resolves once the thread can send. Until then attempts wait in its queue and would leave
   * together: a rate-limited subscription's first requests, booked apart, would arrive in a burst.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  #start(): Worker {
    this.#startedAt = performance.now();
    const thread = startThread(this.threadBody, { workerData: this.#options, resourceLimits: THREAD_HEAP });
    thread.on('message', (message: FromSenderThread) => {
      if (message === 'ready') return this.#isReady();
      if (message === 'closed') return;
      for (const [id, result] of message) {
        const resolve = this.#waiting.get(id);
        this.#waiting.delete(id);
        resolve?.(result);
      }
    });
    // A thread that dies fails what it held (the attempts are retried as any network failure
    // is) and is replaced, so deliveries keep flowing.
    thread.on('error', (error) => this.#lost(thread, `the sender thread failed: ${error.message}`));
    thread.on('exit', (code) => this.#lost(thread, `the sender thread exited (${code})`));
    return thread;
  }

  #lost(thread: Worker, message: string): void {
    this.#isReady();
    if (thread !== this.#thread) return;
    this.#thread = null;
    this.#failAll(message);
    if (this.#closing !== null) return;
    const pause = performance.now() - this.#startedAt < RESTART_PAUSE_MS ? RESTART_PAUSE_MS : 0;
    this.#restart = setTimeout(() => {
      this.#restart = null;
      this.#thread = this.#start();
      this.#post();
    }, pause);
  }

  /** Answers every attempt not yet answered with a network error: posted or not, it is not coming back. */
  #failAll(message: string): void {
    for (const resolve of this.#waiting.values()) resolve({ kind: 'error', errorKind: 'network', message, durationMs: 0 });
    this.#waiting.clear();
    this.#queued = [];
  }

  send(request: SendRequest): Promise<SendResult> {
    if (this.#closing !== null) {
      return Promise.resolve({ kind: 'error', errorKind: 'network', message: 'the sender is closing', durationMs: 0 });
    }
    return new Promise((resolve) => {
      const id = this.#nextId++;
      this.#waiting.set(id, resolve);
      this.#queued.push([id, request]);
      if (!this.#posting) {
        this.#posting = true;
        setImmediate(() => this.#post());
      }
    });
  }

  #post(): void {
    this.#posting = false;
    // With no thread (one died and its replacement is not up yet) the batch waits for it.
    if (this.#thread === null || this.#queued.length === 0) return;
    const batch = this.#queued;
    this.#queued = [];
    this.#thread.postMessage(batch satisfies ToSenderThread);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#restart) clearTimeout(this.#restart);
      this.#post();
      const thread = this.#thread;
      if (thread === null) {
        this.#failAll('the sender closed while its thread was down');
        return;
      }
      const closed = new Promise<void>((resolve) => {
        thread.on('message', (message: FromSenderThread) => {
          if (message === 'closed') resolve();
        });
        thread.once('exit', () => resolve());
      });
      thread.postMessage('close' satisfies ToSenderThread);
      await closed;
      await thread.terminate();
    })();
    return this.#closing;
  }
}
