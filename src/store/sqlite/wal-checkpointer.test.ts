/** The WAL is checkpointed by the thread, long before the main connection's own threshold. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { WalCheckpointer } from './wal-checkpointer.ts';

async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

test('committed pages reach the database file while the main connection never checkpoints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-wal-'));
  const path = join(dir, 'wal.db');
  const db = new BetterSqlite3(path);
  try {
    db.pragma('journal_mode = WAL');
    // Off entirely here, so only the thread can move pages out of the log.
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (x TEXT)');
    db.pragma('wal_checkpoint(TRUNCATE)');
    const before = statSync(path).size;
    const checkpointer = WalCheckpointer.start(path, 20);
    try {
      const insert = db.prepare('INSERT INTO t VALUES (?)');
      for (let i = 0; i < 200; i++) insert.run('x'.repeat(8000));
      const grown = await eventually(() => statSync(path).size > before + 1_000_000, 5000);
      assert.ok(grown, `the database file stayed at ${statSync(path).size} bytes (was ${before})`);
    } finally {
      await checkpointer.stop();
    }
    assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 200);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop returns when the thread has already died (here: no database file to open)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-wal-'));
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const checkpointer = WalCheckpointer.start(join(dir, 'missing.db'), 20);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await checkpointer.stop();
  } finally {
    process.stderr.write = write;
    rmSync(dir, { recursive: true, force: true });
  }
  assert.match(written.join(''), /the WAL checkpoint thread stopped/);
});
