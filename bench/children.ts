/**
 * Bench: every process the bench starts, killed when the bench ends for any reason (normal exit,
 * error, Ctrl-C); async clean-ups (dropping the PostgreSQL database) run on the way out; and a
 * small request/answer protocol over the IPC channel of the helper processes it forks.
 */
import { type ChildProcess, fork } from 'node:child_process';

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];
let exiting = false;

/** Remembers a child so it is killed when the bench ends. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** An async clean-up to run on the way out (also on errors and Ctrl-C). Returns its remover. */
export function onCleanup(task: () => Promise<void>): () => void {
  cleanups.push(task);
  return () => {
    const index = cleanups.indexOf(task);
    if (index >= 0) cleanups.splice(index, 1);
  };
}

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

/** Kills the children, runs the clean-ups (at most 10 s), then exits with `code`. */
export async function shutdown(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    killAll();
    const all = Promise.allSettled(cleanups.splice(0).map((task) => task()));
    await Promise.race([all, new Promise((r) => setTimeout(r, 10_000).unref())]);
  }
  process.exit(code);
}

/** Installs the handlers: children die with the bench whatever ends it. */
export function installExitHandlers(): void {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children…\n`);
      void shutdown(130);
    });
  }
  process.on('uncaughtException', (error) => fail(error));
  process.on('unhandledRejection', (error) => fail(error));
}

/** Reports an error and ends the bench (quietly while it is already ending: children are gone). */
export function fail(error: unknown): void {
  if (exiting) return;
  process.stderr.write(`bench: ${(error as Error)?.stack ?? String(error)}\n`);
  void shutdown(1);
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** A forked helper (receiver, ceiling client, load generator) spoken to over IPC. */
export class Helper {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  readonly ready: Promise<unknown>;

  private constructor(readonly child: ChildProcess, readonly name: string) {
    let markReady: (value: unknown) => void = () => {};
    let failReady: (error: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    child.on('message', (raw) => {
      const message = raw as { ready?: unknown; id?: number; ok?: boolean; result?: unknown; error?: string };
      if (message.ready !== undefined) return markReady(message.ready);
      const waiting = message.id !== undefined ? this.pending.get(message.id) : undefined;
      if (!waiting || message.id === undefined) return;
      this.pending.delete(message.id);
      clearTimeout(waiting.timer);
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(new Error(`${name}: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      const error = new Error(`${name} exited (${code ?? signal})`);
      failReady(error);
      for (const waiting of this.pending.values()) {
        clearTimeout(waiting.timer);
        waiting.reject(error);
      }
      this.pending.clear();
    });
  }

  /** Forks `bench/<module>` under tsx and waits (at most 20 s) for it to say it is ready. */
  static async start(module: string, name: string): Promise<Helper> {
    const path = new URL(module, import.meta.url).pathname;
    const child = track(fork(path, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const helper = new Helper(child, name);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      await helper.ready;
    } finally {
      clearTimeout(timer);
    }
    return helper;
  }

  /** Sends a command; rejects if there is no answer within `timeoutMs`. */
  call<T>(cmd: string, args: object = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no answer to ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.child.send({ id, cmd, args }, (error) => {
        if (!error) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${error.message}`));
      });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

type Handler = (args: never) => Promise<unknown> | unknown;

/** In a helper: answers the parent's commands with `handlers`; exits when the parent goes away. */
export function serveCommands(handlers: Record<string, Handler>, ready: unknown = true): void {
  if (!process.send) throw new Error('this module runs as a forked bench helper');
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  process.on('message', (raw) => {
    const { id, cmd, args } = raw as { id: number; cmd: string; args: never };
    const handler = handlers[cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${cmd}`);
        return handler(args);
      })
      .then(
        (result) => process.send?.({ id, ok: true, result }),
        (error: unknown) => process.send?.({ id, ok: false, error: (error as Error)?.message ?? String(error) }),
      );
  });
  process.send({ ready });
}
