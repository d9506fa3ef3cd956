/**
 * Checkpoints the SQLite write-ahead log from a thread of its own. SQLite's automatic checkpoint
 * runs inside whichever commit crosses the threshold (1,000 pages): it copies the log into the
 * database file and fsyncs both, on the committing thread, and better-sqlite3 is synchronous, so
 * that thread's event loop stops meanwhile. Under the benchmark's load one commit in seventy was
 * a checkpoint of 5-24 ms, half of all the time spent committing, each one a stall in the
 * latency of whatever the event loop was serving.
 *
 * Here a second connection runs PASSIVE checkpoints, which never wait for or block the writer or
 * the readers, every INTERVAL_MS. The main connection keeps an automatic checkpoint at a far
 * higher threshold as a safety net, should this thread fall behind or die. Checkpointing only
 * copies committed pages, so a kill -9 at any moment loses nothing.
 *
 * The thread's code is a few lines of plain JavaScript run with `eval`: it needs no file of its
 * own, whether Herald runs from the sources or from bin/herald.mjs's bundle.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the log is checkpointed. */
const INTERVAL_MS = 100;

/** The main connection's own automatic checkpoint threshold, in pages, while this runs. */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 20_000;

const THREAD_CODE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // SQLITE_BUSY: another checkpoint is running (a second process on the file); next round.
    if (error.code !== 'SQLITE_BUSY') throw error;
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export class WalCheckpointer {
  /** Resolves when the thread has ended, whether stopped or crashed. */
  private readonly exited: Promise<void>;

  private constructor(private readonly thread: Worker) {
    this.exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  }

  /** Starts checkpointing the database file at `path` (already open, in WAL mode). */
  static start(path: string, intervalMs = INTERVAL_MS): WalCheckpointer {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    const thread = new Worker(THREAD_CODE, {
      eval: true,
      workerData: { module, path, intervalMs },
      // A few statements and no JavaScript heap to speak of.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    // It must not keep a CLI command's process alive; a crash only costs the fallback threshold.
    thread.unref();
    thread.on('error', (error) => process.stderr.write(`herald: the WAL checkpoint thread stopped: ${error.message}\n`));
    return new WalCheckpointer(thread);
  }

  /** Ends the thread; resolves at once if it has already ended (a crashed thread too). */
  async stop(): Promise<void> {
    // Referenced again while it closes, or a process with nothing else to do would exit first.
    this.thread.ref();
    this.thread.postMessage('stop');
    await this.exited;
  }
}
