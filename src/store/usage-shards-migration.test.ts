/**
 * Migration 0009 (monthly usage in shard rows) on a database whose usage an older Herald counted,
 * one row per environment and month: every count carries over, and publishing adds to it. The
 * table is put back as the older Herald had it and the migration runner is made to forget 0009,
 * so that it applies it again, as to an old database.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueKey } from '../core/keys.ts';
import { DIALECTS, createTestDatabase, execOnTestDatabase } from '../testing/test-store.ts';
import { openStore } from './open-store.ts';

/** monthly_usage as migrations 0001-0007 left it, with counts in it. */
const OLD_USAGE = (dialect: string) => `
  DROP TABLE monthly_usage;
  CREATE TABLE monthly_usage (
    environment_id TEXT ${dialect === 'postgres' ? 'COLLATE "C"' : ''} NOT NULL,
    month TEXT ${dialect === 'postgres' ? 'COLLATE "C"' : ''} NOT NULL,
    published BIGINT NOT NULL,
    PRIMARY KEY (environment_id, month)
  );
  INSERT INTO monthly_usage (environment_id, month, published) VALUES
    ('env_old', '2026-01', 41), ('env_old', '2026-02', 7), ('env_other', '2026-02', 1234567);
  DELETE FROM herald_migrations WHERE version = 9;`;

for (const dialect of DIALECTS) {
  test(`[${dialect}] migration 0009 carries every monthly count over`, async () => {
    const database = await createTestDatabase(dialect);
    try {
      const before = openStore(database.url);
      await before.migrate();
      await before.close();
      await execOnTestDatabase(database.url, OLD_USAGE(dialect));

      const store = openStore(database.url);
      try {
        await store.migrate();
        assert.equal(await store.getMonthlyUsage('env_old', '2026-01'), 41);
        assert.equal(await store.getMonthlyUsage('env_old', '2026-02'), 7);
        assert.equal(await store.getMonthlyUsage('env_other', '2026-02'), 1234567);
        assert.equal(await store.getMonthlyUsage('env_other', '2026-01'), 0);

        await store.insertEnvironment(
          { id: 'env_old', name: 'old', monthlyEventQuota: null, createdAt: 1, updatedAt: 1 },
          issueKey('env_old', 'admin', 'admin', [], 1).stored,
        );
        const event = (id: string) => ({
          id,
          type: 'order.created',
          source: null,
          subject: null,
          time: 1,
          dataJson: '{}',
          context: [],
          topic: 'orders',
          deliverAt: 1,
          cancelledAt: null,
          createdAt: 1,
        });
        await Promise.all(['a', 'b', 'c'].map((id) => store.acceptEvents('env_old', [event(id)], { month: '2026-01', limit: null })));
        assert.equal(await store.getMonthlyUsage('env_old', '2026-01'), 44);
        // The quota counts the carried-over events too: 44 + 1 of 45 fits, one more does not.
        const quota = { month: '2026-01', limit: 45 };
        assert.equal((await store.acceptEvents('env_old', [event('d')], quota)).kind, 'accepted');
        assert.deepEqual(await store.acceptEvents('env_old', [event('e')], quota), { kind: 'quota_exceeded', published: 45 });
      } finally {
        await store.close();
      }
    } finally {
      await database.drop();
    }
  });
}
