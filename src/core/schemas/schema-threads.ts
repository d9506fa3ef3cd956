/**
 * Tenants' JSON Schemas are compiled and applied on threads of their own, never on the thread
 * that serves every environment's requests. Ajv turns a schema into generated code whose cost a
 * hostile tenant chooses (a recursive `oneOf` over deep data is exponential, a schema of thousands
 * of properties takes seconds to compile); such code cannot be interrupted on the thread that runs
 * it, but a thread can be terminated. So:
 * - each job (checking one schema, or validating one publish call's events) has a time limit;
 *   a job that overruns it is answered 400 and its thread is terminated and replaced;
 * - an environment runs one job at a time and at most MAX_WAITING_PER_ENVIRONMENT wait behind it
 *   (429 beyond), so one tenant holds at most one thread and the others keep the rest;
 * - a thread's memory is bounded by its heap limit and by retiring it once the schemas compiled
 *   on it add up to THREAD_SCHEMA_BUDGET_BYTES of JSON: its compiled validators, the state Ajv
 *   keeps per instance and RE2's WebAssembly memory all go with it.
 */
import { createHash } from 'node:crypto';
import type { JsonObject, JsonValue } from '../../domain/types.ts';
import { type FieldProblem, HeraldError, invalid } from '../../errors.ts';
import { startThread } from '../../threads.ts';
import type { ValidationGroup, ValidationItem } from './schema-engine.ts';
import type { FromSchemaThread, ToSchemaThread } from './schema-thread.ts';
import type { Worker } from 'node:worker_threads';

const THREAD_BODY = new URL(import.meta.url.endsWith('.ts') ? './schema-thread.ts' : './schema-thread.mjs', import.meta.url);

/** JSON text of schemas compiled on one thread before it retires, by default. */
export const THREAD_SCHEMA_BUDGET_BYTES = 4 * 1024 * 1024;
/** Heap of one schema thread: room for the budget's validators (compiled code is ~20x its schema). */
const THREAD_HEAP = { maxOldGenerationSizeMb: 160, maxYoungGenerationSizeMb: 16 };
/** Jobs of one environment that may wait behind its running one. */
export const MAX_WAITING_PER_ENVIRONMENT = 16;
/** After a thread fails to start, new jobs are refused this long rather than retried in a loop. */
const START_FAILURE_PAUSE_MS = 1000;

export interface SchemaThreadOptions {
  /** HERALD_SCHEMA_TIMEOUT_MS: the longest one job may run. */
  timeoutMs: number;
  /** HERALD_SCHEMA_THREADS: how many threads may run jobs at once. */
  threads: number;
  /** JSON text of schemas compiled on one thread before it retires; default THREAD_SCHEMA_BUDGET_BYTES. */
  budgetBytes?: number;
}

/** Events of one publish call that share a schema: the type's schema and each event's data. */
export interface SchemaBatch {
  /** The event type's name and schema version, which together name the schema in the registry. */
  typeName: string;
  schemaVersion: number;
  schema: JsonObject;
  items: ValidationItem[];
}

interface Job {
  environmentId: string;
  /** Where a timeout or failure of the whole job is reported. */
  path: string;
  /** The compiled schemas the job uses: a thread that has them all runs it without compiling. */
  keys: readonly string[];
  message(thread: SchemaThread): ToSchemaThread;
  resolve(problems: FieldProblem[]): void;
  reject(error: HeraldError): void;
}

interface SchemaThread {
  worker: Worker;
  state: 'starting' | 'idle' | 'busy';
  /** The environment whose killed job this thread replaces: its next job runs here and only here. */
  reservedFor: string | null;
  /** Schema keys compiled on this thread (added when a job using them succeeded). */
  keys: Set<string>;
  /** JSON text of every schema sent to it. */
  bytes: number;
  job: Job | null;
  /** Keys the running job sends, kept once it succeeds. */
  sending: string[];
  timer: NodeJS.Timeout | null;
}

const texts = new WeakMap<object, { json: string; digest: string }>();

/** A schema's JSON text and digest, computed once per schema object (the registry cache reuses them). */
function textOf(schema: JsonValue): { json: string; digest: string } {
  if (typeof schema !== 'object' || schema === null) {
    const json = JSON.stringify(schema);
    return { json, digest: json };
  }
  let text = texts.get(schema);
  if (!text) {
    const json = JSON.stringify(schema);
    text = { json, digest: createHash('sha256').update(json).digest('base64url') };
    texts.set(schema, text);
  }
  return text;
}

const unavailable = (detail: string) => new HeraldError('unavailable', detail, undefined, 1);

