/**
 * acceptEvents with deliveries, and the monthly count under concurrent publishes, on both
 * dialects: they are written by different code on each (a transaction on SQLite, one statement on
 * PostgreSQL, which spreads the count over shard rows), so the rules are checked on both.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachDialect, testEnvironment, testEvent } from '../testing/test-store.ts';
import type { QuotaCheck, Store } from './store.ts';

const newEnvironment = (store: Store) => testEnvironment(store, 'accept');

const event = (id: string) => testEvent(id);

describeEachDialect('acceptEvents with deliveries', (store) => {
  test('acceptEvents: deliveries are stored with new events only, and not at all when the quota refuses', async () => {
    const env = await newEnvironment(store());
    const quota = { month: '2026-04', limit: 3 };
    const delivery = (id: string, eventId: string, status: 'pending' | 'scheduled' = 'pending') => ({
      id,
      eventId,
      subscriptionId: 'sub_x',
      topic: 'orders',
      status,
      nextAttemptAt: status === 'pending' ? 1_000 : 9_000,
      createdAt: 1_000,
    });
    await store().acceptEvents(env, [event('d1')], quota, [delivery('dlv_1', 'd1')]);
    const mixed = await store().acceptEvents(env, [event('d1'), event('d2'), event('d2')], quota, [
      delivery('dlv_2', 'd1'),
      delivery('dlv_3', 'd2'),
      delivery('dlv_4', 'd2', 'scheduled'),
    ]);
    assert.deepEqual(mixed, { kind: 'accepted', statuses: ['duplicate', 'accepted', 'duplicate'], deliveries: [0, 2, 0] });
    const page = { limit: 50, after: null };
    const ids = async (eventId: string) =>
      (await store().listDeliveries(env, { eventId }, page)).data.map((d) => [d.id, d.status, d.nextAttemptAt]).sort();
    assert.deepEqual(await ids('d1'), [['dlv_1', 'pending', 1_000]]);
    assert.deepEqual(await ids('d2'), [
      ['dlv_3', 'pending', 1_000],
      ['dlv_4', 'scheduled', 9_000],
    ]);
    const refused = await store().acceptEvents(env, [event('d3'), event('d4')], quota, [delivery('dlv_5', 'd3')]);
    assert.deepEqual(refused, { kind: 'quota_exceeded', published: 2 });
    assert.deepEqual(await ids('d3'), []);
    // Only duplicates: nothing to count, so a full quota does not refuse them.
    await store().acceptEvents(env, [event('d3')], quota);
    const again = await store().acceptEvents(env, [event('d3')], quota, [delivery('dlv_6', 'd3')]);
    assert.deepEqual(again, { kind: 'accepted', statuses: ['duplicate'], deliveries: [0] });
    assert.equal(await store().getMonthlyUsage(env, '2026-04'), 3);
  });
});

describeEachDialect('acceptEvents counting concurrent publishes', (store) => {
  const publishOne = (env: string, id: string, quota: QuotaCheck) => store().acceptEvents(env, [event(id)], quota);

  test('the monthly count is exact after many concurrent publishes; duplicates and operational events are not counted', async () => {
    const env = await newEnvironment(store());
    const quota = { month: '2026-07', limit: null };
    const outcomes = await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => publishOne(env, `n${i}`, quota)),
      // The same ids again, concurrently: each is stored and counted once.
      ...Array.from({ length: 50 }, (_, i) => publishOne(env, `n${i}`, quota)),
      ...Array.from({ length: 10 }, (_, i) => publishOne(env, `op${i}`, { ...quota, count: false })),
    ]);
    const statuses = outcomes.flatMap((o) => (o.kind === 'accepted' ? o.statuses : ['refused']));
    assert.equal(statuses.filter((s) => s === 'accepted').length, 60);
    assert.equal(statuses.filter((s) => s === 'duplicate').length, 50);
    assert.equal(await store().getMonthlyUsage(env, '2026-07'), 50);
    assert.equal(await store().getMonthlyUsage(env, '2026-08'), 0);
  });

  test('a quota holds exactly under concurrent publishes', async () => {
    const env = await newEnvironment(store());
    const quota = { month: '2026-07', limit: 10 };
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => publishOne(env, `q${i}`, quota)));
    assert.equal(outcomes.filter((o) => o.kind === 'accepted').length, 10);
    assert.equal(await store().getMonthlyUsage(env, '2026-07'), 10);
    const stored = await store().listEvents(env, {}, { limit: 50, after: null });
    assert.equal(stored.data.length, 10);
  });

  test('a quota set after unlimited publishes counts every one of them', async () => {
    const env = await newEnvironment(store());
    const unlimited = { month: '2026-07', limit: null };
    await Promise.all(Array.from({ length: 20 }, (_, i) => publishOne(env, `u${i}`, unlimited)));
    const quota = { month: '2026-07', limit: 25 };
    const outcomes = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => publishOne(env, `l${i}`, quota)),
      // A batch that does not fit is refused whole, even with room for part of it.
      store().acceptEvents(env, Array.from({ length: 6 }, (_, i) => event(`b${i}`)), quota),
    ]);
    assert.equal(outcomes.filter((o) => o.kind === 'accepted').length, 5);
    assert.equal(await store().getEvent(env, 'b0'), null);
    assert.equal(await store().getMonthlyUsage(env, '2026-07'), 25);
    assert.deepEqual(await publishOne(env, 'over', quota), { kind: 'quota_exceeded', published: 25 });
  });
});
