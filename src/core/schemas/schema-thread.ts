/**
 * The body of a schema thread (see schema-threads.ts): one SchemaEngine, one job at a time.
 * Posts 'ready' once the engine is built, so a job's time limit never counts the thread's start.
 */
import { parentPort } from 'node:worker_threads';
import type { FieldProblem } from '../../errors.ts';
import { SchemaEngine, type ValidationGroup } from './schema-engine.ts';

/** What the main thread posts: one job. */
export type ToSchemaThread =
  | { id: number; kind: 'check'; schemaJson: string; exampleJson: string | undefined }
  | { id: number; kind: 'validate'; groups: ValidationGroup[] };

/** What this thread posts back. */
export type FromSchemaThread = 'ready' | { id: number; problems: FieldProblem[] } | { id: number; failure: string };

const port = parentPort;
if (port) {
  const engine = new SchemaEngine();
  port.on('message', (job: ToSchemaThread) => {
    try {
      const problems =
        job.kind === 'check'
          ? engine.check(JSON.parse(job.schemaJson), job.exampleJson === undefined ? undefined : JSON.parse(job.exampleJson))
          : engine.validate(job.groups);
      port.postMessage({ id: job.id, problems } satisfies FromSchemaThread);
    } catch (error) {
      port.postMessage({ id: job.id, failure: (error as Error).message } satisfies FromSchemaThread);
    }
  });
  port.postMessage('ready' satisfies FromSchemaThread);
}
