/**
 * Retention (SPEC §2 "Retention"): what is older than HERALD_RETENTION_DAYS goes, in small rounds;
 * what still waits stays; an event id stays a duplicate exactly until its event is pruned.
 * Old rows are made by publishing with the test clock set back, and deliveries are moved on by
 * claiming and settling them through the store at that clock, as a worker would.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { SettleDecision } from '../../src/queue/queue.ts';
import { type Caller, TEST_EPOCH, type TestApi, describeApi } from '../../src/testing/test-app.ts';
import { Pruner } from '../../src/worker/pruner.ts';
import { claimDeliveries, settleOne } from '../../src/testing/test-store.ts';

const DAY = 24 * 60 * 60 * 1000;
const WORKER = 'retention-test';
const PAGE = { limit: 250, after: null };

describeApi('retention', (api) => {
  let admin: Caller;
  let firstSubscription = '';
  const call = (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });
  const store = () => api().deps.store;
  const pruner = (batchSize = 1000) =>
    new Pruner({ store: store(), clock: api().clock, retentionDays: 30, batchSize, pauseMs: 0 });

  before(async () => {
    admin = await api().environment('retention');
    assert.equal((await call('POST', '/v1/event-types', { name: 'order.created' })).status, 201);
    // `orders` has two subscriptions, `quiet` none (its events have no delivery at all).
    assert.equal((await call('POST', '/v1/topics', { name: 'orders', eventTypes: ['order.created'] })).status, 201);
    assert.equal((await call('POST', '/v1/topics', { name: 'quiet', eventTypes: ['order.created'] })).status, 201);
    for (const name of ['a', 'b']) {
      const created = await call('POST', '/v1/topics/orders/subscriptions', { name, url: `http://127.0.0.1:9/${name}` });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      firstSubscription ||= created.body.id;
    }
  });

  const publish = async (topic: string, events: unknown[]) => {
    const answer = await call('POST', `/v1/topics/${topic}/events/publish`, { events });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    return answer.body.events as { id: string; status: string; deliveries: number }[];
  };

  /** Claims every delivery due now and settles each as `decide` says, with one attempt. */
  const settleDue = async (decide: (eventId: string, subscriptionId: string) => SettleDecision) => {
    const now = api().clock.now();
    const claimed = await claimDeliveries(store(), { workerId: WORKER, now, limit: 1000, perSubscriptionCap: 1000, leaseMs: 30_000 });
    for (const d of claimed) {
      const decision = decide(d.eventId, d.subscriptionId);
      await settleOne(store(), {
        environmentId: d.environmentId,
        deliveryId: d.id,
        workerId: WORKER,
        now,
        decision,
        attempt: {
          id: `att_${d.id}_${d.attempts + 1}`,
          deliveryId: d.id,
          subscriptionId: d.subscriptionId,
          number: d.attempts + 1,
          startedAt: now,
          durationMs: 3,
          requestHeaders: {},
          responseStatus: decision.kind === 'succeeded' ? 200 : 500,
          responseBody: '',
          error: null,
          outcome: decision.kind === 'succeeded' ? 'succeeded' : 'failed',
        },
      });
    }
    return claimed;
  };
  const deliveriesOf = async (eventId: string) =>
    (await store().listDeliveries(admin.environmentId, { eventId }, PAGE)).data;
  const attemptsOf = async (deliveryId: string) =>
    (await store().listAttempts(admin.environmentId, deliveryId, PAGE)).data;
  const eventStatus = async (id: string) => (await call('GET', `/v1/events/${encodeURIComponent(id)}`)).status;

  test('old final deliveries, their attempts and their events go in several rounds; newer rows stay', async () => {
    api().clock.set(TEST_EPOCH - 40 * DAY);
    const old = await publish('orders', Array.from({ length: 12 }, (_, i) => ({ type: 'order.created', id: `old-${i}`, data: { i } })));
    const bare = await publish('quiet', [{ type: 'order.created', id: 'old-bare' }]);
    api().clock.set(TEST_EPOCH - 39 * DAY);
    const settled = await settleDue((eventId) => (eventId === 'old-0' ? { kind: 'failed', gone: false } : { kind: 'succeeded' }));
    assert.equal(settled.length, 24);

    api().clock.set(TEST_EPOCH - 29 * DAY);
    await publish('orders', [{ type: 'order.created', id: 'recent-0' }]);
    await settleDue(() => ({ kind: 'succeeded' }));
    await publish('orders', [{ type: 'order.created', id: 'recent-1' }]);

    api().clock.set(TEST_EPOCH);
    const totals = await pruner(5).runPass();
    // 24 deliveries and 13 events looked at 5 at a time: at least 5 + 3 rounds that deleted something.
    assert.deepEqual({ ...totals, rounds: undefined }, { deliveries: 24, attempts: 24, events: 13, rounds: undefined });
    assert.ok(totals.rounds >= 8, `rounds: ${totals.rounds}`);
    for (const e of [...old, ...bare]) assert.equal(await eventStatus(e.id), 404, e.id);
    assert.equal((await store().getDelivery(admin.environmentId, settled[0]?.id ?? '')) === null, true);
    assert.deepEqual(await attemptsOf(settled[0]?.id ?? ''), []);

    // 29 days old: inside the window, final or not, nothing of it is touched.
    for (const id of ['recent-0', 'recent-1']) {
      assert.equal(await eventStatus(id), 200);
      const [a, b] = await deliveriesOf(id);
      assert.ok(a && b);
      if (id === 'recent-0') assert.equal((await attemptsOf(a.id)).length, 1);
    }
    assert.deepEqual(await pruner(5).runPass(), { deliveries: 0, attempts: 0, events: 0, rounds: 1 });
  });

  test('a waiting delivery keeps itself, its attempts and its event; it goes once it is final', async () => {
    api().clock.set(TEST_EPOCH - 60 * DAY);
    // Scheduled 120 days ahead: accepted 60 days ago, still waiting.
    await publish('orders', [{ type: 'order.created', id: 'wait-scheduled', delay: 120 * 24 * 3600 }]);
    await publish('orders', [{ type: 'order.created', id: 'wait-retrying' }]);
    // One subscription succeeds; the other fails with retries left (pending, one attempt logged).
    const first = await settleDue((eventId, subscriptionId) =>
      eventId === 'wait-retrying' && subscriptionId === firstSubscription
        ? { kind: 'retry', nextAttemptAt: TEST_EPOCH + DAY }
        : { kind: 'succeeded' },
    );
    assert.equal(first.length, 2);
    const retrying = first.find((d) => d.subscriptionId === firstSubscription);
    const done = first.find((d) => d.subscriptionId !== firstSubscription);
    assert.ok(retrying && done);

    api().clock.set(TEST_EPOCH);
    const totals = await pruner(1).runPass();
    assert.deepEqual({ ...totals, rounds: 0 }, { deliveries: 1, attempts: 1, events: 0, rounds: 0 });
    assert.equal(await eventStatus('wait-scheduled'), 200);
    assert.deepEqual((await deliveriesOf('wait-scheduled')).map((d) => d.status), ['scheduled', 'scheduled']);
    assert.equal(await eventStatus('wait-retrying'), 200);
    assert.deepEqual((await deliveriesOf('wait-retrying')).map((d) => [d.id, d.status]), [[retrying.id, 'pending']]);
    assert.equal((await attemptsOf(retrying.id)).length, 1);

    // The retry fails for good (so does the recent delivery the first test left waiting): now the
    // delivery, its two attempts and the event go.
    api().clock.set(TEST_EPOCH + DAY);
    const last = await settleDue(() => ({ kind: 'failed', gone: false }));
    assert.ok(last.some((d) => d.id === retrying.id));
    assert.deepEqual({ ...(await pruner(1).runPass()), rounds: 0 }, { deliveries: 1, attempts: 2, events: 1, rounds: 0 });
    assert.equal(await eventStatus('wait-retrying'), 404);
    assert.equal(await eventStatus('wait-scheduled'), 200);
  });

  test('an event id is a duplicate until its event is pruned, and is accepted again after', async () => {
    api().clock.set(TEST_EPOCH - 31 * DAY);
    const [accepted] = await publish('orders', [{ type: 'order.created', id: 'order-42', data: { v: 1 } }]);
    assert.equal(accepted?.status, 'accepted');
    await settleDue(() => ({ kind: 'succeeded' }));

    // Thirty days later the event is still inside the window: still a duplicate, nothing pruned.
    api().clock.set(TEST_EPOCH - 1 * DAY - 1);
    assert.deepEqual(await publish('orders', [{ type: 'order.created', id: 'order-42' }]), [
      { id: 'order-42', status: 'duplicate', deliveries: 0 },
    ]);
    assert.equal((await pruner().runPass()).events, 0);
    assert.deepEqual(await publish('orders', [{ type: 'order.created', id: 'order-42' }]), [
      { id: 'order-42', status: 'duplicate', deliveries: 0 },
    ]);

    api().clock.set(TEST_EPOCH);
    assert.equal((await pruner().runPass()).events, 1);
    assert.deepEqual(await publish('orders', [{ type: 'order.created', id: 'order-42', data: { v: 2 } }]), [
      { id: 'order-42', status: 'accepted', deliveries: 2 },
    ]);
    const shown = await call('GET', '/v1/events/order-42');
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.data, { v: 2 });
    assert.deepEqual(await publish('orders', [{ type: 'order.created', id: 'order-42' }]), [
      { id: 'order-42', status: 'duplicate', deliveries: 0 },
    ]);
  });
});
