/**
 * Scheduled delivery (SPEC §4 Publishing, Logs): `delay` (seconds) and `timestamp` (ms, or seconds
 * below 100000000000) hold the delivery `scheduled` until `timestamp + delay`; a scheduled event
 * can be cancelled (POST /v1/events/{id}/cancel) and then never arrives; once its delivery has
 * started, cancelling is a 409.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type Caller, describeApi } from '../../src/testing/test-app.ts';

describeApi(
  'scheduling',
  (api) => {
    let admin: Caller;
    const receivers: TestReceiver[] = [];
    const receiver = async () => {
      const r = await new TestReceiver().start();
      receivers.push(r);
      return r;
    };
    const call = (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });

    before(async () => {
      admin = await api().environment();
      assert.equal((await call('POST', '/v1/event-types', { name: 'job.due' })).status, 201);
    });
    after(async () => {
      for (const r of receivers) await r.stop();
    });

    /** A topic of its own with one subscription to a new receiver, and a publish to it. */
    const subscribed = async () => {
      const hook = await receiver();
      const topic = `jobs-${receivers.length}`;
      assert.equal((await call('POST', '/v1/topics', { name: topic, eventTypes: ['job.due'] })).status, 201);
      const created = await call('POST', `/v1/topics/${topic}/subscriptions`, { name: 'only', url: hook.url });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const publish = async (events: unknown[]) => {
        const answer = await call('POST', `/v1/topics/${topic}/events/publish`, { events });
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
        return answer.body.events as { id: string; status: string; deliveries: number }[];
      };
      return { hook, subscriptionId: created.body.id as string, publish };
    };
    const shown = async (id: string) => {
      const answer = await call('GET', `/v1/events/${id}`);
      assert.equal(answer.status, 200);
      return answer.body as { deliverAt: string; cancelledAt: string | null; deliveries: { id: string; status: string; nextAttemptAt: string }[] };
    };
    const arrivalOf = (hook: TestReceiver, id: string, timeoutMs = 6000) =>
      eventually(async () => hook.received.find((r) => r.headers['webhook-id'] === id), timeoutMs, `${id} to arrive`);

    test('delay: 1 holds the delivery scheduled for a second', async () => {
      const { hook, publish } = await subscribed();
      const before = Date.now();
      const [published] = await publish([{ id: 'later-1', type: 'job.due', delay: 1 }]);
      assert.equal(published?.deliveries, 1);
      const event = await shown('later-1');
      const deliverAt = Date.parse(event.deliverAt);
      assert.ok(deliverAt >= before + 1000, `deliverAt ${event.deliverAt}`);
      assert.equal(event.deliveries[0]?.status, 'scheduled');
      assert.equal(event.deliveries[0]?.nextAttemptAt, event.deliverAt);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(hook.received.length, 0);
      assert.equal((await shown('later-1')).deliveries[0]?.status, 'scheduled');

      const arrived = await arrivalOf(hook, 'later-1');
      assert.ok(arrived.at >= deliverAt, `arrived ${arrived.at - deliverAt} ms before deliverAt`);
      assert.ok(arrived.at >= before + 1000);
      await eventually(async () => (await shown('later-1')).deliveries[0]?.status === 'succeeded', 5000, 'succeeded');
    });

    test('timestamp in milliseconds, in seconds, in the past, and with a delay', async () => {
      const { hook, publish } = await subscribed();
      const now = Date.now();
      const inMs = now + 1000;
      const inSeconds = Math.floor(now / 1000) + 2;
      const pastSeconds = Math.floor(now / 1000) - 60;
      const published = await publish([
        { id: 'ts-ms', type: 'job.due', timestamp: inMs },
        { id: 'ts-s', type: 'job.due', timestamp: inSeconds },
        { id: 'ts-past', type: 'job.due', timestamp: pastSeconds },
        { id: 'ts-delay', type: 'job.due', timestamp: now - 10_000, delay: 11 },
      ]);
      assert.deepEqual(
        published.map((e) => e.deliveries),
        [1, 1, 1, 1],
      );
      assert.equal((await shown('ts-ms')).deliverAt, new Date(inMs).toISOString());
      assert.equal((await shown('ts-s')).deliverAt, new Date(inSeconds * 1000).toISOString());
      assert.equal((await shown('ts-past')).deliverAt, new Date(pastSeconds * 1000).toISOString());
      assert.equal((await shown('ts-delay')).deliverAt, new Date(now + 1000).toISOString());
      for (const id of ['ts-ms', 'ts-s', 'ts-delay']) {
        const status = (await shown(id)).deliveries[0]?.status;
        assert.ok(status === 'scheduled', `${id} is ${status}`);
      }

      // A timestamp already past is due at once.
      const past = await arrivalOf(hook, 'ts-past', 3000);
      assert.ok(past.at < inMs, 'the past timestamp did not wait');
      const ms = await arrivalOf(hook, 'ts-ms');
      assert.ok(ms.at >= inMs, `ts-ms arrived ${inMs - ms.at} ms early`);
      const withDelay = await arrivalOf(hook, 'ts-delay');
      assert.ok(withDelay.at >= now + 1000, `ts-delay arrived ${now + 1000 - withDelay.at} ms early`);
      const seconds = await arrivalOf(hook, 'ts-s');
      assert.ok(seconds.at >= inSeconds * 1000, `ts-s arrived ${inSeconds * 1000 - seconds.at} ms early`);
    });

    test('cancelling a scheduled event: it never arrives, its delivery is cancelled', async () => {
      const { hook, subscriptionId, publish } = await subscribed();
      await publish([
        { id: 'cancel-me', type: 'job.due', delay: 2 },
        { id: 'keep-me', type: 'job.due', delay: 2 },
      ]);
      const cancelled = await call('POST', '/v1/events/cancel-me/cancel');
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      assert.equal(cancelled.body.id, 'cancel-me');
      assert.equal(cancelled.body.cancelledDeliveries, 1);
      assert.ok(cancelled.body.cancelledAt);
      const event = await shown('cancel-me');
      assert.equal(event.deliveries[0]?.status, 'cancelled');
      assert.ok(event.cancelledAt);

      // The other event, due at the same moment, arrives; the cancelled one does not, even a while after.
      await arrivalOf(hook, 'keep-me');
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(
        hook.received.map((r) => r.headers['webhook-id']),
        ['keep-me'],
      );
      assert.equal((await shown('cancel-me')).deliveries[0]?.status, 'cancelled');
      const cancelledList = await call('GET', `/v1/subscriptions/${subscriptionId}/deliveries?status=cancelled`);
      assert.deepEqual(
        cancelledList.body.data.map((d: { eventId: string }) => d.eventId),
        ['cancel-me'],
      );
    });

    test('cancel: 409 once delivery has started, 404 for an unknown or foreign event', async () => {
      const { hook, publish } = await subscribed();
      await publish([{ id: 'now-1', type: 'job.due' }]);
      await arrivalOf(hook, 'now-1');
      const late = await call('POST', '/v1/events/now-1/cancel');
      assert.equal(late.status, 409);
      assert.match(String(late.headers['content-type']), /application\/problem\+json/);
      assert.equal((await shown('now-1')).cancelledAt, null);

      assert.equal((await call('POST', '/v1/events/no-such-event/cancel')).status, 404);

      // A scheduled event of another environment is not reachable from here.
      await publish([{ id: 'mine-later', type: 'job.due', delay: 30 }]);
      const other = await api().environment('other');
      const foreign = await api().call('POST', '/v1/events/mine-later/cancel', { as: other });
      assert.equal(foreign.status, 404);
      assert.equal((await shown('mine-later')).deliveries[0]?.status, 'scheduled');
      // Clean up so the worker has nothing pending when the suite ends.
      assert.equal((await call('POST', '/v1/events/mine-later/cancel')).status, 200);
    });
  },
  { worker: { retryScheduleMs: [20, 40] } },
);
