/**
 * Starts a worker thread from a module of Herald's. Run from src/ (tests, tsx) the module is a .ts
 * file and a thread does not inherit tsx's loader (node --import tsx), so it registers it first;
 * in the bundle that bin/herald.mjs makes, the module is a .mjs built beside the bundle.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startThread(body: URL, options: WorkerOptions): Worker {
  if (!body.pathname.endsWith('.ts')) return new Worker(body, options);
  return new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(body.href)}); })`,
    { ...options, eval: true },
  );
}
