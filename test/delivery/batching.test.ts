/**
 * Batching end to end (SPEC §4 `batch`, §5), in-process through real receivers: batches closed by
 * size and by time, their bodies parsed by the CloudEvents SDK and their signatures verified by
 * the Standard Webhooks and Svix libraries; a failed batch retried whole under the same `bat_…`
 * id; each event's delivery pointing at its batch, with the batch's attempts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HTTP } from 'cloudevents';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { type Received, TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type Caller, describeApi } from '../../src/testing/test-app.ts';

describeApi(
  'batching',
  (api) => {
    let admin: Caller;
    const receivers: TestReceiver[] = [];
    let topics = 0;
    const receiver = async (script?: ConstructorParameters<typeof TestReceiver>[0]) => {
      const r = await new TestReceiver(script).start();
      receivers.push(r);
      return r;
    };
    const call = (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });

    before(async () => {
      admin = await api().environment();
      assert.equal((await call('POST', '/v1/event-types', { name: 'order.created' })).status, 201);
    });
    after(async () => {
      for (const r of receivers) await r.stop();
    });

    /** A topic of its own with one batching subscription to `url`. */
    const subscribed = async (url: string, extra: Record<string, unknown>) => {
      const topic = `batch-${++topics}`;
      assert.equal((await call('POST', '/v1/topics', { name: topic, eventTypes: ['order.created'] })).status, 201);
      const created = await call('POST', `/v1/topics/${topic}/subscriptions`, { name: 'sub', url, ...extra });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const publish = async (events: unknown[]) => {
        const answer = await call('POST', `/v1/topics/${topic}/events/publish`, { events });
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
      };
      return { id: created.body.id as string, secret: created.body.signingSecret as string, publish };
    };
    const orders = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ id: `ord-${from + i}`, type: 'order.created', data: { n: from + i } }));
    const verify = (secret: string, request: Received) => {
      const headers = request.headers as Record<string, string>;
      new StandardWebhook(secret).verify(request.body, headers);
      new SvixWebhook(secret).verify(request.body, {
        'svix-id': headers['webhook-id'] as string,
        'svix-timestamp': headers['webhook-timestamp'] as string,
        'svix-signature': headers['webhook-signature'] as string,
      });
    };

    test('closed by size: maxEvents events per request, a cloudevents batch signed as one body', async () => {
      const hook = await receiver();
      const sub = await subscribed(hook.url, { batch: { maxEvents: 5, maxWaitMs: 60_000 } });
      await sub.publish(orders(0, 7));
      await sub.publish(orders(7, 3));
      await hook.waitFor(2, 10_000);
      // Two full batches of five; nothing else within a second (the rest would wait a minute).
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(hook.received.length, 2);
      const seen: number[] = [];
      const batchIds = new Set<string>();
      for (const request of hook.received) {
        verify(sub.secret, request);
        const headers = request.headers as Record<string, string>;
        assert.match(headers['content-type'] as string, /^application\/cloudevents-batch\+json/);
        assert.match(headers['webhook-id'] as string, /^bat_/);
        batchIds.add(headers['webhook-id'] as string);
        const events = HTTP.toEvent({ headers, body: request.body });
        assert.ok(Array.isArray(events));
        assert.equal(events.length, 5);
        for (const event of events) {
          assert.equal(event.type, 'order.created');
          seen.push((event.data as { n: number }).n);
        }
      }
      assert.equal(batchIds.size, 2);
      assert.deepEqual(
        seen.sort((a, b) => a - b),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
    });

    test('closed by time: whatever is due once the oldest has waited maxWaitMs; format data is a JSON array of data', async () => {
      const hook = await receiver();
      const sub = await subscribed(hook.url, { format: 'data', batch: { maxEvents: 100, maxWaitMs: 300 } });
      const started = Date.now();
      await sub.publish(orders(100, 3));
      await hook.waitFor(1, 10_000);
      const request = hook.received[0] as Received;
      assert.ok(request.at - started >= 250, `sent after the wait (${request.at - started} ms)`);
      verify(sub.secret, request);
      assert.equal((request.headers as Record<string, string>)['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(request.body), [{ n: 100 }, { n: 101 }, { n: 102 }]);
    });

    test('a failed batch is retried whole under its id; each delivery points at its batch and shows its attempts', async () => {
      const hook = await receiver((_request, index) => ({ status: index < 2 ? 500 : 200 }));
      const sub = await subscribed(hook.url, { batch: { maxEvents: 4, maxWaitMs: 60_000 } });
      await sub.publish(orders(200, 4));
      await hook.waitFor(3, 10_000);
      const ids = hook.received.map((r) => (r.headers as Record<string, string>)['webhook-id']);
      assert.equal(new Set(ids).size, 1, `one batch id on every retry: ${ids.join(', ')}`);
      assert.deepEqual(
        hook.received.map((r) => r.body),
        [hook.received[0]?.body, hook.received[0]?.body, hook.received[0]?.body],
      );
      const deliveries = await eventually(async () => {
        const listed = await call('GET', `/v1/subscriptions/${sub.id}/deliveries`);
        const data = listed.body.data as { id: string; status: string; batchId: string; attempts: number }[];
        return data.length === 4 && data.every((d) => d.status === 'succeeded') ? data : undefined;
      }, 10_000, 'the batch settled');
      for (const delivery of deliveries) {
        assert.equal(delivery.batchId, ids[0]);
        assert.equal(delivery.attempts, 3);
        const attempts = await call('GET', `/v1/deliveries/${delivery.id}/attempts`);
        assert.deepEqual(
          (attempts.body.data as { deliveryId: string; number: number; outcome: string }[]).map((a) => [a.deliveryId, a.number, a.outcome]),
          [
            [ids[0], 1, 'failed'],
            [ids[0], 2, 'failed'],
            [ids[0], 3, 'succeeded'],
          ],
        );
      }
    });
  },
  { worker: { retryScheduleMs: [20, 40] } },
);
