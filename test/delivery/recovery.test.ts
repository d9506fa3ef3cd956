/**
 * Getting deliveries back on track and looking at them (SPEC §4 Subscriptions, Logs; §5):
 * signing across a secret rotation, replay (same webhook-id), manual retry, per-subscription
 * stats and delivery lists, and who may read the logs (subscriber keys: topics they see only;
 * publisher keys: not at all).
 *
 * perSubscriptionCap 1: one request in flight per subscription, so a second delivery waits
 * `pending` behind a slow first one.
 *
 * Leases (SPEC §5, at-least-once): a delivery held by a worker that died is claimed again once
 * its lease expires; a lease is renewed while its request is in flight, so a slow request is not
 * sent twice.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { type Reply, TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type Caller, describeApi } from '../../src/testing/test-app.ts';
import { claimDeliveries, settleOne } from '../../src/testing/test-store.ts';

interface DeliveryView {
  id: string;
  eventId: string;
  subscriptionId: string;
  status: string;
  attempts: number;
  lastAttemptAt: string | null;
}

describeApi(
  'recovery and logs',
  (api) => {
    let admin: Caller;
    const receivers: TestReceiver[] = [];
    let topics = 0;
    const receiver = async (script?: (request: { headers: Record<string, unknown> }, index: number) => Reply) => {
      const r = await new TestReceiver(script as ConstructorParameters<typeof TestReceiver>[0]).start();
      receivers.push(r);
      return r;
    };
    const call = (method: string, url: string, body?: unknown, as: Caller = admin) => api().call(method, url, { as, body });

    before(async () => {
      admin = await api().environment();
      assert.equal((await call('POST', '/v1/event-types', { name: 'thing.happened' })).status, 201);
    });
    after(async () => {
      for (const r of receivers) await r.stop();
    });

    /** A topic of its own (optionally owned by an app) with one subscription to `url`. */
    const subscribed = async (url: string, extra: Record<string, unknown> = {}, appId?: string) => {
      const topic = `t-${++topics}`;
      const made = await call('POST', '/v1/topics', { name: topic, eventTypes: ['thing.happened'], ...(appId ? { appId } : {}) });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const created = await call('POST', `/v1/topics/${topic}/subscriptions`, { name: 'sub', url, ...extra });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const publish = async (events: unknown[]) => {
        const answer = await call('POST', `/v1/topics/${topic}/events/publish`, { events });
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
        return answer.body.events as { id: string; deliveries: number }[];
      };
      return { id: created.body.id as string, signingSecret: created.body.signingSecret as string, topic, publish };
    };
    const deliveriesOf = async (subscriptionId: string, query = '') => {
      const answer = await call('GET', `/v1/subscriptions/${subscriptionId}/deliveries${query}`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.data as DeliveryView[];
    };
    /** Waits until the subscription has exactly these event ids in a final state (any order), all with `status`. */
    const settled = (subscriptionId: string, count: number) =>
      eventually(
        async () => {
          const list = await deliveriesOf(subscriptionId);
          return list.length === count && list.every((d) => d.status === 'succeeded' || d.status === 'failed') ? list : undefined;
        },
        6000,
        `${count} settled deliveries`,
      );
    const idsOf = (hook: TestReceiver) => hook.received.map((r) => r.headers['webhook-id'] as string);
    const byEventId = (list: DeliveryView[], eventId: string) => list.find((d) => d.eventId === eventId) as DeliveryView;

    test('after a secret rotation each request carries two signatures; old and new secret each verify it', async () => {
      const hook = await receiver();
      const sub = await subscribed(hook.url);
      const rotated = await call('POST', `/v1/subscriptions/${sub.id}/secret/rotate`, {});
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const fresh = rotated.body.signingSecret as string;
      assert.match(fresh, /^whsec_/);
      assert.notEqual(fresh, sub.signingSecret);
      assert.equal((await call('GET', `/v1/subscriptions/${sub.id}/secret`)).body.signingSecret, fresh);

      await sub.publish([{ id: 'rot-1', type: 'thing.happened', data: { a: 1 } }]);
      await hook.waitFor(1);
      const request = hook.received[0];
      assert.ok(request);
      const headers = request.headers as Record<string, string>;
      const signatures = (headers['webhook-signature'] ?? '').split(' ');
      assert.equal(signatures.length, 2);
      assert.ok(signatures.every((s) => s.startsWith('v1,')));
      // Each secret alone verifies, with the official Standard Webhooks library.
      assert.deepEqual(new Webhook(sub.signingSecret).verify(request.body, headers), JSON.parse(request.body));
      assert.deepEqual(new Webhook(fresh).verify(request.body, headers), JSON.parse(request.body));
      const stranger = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
      assert.throws(() => new Webhook(stranger).verify(request.body, headers));
      // Tampering with the body breaks both.
      assert.throws(() => new Webhook(fresh).verify(`${request.body} `, headers));
    });

    test('replay: events since a time arrive again with the same webhook-id; onlyFailed; bad input', async () => {
      const hook = await receiver();
      const sub = await subscribed(hook.url);
      const since = new Date(Date.now() - 1).toISOString();
      await sub.publish([
        { id: 'rp-1', type: 'thing.happened', data: { n: 1 } },
        { id: 'rp-2', type: 'thing.happened', data: { n: 2 } },
      ]);
      await settled(sub.id, 2);
      assert.deepEqual(idsOf(hook).sort(), ['rp-1', 'rp-2']);

      const replayed = await call('POST', `/v1/subscriptions/${sub.id}/replay`, { since });
      assert.equal(replayed.status, 202, JSON.stringify(replayed.body));
      assert.deepEqual(replayed.body, { queued: 2 });
      await hook.waitFor(4);
      assert.deepEqual(idsOf(hook).sort(), ['rp-1', 'rp-1', 'rp-2', 'rp-2']);
      const first = hook.received.find((r) => r.headers['webhook-id'] === 'rp-1');
      const again = hook.received.slice(2).find((r) => r.headers['webhook-id'] === 'rp-1');
      assert.deepEqual(JSON.parse(again?.body ?? '').data, JSON.parse(first?.body ?? '').data);
      await settled(sub.id, 4);

      // A window that ends before the events: nothing.
      const empty = await call('POST', `/v1/subscriptions/${sub.id}/replay`, {
        since: new Date(Date.now() - 60_000).toISOString(),
        until: since,
      });
      assert.deepEqual(empty.body, { queued: 0 });

      // Bad input: 400 and nothing queued.
      const backwards = await call('POST', `/v1/subscriptions/${sub.id}/replay`, { since, until: since });
      assert.equal(backwards.status, 400);
      const earlier = await call('POST', `/v1/subscriptions/${sub.id}/replay`, {
        since,
        until: new Date(Date.parse(since) - 1000).toISOString(),
      });
      assert.equal(earlier.status, 400);
      for (const body of [{ since: 'yesterday' }, {}, { since: 1700000000000 }, { since, onlyFailed: 'yes' }]) {
        const bad = await call('POST', `/v1/subscriptions/${sub.id}/replay`, body);
        assert.equal(bad.status, 400, JSON.stringify(body));
      }
      // Another environment cannot replay this subscription, nor learn it exists.
      const other = await api().environment('other');
      const foreign = await api().call('POST', `/v1/subscriptions/${sub.id}/replay`, { as: other, body: { since } });
      assert.equal(foreign.status, 404);
      assert.equal((await call('POST', '/v1/subscriptions/sub_nope/replay', { since })).status, 404);
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(hook.received.length, 4);
      assert.equal((await deliveriesOf(sub.id)).length, 4);
    });

    test('replay onlyFailed re-sends only the events whose delivery failed', async () => {
      let failing = true;
      const hook = await receiver((request) => ({
        status: failing && String(request.headers['webhook-id']).startsWith('bad') ? 500 : 200,
      }));
      const sub = await subscribed(hook.url, { maxRetries: 0 });
      const since = new Date(Date.now() - 1).toISOString();
      await sub.publish([
        { id: 'good-1', type: 'thing.happened' },
        { id: 'bad-1', type: 'thing.happened' },
        { id: 'good-2', type: 'thing.happened' },
        { id: 'bad-2', type: 'thing.happened' },
      ]);
      const list = await settled(sub.id, 4);
      assert.equal(byEventId(list, 'bad-1').status, 'failed');
      assert.equal(byEventId(list, 'good-1').status, 'succeeded');

      failing = false;
      const replayed = await call('POST', `/v1/subscriptions/${sub.id}/replay`, { since, onlyFailed: true });
      assert.deepEqual(replayed.body, { queued: 2 });
      await hook.waitFor(6);
      await settled(sub.id, 6);
      assert.deepEqual(idsOf(hook).slice(4).sort(), ['bad-1', 'bad-2']);
      const succeeded = await deliveriesOf(sub.id, '?status=succeeded');
      assert.deepEqual(succeeded.map((d) => d.eventId).sort(), ['bad-1', 'bad-2', 'good-1', 'good-2']);
    });

    test('replay keeps an event that is not due yet on its schedule (and cancellable)', async () => {
      const hook = await receiver();
      const sub = await subscribed(hook.url);
      const since = new Date(Date.now() - 1).toISOString();
      await sub.publish([
        { id: 'due-now', type: 'thing.happened' },
        { id: 'due-later', type: 'thing.happened', delay: 60 },
      ]);
      await hook.waitFor(1);
      const replayed = await call('POST', `/v1/subscriptions/${sub.id}/replay`, { since });
      assert.equal(replayed.status, 202);
      // Both events are in the window; the later one is queued for its own time, not for now.
      assert.deepEqual(replayed.body, { queued: 2 });
      await hook.waitFor(2);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(idsOf(hook), ['due-now', 'due-now']);
      const later = (await call('GET', '/v1/events/due-later')).body;
      assert.equal(later.deliveries.length, 2);
      for (const d of later.deliveries) {
        assert.equal(d.status, 'scheduled');
        assert.equal(d.nextAttemptAt, later.deliverAt);
      }
      // Cancelling the event cancels the replayed delivery too.
      const cancelled = await call('POST', '/v1/events/due-later/cancel');
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.cancelledDeliveries, 2);
    });

    test('manual retry: a failed delivery is sent again (same webhook-id); 409 while on its way', async () => {
      const hook = await receiver((_, i) => (i === 0 ? { status: 500, body: 'no' } : { status: 200 }));
      const sub = await subscribed(hook.url, { maxRetries: 0 });
      await sub.publish([{ id: 'mr-1', type: 'thing.happened' }]);
      const [failed] = await settled(sub.id, 1);
      assert.equal(failed?.status, 'failed');

      const retried = await call('POST', `/v1/deliveries/${failed?.id}/retry`);
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      assert.equal(retried.body.id, failed?.id);
      assert.ok(['pending', 'delivering', 'succeeded'].includes(retried.body.status), retried.body.status);
      await hook.waitFor(2);
      assert.deepEqual(idsOf(hook), ['mr-1', 'mr-1']);
      const done = await eventually(async () => {
        const d = (await call('GET', `/v1/deliveries/${failed?.id}`)).body as DeliveryView;
        return d.status === 'succeeded' ? d : undefined;
      }, 5000, 'retried delivery succeeded');
      assert.equal(done.attempts, 2);
      const attempts = (await call('GET', `/v1/deliveries/${failed?.id}/attempts`)).body.data;
      assert.deepEqual(
        attempts.map((a: { number: number; outcome: string }) => [a.number, a.outcome]),
        [
          [1, 'failed'],
          [2, 'succeeded'],
        ],
      );
      assert.equal((await call('POST', '/v1/deliveries/dlv_nope/retry')).status, 404);

      // A slow receiver: the first delivery is delivering, the second waits pending behind it (cap 1).
      const slow = await receiver(() => ({ status: 200, delayMs: 600 }));
      const busy = await subscribed(slow.url);
      await busy.publish([
        { id: 'busy-1', type: 'thing.happened' },
        { id: 'busy-2', type: 'thing.happened' },
        { id: 'busy-later', type: 'thing.happened', delay: 60 },
      ]);
      await slow.waitFor(1);
      const list = await deliveriesOf(busy.id);
      const inFlight = byEventId(list, slow.received[0]?.headers['webhook-id'] as string);
      const waiting = list.find((d) => d.eventId !== inFlight.eventId && d.eventId !== 'busy-later') as DeliveryView;
      const later = byEventId(list, 'busy-later');
      assert.equal(inFlight.status, 'delivering');
      assert.equal(waiting.status, 'pending');
      assert.equal(later.status, 'scheduled');
      for (const d of [inFlight, waiting, later]) {
        const refused = await call('POST', `/v1/deliveries/${d.id}/retry`);
        assert.equal(refused.status, 409, `retry of a ${d.status} delivery`);
      }
      assert.equal((await call('POST', '/v1/events/busy-later/cancel')).status, 200);
      await eventually(async () => {
        const now = await deliveriesOf(busy.id, '?status=succeeded');
        return now.length === 2;
      }, 5000, 'both busy deliveries succeeded');
      assert.equal(slow.received.length, 2);
    });

    test('retry and replay are refused (409) on a disabled subscription, and retry of a cancelled event', async () => {
      const hook = await receiver();
      const sub = await subscribed(hook.url);
      const [sent] = await sub.publish([{ type: 'thing.happened', data: { n: 1 } }]);
      const [done] = await settled(sub.id, 1);
      assert.equal(done?.status, 'succeeded');
      assert.equal((await call('POST', `/v1/subscriptions/${sub.id}/disable`)).status, 200);
      const retried = await call('POST', `/v1/deliveries/${done?.id}/retry`);
      assert.equal(retried.status, 409, JSON.stringify(retried.body));
      const replayed = await call('POST', `/v1/subscriptions/${sub.id}/replay`, { since: '2000-01-01T00:00:00Z' });
      assert.equal(replayed.status, 409, JSON.stringify(replayed.body));
      assert.equal((await call('POST', `/v1/subscriptions/${sub.id}/enable`)).status, 200);
      // A scheduled event cancelled: its cancelled delivery is not sent by a manual retry.
      const [later] = await sub.publish([{ type: 'thing.happened', data: { n: 2 }, delay: 60 }]);
      assert.equal((await call('POST', `/v1/events/${later?.id}/cancel`)).status, 200);
      const cancelled = (await deliveriesOf(sub.id)).find((d) => d.eventId === later?.id);
      assert.equal(cancelled?.status, 'cancelled');
      const refused = await call('POST', `/v1/deliveries/${cancelled?.id}/retry`);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.deepEqual(idsOf(hook), [sent?.id]);
    });

    test('stats: counts by status, success rate, last attempt, latency; deliveries filtered by status', async () => {
      const hook = await receiver((request) => ({ status: String(request.headers['webhook-id']).startsWith('st-bad') ? 500 : 204 }));
      const sub = await subscribed(hook.url, { maxRetries: 1 });
      const empty = await call('GET', `/v1/subscriptions/${sub.id}/stats`);
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.body, {
        counts: { scheduled: 0, pending: 0, delivering: 0, succeeded: 0, failed: 0, cancelled: 0 },
        successRate: null,
        lastAttemptAt: null,
        latencyMs: { p50: null, p99: null },
        breaker: { state: 'closed', openedAt: null, failures: 0, nextProbeAt: null },
      });

      const started = Date.now();
      await sub.publish([
        { id: 'st-ok-1', type: 'thing.happened' },
        { id: 'st-ok-2', type: 'thing.happened' },
        { id: 'st-bad-1', type: 'thing.happened' },
        { id: 'st-ok-3', type: 'thing.happened' },
        { id: 'st-later', type: 'thing.happened', delay: 60 },
      ]);
      await eventually(async () => (await deliveriesOf(sub.id)).filter((d) => d.status === 'succeeded' || d.status === 'failed').length === 4, 6000, 'four settled');
      const stats = await call('GET', `/v1/subscriptions/${sub.id}/stats`);
      assert.equal(stats.status, 200);
      assert.deepEqual(stats.body.counts, { scheduled: 1, pending: 0, delivering: 0, succeeded: 3, failed: 1, cancelled: 0 });
      // Attempts: 3 succeeded, 2 failed (st-bad-1 and its one retry).
      assert.equal(stats.body.successRate, 3 / 5);
      const last = Date.parse(stats.body.lastAttemptAt);
      assert.ok(last >= started - 5 && last <= Date.now(), stats.body.lastAttemptAt);
      const { p50, p99 } = stats.body.latencyMs;
      assert.equal(typeof p50, 'number');
      assert.equal(typeof p99, 'number');
      assert.ok(p50 >= 0 && p99 >= p50 && p99 < 5000, JSON.stringify(stats.body.latencyMs));
      // Two failed attempts, then successes: the breaker counted them and closed its count again.
      assert.equal(stats.body.breaker.state, 'closed');

      const failed = await deliveriesOf(sub.id, '?status=failed');
      assert.deepEqual(
        failed.map((d) => [d.eventId, d.status, d.attempts]),
        [['st-bad-1', 'failed', 2]],
      );
      const succeeded = await deliveriesOf(sub.id, '?status=succeeded');
      assert.deepEqual(succeeded.map((d) => d.eventId).sort(), ['st-ok-1', 'st-ok-2', 'st-ok-3']);
      assert.deepEqual((await deliveriesOf(sub.id, '?status=scheduled')).map((d) => d.eventId), ['st-later']);
      assert.equal((await deliveriesOf(sub.id)).length, 5);
      const page = await call('GET', `/v1/subscriptions/${sub.id}/deliveries?limit=2`);
      assert.equal(page.body.data.length, 2);
      assert.equal(page.body.meta.hasNextPage, true);
      assert.equal((await call('GET', `/v1/subscriptions/${sub.id}/deliveries?status=lost`)).status, 400);
      assert.equal((await call('GET', '/v1/subscriptions/sub_nope/stats')).status, 404);
      assert.equal((await call('POST', '/v1/events/st-later/cancel')).status, 200);
    });

    test('subscriber keys read the logs of topics they see (404 elsewhere); publisher keys get 403', async () => {
      const app = await call('POST', '/v1/apps', { name: 'private-app', permissions: ['secret:read'] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const hook = await receiver();
      const open = await subscribed(hook.url);
      const closed = await subscribed(hook.url, {}, app.body.id as string);
      await open.publish([{ id: 'log-open', type: 'thing.happened' }]);
      await closed.publish([{ id: 'log-closed', type: 'thing.happened' }]);
      const [openDelivery] = await settled(open.id, 1);
      const [closedDelivery] = await settled(closed.id, 1);
      assert.ok(openDelivery && closedDelivery);

      const subscriber = await api().key(admin, 'subscriber');
      const insider = await api().key(admin, 'subscriber', ['secret:read']);
      const publisher = await api().key(admin, 'publisher');

      // Visible topic: the delivery, its attempts, the subscription's list and stats.
      for (const as of [subscriber, insider]) {
        const d = await call('GET', `/v1/deliveries/${openDelivery.id}`, undefined, as);
        assert.equal(d.status, 200);
        assert.equal(d.body.eventId, 'log-open');
        const attempts = await call('GET', `/v1/deliveries/${openDelivery.id}/attempts`, undefined, as);
        assert.equal(attempts.status, 200);
        assert.equal(attempts.body.data.length, 1);
        assert.equal((await call('GET', `/v1/subscriptions/${open.id}/deliveries`, undefined, as)).status, 200);
        assert.equal((await call('GET', `/v1/subscriptions/${open.id}/stats`, undefined, as)).status, 200);
      }
      // The app's topic: only with the app's permission; without it, as if nothing were there.
      const insiderView = await call('GET', `/v1/deliveries/${closedDelivery.id}`, undefined, insider);
      assert.equal(insiderView.status, 200);
      for (const [method, url, body] of [
        ['GET', `/v1/deliveries/${closedDelivery.id}`],
        ['GET', `/v1/deliveries/${closedDelivery.id}/attempts`],
        ['POST', `/v1/deliveries/${closedDelivery.id}/retry`],
        ['GET', `/v1/subscriptions/${closed.id}/deliveries`],
        ['GET', `/v1/subscriptions/${closed.id}/stats`],
        ['POST', `/v1/subscriptions/${closed.id}/replay`, { since: new Date(0).toISOString() }],
      ] as [string, string, unknown?][]) {
        const answer = await call(method, url, body, subscriber);
        assert.equal(answer.status, 404, `${method} ${url} as a subscriber without the permission`);
      }
      // Publishers publish; the delivery log is not theirs.
      for (const [method, url] of [
        ['GET', `/v1/deliveries/${openDelivery.id}`],
        ['GET', `/v1/deliveries/${openDelivery.id}/attempts`],
        ['POST', `/v1/deliveries/${openDelivery.id}/retry`],
      ] as [string, string][]) {
        const answer = await call(method, url, undefined, publisher);
        assert.equal(answer.status, 403, `${method} ${url} as a publisher`);
      }
      // A subscriber key may retry a finished delivery it can see.
      const retried = await call('POST', `/v1/deliveries/${openDelivery.id}/retry`, undefined, subscriber);
      assert.equal(retried.status, 202);
      await eventually(async () => idsOf(hook).filter((id) => id === 'log-open').length === 2, 5000, 'retried by a subscriber');
      await settled(open.id, 1);
      assert.equal(idsOf(hook).filter((id) => id === 'log-closed').length, 1);
    });
  },
  { worker: { retryScheduleMs: [20, 40], perSubscriptionCap: 1 } },
);

