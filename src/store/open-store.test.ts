import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openStore } from './open-store.ts';

describe('openStore on a SQLite file that is not a usable database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-open-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const refused = (file: string) => (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.ok(error.message.includes(file), error.message);
    assert.ok(error.message.includes(`HERALD_DATABASE_URL=sqlite:${file}`), error.message);
    return true;
  };

  it('names the file and HERALD_DATABASE_URL when the file is garbage', () => {
    const file = join(dir, 'garbage.db');
    writeFileSync(file, randomBytes(8192));
    assert.throws(() => openStore(`sqlite:${file}`), refused(file));
  });

  it('names the file and HERALD_DATABASE_URL when a real database has its schema page damaged', () => {
    const file = join(dir, 'damaged.db');
    const db = new BetterSqlite3(file);
    db.exec("CREATE TABLE a (x); CREATE TABLE b (y); INSERT INTO a VALUES ('kept')");
    db.close();
    // Past the 100-byte file header, page 1 holds the schema table.
    const fd = openSync(file, 'r+');
    writeSync(fd, randomBytes(3000), 0, 3000, 100);
    closeSync(fd);
    assert.throws(() => openStore(`sqlite:${file}`), refused(file));
  });

  it('opens a fresh file as before', async () => {
    const store = openStore(`sqlite:${join(dir, 'fresh.db')}`);
    await store.migrate();
    await store.close();
  });
});