export class SchemaThreads {
  readonly #options: SchemaThreadOptions;
  readonly #threads: SchemaThread[] = [];
  readonly #waiting: Job[] = [];
  /** Environments with a job running. */
  readonly #running = new Set<string>();
  #nextId = 0;
  /** Threads started so far. */
  #started = 0;
  #startFailedAt = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(options: SchemaThreadOptions, private readonly threadBody: URL = THREAD_BODY) {
    this.#options = options;
  }

  /** Problems of a schema about to be stored (at `/schema`), and of its example (at `/example`). */
  check(environmentId: string, schema: JsonValue, example: JsonValue | undefined): Promise<FieldProblem[]> {
    const schemaJson = textOf(schema).json;
    const exampleJson = example === undefined ? undefined : JSON.stringify(example);
    return this.#submit(environmentId, '/schema', [], (thread) => {
      thread.bytes += schemaJson.length;
      return { id: this.#nextId++, kind: 'check', schemaJson, exampleJson };
    });
  }

  /** Problems of a publish call's events against their types' schemas. */
  validate(environmentId: string, batches: readonly SchemaBatch[]): Promise<FieldProblem[]> {
    const keyed = batches.map((batch) => {
      const text = textOf(batch.schema);
      return { key: `${environmentId}\u0000${batch.typeName}\u0000${batch.schemaVersion}\u0000${text.digest}`, text, batch };
    });
    return this.#submit(environmentId, '/events', keyed.map(({ key }) => key), (thread) => {
      const groups: ValidationGroup[] = keyed.map(({ key, text, batch }) => {
        if (thread.keys.has(key)) return { key, items: batch.items };
        thread.bytes += text.json.length;
        thread.sending.push(key);
        return { key, schemaJson: text.json, items: batch.items };
      });
      return { id: this.#nextId++, kind: 'validate', groups };
    });
  }

  #submit(environmentId: string, path: string, keys: readonly string[], message: Job['message']): Promise<FieldProblem[]> {
    if (this.#closed) return Promise.reject(unavailable('Herald is shutting down'));
    if (performance.now() - this.#startFailedAt < START_FAILURE_PAUSE_MS) {
      return Promise.reject(unavailable('schema validation is unavailable: its thread failed to start'));
    }
    const queued = this.#waiting.filter((job) => job.environmentId === environmentId).length;
    if (queued >= MAX_WAITING_PER_ENVIRONMENT) {
      return Promise.reject(
        new HeraldError(
          'too_many_requests',
          `${queued} requests of this environment are already waiting for schema validation; retry when they are done`,
          undefined,
          1,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ environmentId, path, keys, message, resolve, reject });
      this.#pump();
    });
  }

  /**
   * Keeps the pool full and starts waiting jobs on idle threads, oldest first, one per environment
   * at a time. Threads start as soon as the first job comes and are replaced at once when they end,
   * so a job rarely waits for one to start. An environment whose job was killed waits for the
   * thread started in its place, so that it never takes, one killed job after another, the threads
   * other environments are using.
   */
  #pump(): void {
    if (this.#closed) return;
    const pausing = performance.now() - this.#startFailedAt < START_FAILURE_PAUSE_MS;
    while (!pausing && this.#threads.length < this.#options.threads) this.#start(null);
    for (let i = 0; i < this.#waiting.length; i++) {
      const job = this.#waiting[i] as Job;
      if (this.#running.has(job.environmentId)) continue;
      const thread = this.#threads.find((t) => t.reservedFor === job.environmentId) ?? this.#idleThreadFor(job);
      if (!thread || thread.state !== 'idle') continue;
      thread.reservedFor = null;
      this.#waiting.splice(i--, 1);
      this.#run(thread, job);
    }
  }

  /**
   * An idle thread for a job: one that has compiled every schema it uses, else the one that has
   * compiled the fewest, so that a job with nothing compiled anywhere (a tenant whose threads were
   * killed) takes a fresh thread and leaves other environments' warm ones to them.
   */
  #idleThreadFor(job: Job): SchemaThread | undefined {
    let best: SchemaThread | undefined;
    for (const thread of this.#threads) {
      if (thread.state !== 'idle' || thread.reservedFor !== null) continue;
      if (job.keys.length > 0 && job.keys.every((key) => thread.keys.has(key))) return thread;
      if (!best || thread.keys.size < best.keys.size) best = thread;
    }
    return best;
  }

  #run(thread: SchemaThread, job: Job): void {
    thread.state = 'busy';
    thread.job = job;
    thread.sending = [];
    this.#running.add(job.environmentId);
    thread.worker.postMessage(job.message(thread));
    thread.timer = setTimeout(() => {
      const message = `validating against the schema took longer than ${this.#options.timeoutMs} ms: make the schema or the data simpler`;
      this.#replace(thread, job.environmentId);
      this.#finish(thread, () => job.reject(invalid(message, [{ path: job.path, message }])));
    }, this.#options.timeoutMs);
  }

  /** Ends the thread's job with `answer`; the thread is idle afterwards, or retired past its budget. */
  #finish(thread: SchemaThread, answer: () => void): void {
    const job = thread.job;
    if (thread.timer) clearTimeout(thread.timer);
    thread.timer = null;
    thread.job = null;
    if (job) this.#running.delete(job.environmentId);
    if (this.#threads.includes(thread)) {
      if (thread.bytes > (this.#options.budgetBytes ?? THREAD_SCHEMA_BUDGET_BYTES)) this.#remove(thread);
      else thread.state = 'idle';
    }
    answer();
    this.#pump();
  }

  #remove(thread: SchemaThread): void {
    const index = this.#threads.indexOf(thread);
    if (index < 0) return;
    this.#threads.splice(index, 1);
    void thread.worker.terminate();
  }

  /** Kills a thread whose job `environmentId` sent overran, and starts one kept for that environment. */
  #replace(thread: SchemaThread, environmentId: string): void {
    this.#remove(thread);
    if (!this.#closed) this.#start(environmentId);
  }

  #start(reservedFor: string | null): void {
    this.#started++;
    const worker = startThread(this.threadBody, { resourceLimits: THREAD_HEAP });
    worker.unref();
    const thread: SchemaThread = {
      worker,
      state: 'starting',
      reservedFor,
      keys: new Set(),
      bytes: 0,
      job: null,
      sending: [],
      timer: null,
    };
    this.#threads.push(thread);
    worker.on('message', (message: FromSchemaThread) => {
      if (message === 'ready') {
        thread.state = 'idle';
        // A reservation its environment does not use within a time limit lapses: the thread is
        // not kept from everyone else by an environment that has gone quiet.
        if (thread.reservedFor !== null) {
          setTimeout(() => {
            thread.reservedFor = null;
            this.#pump();
          }, this.#options.timeoutMs).unref();
        }
        this.#pump();
        return;
      }
      const job = thread.job;
      if (!job) return;
      if ('failure' in message) {
        const detail = `the event type's schema cannot be used: ${message.failure}`;
        this.#finish(thread, () => job.reject(invalid(detail, [{ path: job.path, message: detail }])));
        return;
      }
      for (const key of thread.sending) thread.keys.add(key);
      this.#finish(thread, () => job.resolve(message.problems));
    });
    worker.on('error', (error) => this.#lost(thread, error));
    worker.on('exit', () => this.#lost(thread, null));
  }

  /** A thread that died: its job is answered, and a replacement starts when a job needs one. */
  #lost(thread: SchemaThread, error: (Error & { code?: string }) | null): void {
    if (!this.#threads.includes(thread)) return;
    const starting = thread.state === 'starting';
    this.#remove(thread);
    if (starting) {
      this.#startFailedAt = performance.now();
      const detail = `schema validation is unavailable: its thread failed to start${error ? ` (${error.message})` : ''}`;
      for (const waiting of this.#waiting.splice(0)) waiting.reject(unavailable(detail));
      return;
    }
    const job = thread.job;
    if (!job) return;
    const outOfMemory = error?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    if (outOfMemory && !this.#closed) this.#start(job.environmentId);
    const message = outOfMemory
      ? `validating against the schema needs more than the ${THREAD_HEAP.maxOldGenerationSizeMb} MB Herald allows: make the schema or the data smaller`
      : 'the schema thread stopped while validating; try again';
    this.#finish(thread, () => job.reject(outOfMemory ? invalid(message, [{ path: job.path, message }]) : unavailable(message)));
  }

  /** Threads running now, the schema JSON each has compiled, and jobs waiting: for tests and metrics. */
  stats(): { threads: number; bytes: number[]; waiting: number; started: number } {
    return {
      threads: this.#threads.length,
      bytes: this.#threads.map((t) => t.bytes),
      waiting: this.#waiting.length,
      started: this.#started,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#waiting.splice(0)) job.reject(unavailable('Herald is shutting down'));
    const threads = this.#threads.splice(0);
    for (const thread of threads) {
      if (thread.timer) clearTimeout(thread.timer);
      thread.job?.reject(unavailable('Herald is shutting down'));
    }
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }
}
