/** One conformance suite for the Store interface, run against SQLite and PostgreSQL. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueKey } from '../core/keys.ts';
import type { Environment, StoredEvent } from '../domain/types.ts';
import { HeraldError } from '../errors.ts';
import { createTestDatabase, describeEachDialect } from '../testing/test-store.ts';
import { openStore } from './open-store.ts';
import type { Store } from './store.ts';

let counter = 0;
function environment(now = 1_000): Environment {
  counter++;
  return { id: `env_test${process.pid}x${counter}`, name: `e${counter}`, monthlyEventQuota: null, createdAt: now, updatedAt: now };
}

async function newEnvironment(store: Store): Promise<string> {
  const env = environment();
  await store.insertEnvironment(env, issueKey(env.id, 'admin', 'admin', [], 1_000).stored);
  return env.id;
}

function event(id: string, createdAt = 1_000, type = 'order.created'): StoredEvent {
  return {
    id,
    type,
    source: null,
    subject: null,
    time: createdAt,
    dataJson: '{"n":1}',
    context: [],
    topic: 'orders',
    deliverAt: createdAt,
    cancelledAt: null,
    createdAt,
  };
}

describeEachDialect('store conformance', (store, dialect) => {
  test('migrate is idempotent', async () => {
    await store().migrate();
    await store().migrate();
    await store().ping();
  });

  test('two processes migrating one fresh database at once both end up correct', async () => {
    const database = await createTestDatabase(dialect);
    const a = openStore(database.url);
    const b = openStore(database.url);
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      const env = await newEnvironment(a);
      assert.ok(await b.getEnvironment(env));
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });

  test('bootstrap creates the first environment only once, even when raced', async () => {
    const database = await createTestDatabase(dialect);
    const a = openStore(database.url);
    const b = openStore(database.url);
    try {
      await a.migrate();
      await b.migrate();
      const [x, y] = [environment(), environment()];
      const first = () => a.bootstrapFirstEnvironment(x, issueKey(x.id, 'admin', 'admin', [], 1).stored);
      const second = () => b.bootstrapFirstEnvironment(y, issueKey(y.id, 'admin', 'admin', [], 1).stored);
      // PostgreSQL: a real race. SQLite has one owning process; its driver is synchronous, so two
      // connections in one process would block each other: there the second start comes after.
      const results = dialect === 'postgres' ? await Promise.all([first(), second()]) : [await first(), await second()];
      assert.deepEqual(results.filter(Boolean).length, 1);
      const listed = await a.listEnvironments({ limit: 10, after: null });
      assert.equal(listed.data.length, 1);
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });

  test('deleting an environment removes everything in it and nothing else', async () => {
    const keep = await newEnvironment(store());
    const drop = await newEnvironment(store());
    for (const env of [keep, drop]) {
      await store().insertCategory(env, { name: 'c', description: null, createdAt: 1, updatedAt: 1 });
      await store().acceptEvents(env, [event('e1')], { month: '2026-01', limit: null });
    }
    assert.equal(await store().deleteEnvironment(drop), true);
    assert.equal(await store().deleteEnvironment(drop), false);
    assert.equal(await store().getEnvironment(drop), null);
    assert.equal(await store().getCategory(drop, 'c'), null);
    assert.equal(await store().getEvent(drop, 'e1'), null);
    assert.ok(await store().getCategory(keep, 'c'));
    assert.ok(await store().getEvent(keep, 'e1'));
  });

  test('acceptEvents: duplicates are reported, not stored twice, and not counted', async () => {
    const env = await newEnvironment(store());
    const quota = { month: '2026-01', limit: null };
    const first = await store().acceptEvents(env, [event('a'), event('b'), event('a')], quota);
    assert.deepEqual(first, { kind: 'accepted', statuses: ['accepted', 'accepted', 'duplicate'], deliveries: [0, 0, 0] });
    const second = await store().acceptEvents(env, [event('b'), event('c')], quota);
    assert.deepEqual(second, { kind: 'accepted', statuses: ['duplicate', 'accepted'], deliveries: [0, 0] });
    assert.equal(await store().getMonthlyUsage(env, '2026-01'), 3);
  });

  test('acceptEvents: a batch over the quota stores nothing', async () => {
    const env = await newEnvironment(store());
    const quota = { month: '2026-02', limit: 3 };
    assert.equal((await store().acceptEvents(env, [event('q1'), event('q2')], quota)).kind, 'accepted');
    const refused = await store().acceptEvents(env, [event('q3'), event('q4')], quota);
    assert.deepEqual(refused, { kind: 'quota_exceeded', published: 2 });
    assert.equal(await store().getEvent(env, 'q3'), null);
    assert.equal(await store().getMonthlyUsage(env, '2026-02'), 2);
    assert.equal((await store().acceptEvents(env, [event('q3')], quota)).kind, 'accepted');
    assert.equal(await store().getMonthlyUsage(env, '2026-02'), 3);
  });

  test('acceptEvents: concurrent batches never pass the quota together', async () => {
    const env = await newEnvironment(store());
    const quota = { month: '2026-03', limit: 10 };
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store().acceptEvents(env, [event(`c${i}a`), event(`c${i}b`)], quota)),
    );
    const accepted = outcomes.filter((o) => o.kind === 'accepted').length;
    assert.equal(accepted, 5);
    assert.equal(await store().getMonthlyUsage(env, '2026-03'), 10);
  });

  test('events list newest first with a stable keyset cursor', async () => {
    const env = await newEnvironment(store());
    const events = Array.from({ length: 7 }, (_, i) => event(`p${i}`, 1_000 + Math.floor(i / 2)));
    await store().acceptEvents(env, events, { month: '2026-01', limit: null });
    const seen: string[] = [];
    let after = null;
    for (;;) {
      const page: Awaited<ReturnType<Store['listEvents']>> = await store().listEvents(env, {}, { limit: 3, after });
      seen.push(...page.data.map((e) => e.id));
      if (!page.nextAfter) break;
      after = page.nextAfter;
    }
    assert.deepEqual(seen, ['p6', 'p5', 'p4', 'p3', 'p2', 'p1', 'p0']);
  });

  test('a cursor of the wrong shape is refused, not misread', async () => {
    const env = await newEnvironment(store());
    await assert.rejects(store().listEvents(env, {}, { limit: 3, after: ['x'] }), HeraldError);
    await assert.rejects(store().listCategories(env, { limit: 3, after: [5] }), HeraldError);
  });

  test('topics: event types are kept as a set and found by type', async () => {
    const env = await newEnvironment(store());
    const topic = { name: 't', description: null, appId: null, eventTypes: ['b', 'a', 'a'], createdAt: 1, updatedAt: 1 };
    assert.equal(await store().insertTopic(env, topic), true);
    assert.equal(await store().insertTopic(env, topic), false);
    assert.deepEqual((await store().getTopic(env, 't'))?.eventTypes, ['a', 'b']);
    await store().updateTopic(env, { ...topic, eventTypes: ['c'] });
    assert.deepEqual((await store().getTopic(env, 't'))?.eventTypes, ['c']);
    const byType = await store().topicsContaining(env, ['a', 'c']);
    assert.deepEqual(byType.get('a'), []);
    assert.deepEqual(byType.get('c'), ['t']);
  });
});
