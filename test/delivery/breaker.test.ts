/**
 * The circuit breaker end to end (issue 13 item 7), in-process through real receivers: a hanging
 * subscription with a backlog gets its retries on schedule while its first attempts wait, opens
 * its breaker (stats and an operational event say so), another subscription keeps its pace, and
 * the breaker closes once the receiver answers again, after which the backlog is delivered.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type Caller, describeApi } from '../../src/testing/test-app.ts';

describeApi(
  'circuit breaker',
  (api) => {
    let admin: Caller;
    const receivers: TestReceiver[] = [];
    const call = (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });
    const receiver = async (script?: ConstructorParameters<typeof TestReceiver>[0]) => {
      const r = await new TestReceiver(script).start();
      receivers.push(r);
      return r;
    };

    before(async () => {
      admin = await api().environment();
      assert.equal((await call('POST', '/v1/event-types', { name: 'job.done' })).status, 201);
      for (const topic of ['hangs', 'fine']) {
        assert.equal((await call('POST', '/v1/topics', { name: topic, eventTypes: ['job.done'] })).status, 201);
      }
    });
    after(async () => {
      for (const r of receivers) await r.stop();
    });

    const subscribe = async (topic: string, body: Record<string, unknown>) => {
      const created = await call('POST', `/v1/topics/${topic}/subscriptions`, { name: `s-${topic}`, ...body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.id as string;
    };
    const publish = async (topic: string, from: number, count: number) => {
      const events = Array.from({ length: count }, (_, i) => ({ id: `${topic}-${from + i}`, type: 'job.done', data: { n: from + i } }));
      const answer = await call('POST', `/v1/topics/${topic}/events/publish`, { events });
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
    };
    const breakerOf = async (id: string) => (await call('GET', `/v1/subscriptions/${id}/stats`)).body.breaker as { state: string; failures: number };
    const deliveriesOf = async (id: string) =>
      (await call('GET', `/v1/subscriptions/${id}/deliveries?limit=250`)).body.data as { status: string; attempts: number }[];

    test('a hanging subscription opens its breaker, keeps its retries going, does not slow another, and closes on recovery', async () => {
      let hanging = true;
      const hook = await receiver(() => (hanging ? { status: 200, delayMs: 3000 } : { status: 200 }));
      const fine = await receiver();
      const ops = await receiver();
      await subscribe('herald.operational', {
        url: ops.url,
        events: ['herald.subscription.breaker_opened', 'herald.subscription.breaker_closed'],
      });
      const hangs = await subscribe('hangs', { url: hook.url, timeoutMs: 200, maxRetries: 25, disableAfterFailures: 1000 });
      const steady = await subscribe('fine', { url: fine.url });
      await publish('hangs', 0, 100);

      await eventually(async () => ((await breakerOf(hangs)).state === 'open' ? true : undefined), 10_000, 'the breaker opened');
      const opened = await eventually(
        async () => ops.received.find((r) => JSON.parse(r.body).type === 'herald.subscription.breaker_opened'),
        10_000,
        'breaker_opened was published',
      );
      assert.equal(JSON.parse(opened.body).data.subscriptionId, hangs);

      // Its retries go on (on a 100/200 ms schedule), while the backlog's first attempts wait.
      await eventually(
        async () => ((await deliveriesOf(hangs)).some((d) => d.attempts >= 4) ? true : undefined),
        10_000,
        'retries kept their schedule',
      );
      const untouched = (await deliveriesOf(hangs)).filter((d) => d.attempts === 0).length;
      assert.ok(untouched >= 80, `first attempts wait while it is open (${untouched} of 100 untouched)`);

      // Another subscription keeps its pace meanwhile.
      const started = Date.now();
      await publish('fine', 0, 50);
      await fine.waitFor(50, 5000);
      assert.ok(Date.now() - started < 3000, `the other subscription's 50 took ${Date.now() - started} ms`);
      assert.equal((await breakerOf(steady)).state, 'closed');

      // The receiver recovers: a retry or a probe succeeds, the breaker closes, the backlog goes.
      hanging = false;
      await eventually(async () => ((await breakerOf(hangs)).state === 'closed' ? true : undefined), 15_000, 'the breaker closed');
      await eventually(
        async () => ops.received.find((r) => JSON.parse(r.body).type === 'herald.subscription.breaker_closed'),
        10_000,
        'breaker_closed was published',
      );
      await eventually(
        async () => ((await deliveriesOf(hangs)).filter((d) => d.status === 'succeeded').length === 100 ? true : undefined),
        20_000,
        'the backlog was delivered',
      );
    });
  },
  { worker: { retryScheduleMs: [100, 200], perSubscriptionCap: 4 } },
);