describeApi(
  'leases',
  (api) => {
    let admin: Caller;
    const receivers: TestReceiver[] = [];
    let topics = 0;
    const call = (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });
    before(async () => {
      admin = await api().environment();
      assert.equal((await call('POST', '/v1/event-types', { name: 'thing.happened' })).status, 201);
    });
    after(async () => {
      for (const r of receivers) await r.stop();
    });
    const subscribedTo = async (hook: TestReceiver) => {
      receivers.push(hook);
      const topic = `l-${++topics}`;
      assert.equal((await call('POST', '/v1/topics', { name: topic, eventTypes: ['thing.happened'] })).status, 201);
      const created = await call('POST', `/v1/topics/${topic}/subscriptions`, { name: 'sub', url: hook.url });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return {
        id: created.body.id as string,
        publish: async (events: unknown[]) => {
          const answer = await call('POST', `/v1/topics/${topic}/events/publish`, { events });
          assert.equal(answer.status, 202, JSON.stringify(answer.body));
        },
      };
    };
    const deliveryOf = async (eventId: string) =>
      (await call('GET', `/v1/events/${eventId}`)).body.deliveries[0] as { id: string; status: string; attempts: number };

    test('a delivery held by a dead worker is claimed again once its lease expires', async () => {
      const hook = await new TestReceiver().start();
      const sub = await subscribedTo(hook);
      const dueAt = Date.now() + 800; // time enough to claim it before the live worker would
      await sub.publish([{ id: 'orphan-1', type: 'thing.happened', timestamp: dueAt }]);
      // Another worker takes it (as of its due time) and dies holding a 300 ms lease.
      const claimed = await claimDeliveries(api().deps.store, {
        workerId: 'worker-that-dies',
        now: dueAt,
        limit: 100,
        perSubscriptionCap: 16,
        leaseMs: 300,
      });
      assert.deepEqual(
        claimed.map((d) => d.eventId),
        ['orphan-1'],
      );
      assert.equal((await deliveryOf('orphan-1')).status, 'delivering');
      await hook.waitFor(1, 5000);
      const arrival = hook.received[0];
      assert.ok(arrival && arrival.at >= dueAt + 300, 'not before the lease expired');
      assert.equal(arrival.headers['webhook-id'], 'orphan-1');
      const settled = await eventually(async () => {
        const d = await deliveryOf('orphan-1');
        return d.status === 'succeeded' ? d : undefined;
      }, 5000, 'orphan delivered');
      assert.equal(settled.attempts, 1);
      // The dead worker's late settle changes nothing: the delivery is no longer its own.
      const late = await settleOne(api().deps.store, {
        environmentId: admin.environmentId,
        deliveryId: settled.id,
        workerId: 'worker-that-dies',
        attempt: {
          id: 'att_late',
          deliveryId: settled.id,
          subscriptionId: sub.id,
          number: 1,
          startedAt: dueAt,
          durationMs: 1,
          requestHeaders: {},
          responseStatus: 500,
          responseBody: '',
          error: { kind: 'http_status', message: 'late' },
          outcome: 'failed',
        },
        decision: { kind: 'failed', gone: false },
        now: Date.now(),
      });
      assert.equal(late.settled, false);
      assert.equal((await deliveryOf('orphan-1')).status, 'succeeded');
    });

    test('a request slower than the lease keeps its lease: it is sent once', async () => {
      const hook = await new TestReceiver(() => ({ status: 200, delayMs: 1000 })).start();
      const sub = await subscribedTo(hook);
      await sub.publish([{ id: 'slow-lease', type: 'thing.happened' }]);
      await hook.waitFor(1, 5000);
      await new Promise((r) => setTimeout(r, 700)); // past two lease lengths, request still in flight
      assert.equal((await deliveryOf('slow-lease')).status, 'delivering');
      await eventually(async () => (await deliveryOf('slow-lease')).status === 'succeeded', 5000, 'slow delivery succeeded');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(hook.received.length, 1);
      assert.equal((await deliveryOf('slow-lease')).attempts, 1);
    });
  },
  { worker: { retryScheduleMs: [20, 40], leaseMs: 300 } },
);
