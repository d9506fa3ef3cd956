/**
 * Retention under load (SPEC §2 "Retention"): pruning a large backlog in small rounds never makes
 * a publish wait long, and two pruners at once (two processes' stores on one database) neither
 * fail nor count a row twice. The backlog is written straight into the store, 40 days old, with
 * its deliveries final and two attempts each.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredEvent } from '../../src/domain/types.ts';
import { openStore } from '../../src/store/open-store.ts';
import { type Caller, TEST_EPOCH, type TestApi, describeApi } from '../../src/testing/test-app.ts';
import { execOnTestDatabase } from '../../src/testing/test-store.ts';
import { Pruner, type PruneTotals } from '../../src/worker/pruner.ts';

const DAY = 24 * 60 * 60 * 1000;
const OLD = TEST_EPOCH - 40 * DAY;

/** `count` old events in `env`, one succeeded delivery each, two attempts per delivery: 4 rows per event. */
async function backlog(api: TestApi, env: string, prefix: string, count: number): Promise<void> {
  const store = api.deps.store;
  for (let from = 0; from < count; from += 500) {
    const ids = Array.from({ length: Math.min(500, count - from) }, (_, i) => `${prefix}-${from + i}`);
    const events: StoredEvent[] = ids.map((id, i) => ({
      id,
      type: 'order.created',
      source: null,
      subject: null,
      time: OLD,
      dataJson: '{"n":1}',
      context: [],
      topic: 'orders',
      deliverAt: OLD,
      cancelledAt: null,
      createdAt: OLD + from + i,
    }));
    const deliveries = events.map((e) => ({
      id: `dlv_${e.id}`,
      eventId: e.id,
      subscriptionId: 'sub_gone',
      topic: 'orders',
      status: 'pending' as const,
      nextAttemptAt: OLD,
      createdAt: e.createdAt,
    }));
    const outcome = await store.acceptEvents(env, events, { month: '2026-01', limit: null, count: false }, deliveries);
    assert.equal(outcome.kind, 'accepted');
  }
  const attempts = (n: number) => `INSERT INTO attempts (environment_id, id, delivery_id, subscription_id, number, started_at,
      duration_ms, request_headers_json, response_status, response_body, error_kind, error_message, outcome)
    SELECT environment_id, 'att_${n}_' || id, id, subscription_id, ${n}, created_at, 5, '{}', 200, '', NULL, NULL, 'succeeded'
    FROM deliveries WHERE environment_id = '${env}' AND id LIKE 'dlv_${prefix}-%'`;
  await execOnTestDatabase(
    api.databaseUrl,
    `UPDATE deliveries SET status = 'succeeded' WHERE environment_id = '${env}' AND id LIKE 'dlv_${prefix}-%';
     ${attempts(1)}; ${attempts(2)};`,
  );
}

const without = (t: PruneTotals) => ({ deliveries: t.deliveries, attempts: t.attempts, events: t.events });

describeApi('retention under load', (api) => {
  test(
    'pruning 20,000 old rows in rounds of 500 while publishing: no publish waits 100 ms',
    { timeout: 120_000 },
    async () => {
      const admin: Caller = await api().environment('load');
      const call = (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });
      assert.equal((await call('POST', '/v1/event-types', { name: 'order.created' })).status, 201);
      assert.equal((await call('POST', '/v1/topics', { name: 'orders', eventTypes: ['order.created'] })).status, 201);
      for (const name of ['a', 'b']) {
        assert.equal((await call('POST', '/v1/topics/orders/subscriptions', { name, url: `http://127.0.0.1:9/${name}` })).status, 201);
      }
      await backlog(api(), admin.environmentId, 'old', 5000);
      api().clock.set(TEST_EPOCH);
      let n = 0;
      const publishOnce = async () => {
        const started = performance.now();
        const answer = await call('POST', '/v1/topics/orders/events/publish', {
          events: [{ type: 'order.created', id: `new-${n++}`, data: { n } }],
        });
        assert.equal(answer.status, 202);
        assert.equal(answer.body.events[0].deliveries, 2);
        return performance.now() - started;
      };
      for (let i = 0; i < 20; i++) await publishOnce(); // warm: schema threads, registry cache, JIT

      const pruner = new Pruner({ store: api().deps.store, clock: api().clock, retentionDays: 30, batchSize: 500, pauseMs: 5 });
      let pruned: PruneTotals | null = null;
      const pass = pruner.runPass().then((totals) => {
        pruned = totals;
      });
      const waits: number[] = [];
      while (pruned === null) waits.push(await publishOnce());
      await pass;
      const totals = pruned as PruneTotals;
      assert.deepEqual(without(totals), { deliveries: 5000, attempts: 10_000, events: 5000 });
      assert.ok(totals.rounds >= 20, `rounds: ${totals.rounds}`);
      assert.ok(waits.length >= 20, `only ${waits.length} publishes ran during the pass`);
      const slowest = Math.max(...waits);
      assert.ok(slowest < 100, `slowest publish ${slowest.toFixed(1)} ms of ${waits.length}`);
      // Everything published during the pass is newer than the horizon: all of it is still there.
      const listed = await call('GET', '/v1/events?limit=250');
      assert.equal(listed.body.data.length, Math.min(250, n));
      assert.ok(listed.body.data.every((e: { id: string }) => e.id.startsWith('new-')));
    },
  );

  // On PostgreSQL each pruner has a store (a pool) of its own, as two worker processes would. A
  // SQLite database has one owning process (two connections in one thread would block each
  // other's event loop on the write lock), so there the two pruners share its store.
  test('two pruners at once: neither fails, together they delete each row once', { timeout: 60_000 }, async () => {
    const admin: Caller = await api().environment('race');
    await backlog(api(), admin.environmentId, 'race', 2000);
    api().clock.set(TEST_EPOCH);
    const opened = api().dialect === 'postgres' ? [openStore(api().databaseUrl), openStore(api().databaseUrl)] : [];
    const stores = opened.length > 0 ? opened : [api().deps.store, api().deps.store];
    try {
      const pruners = stores.map(
        (store) => new Pruner({ store, clock: api().clock, retentionDays: 30, batchSize: 100, pauseMs: 0 }),
      );
      const both = await Promise.all(pruners.map((p) => p.runPass()));
      // A pruner that met the other's uncommitted deletions may leave an event for the next pass.
      const sweep = await (pruners[0] as Pruner).runPass();
      const sum = [...both, sweep].reduce(
        (total, t) => ({ deliveries: total.deliveries + t.deliveries, attempts: total.attempts + t.attempts, events: total.events + t.events }),
        { deliveries: 0, attempts: 0, events: 0 },
      );
      assert.deepEqual(sum, { deliveries: 2000, attempts: 4000, events: 2000 });
      const left = await api().deps.store.listEvents(admin.environmentId, {}, { limit: 10, after: null });
      assert.deepEqual(left.data, []);
    } finally {
      for (const store of opened) await store.close();
    }
  });
});
