/**
 * Delivery end to end, in-process: publish → fan-out → worker → a real receiver, judged by the
 * official Standard Webhooks, Svix and CloudEvents libraries; retries and the attempt log.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HTTP } from 'cloudevents';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { type Caller, describeApi } from '../../src/testing/test-app.ts';
import { TestReceiver, eventually } from '../../src/testing/receiver.ts';

describeApi(
  'delivery',
  (api) => {
    let admin: Caller;
    const receivers: TestReceiver[] = [];
    const receiver = async (script?: ConstructorParameters<typeof TestReceiver>[0]) => {
      const r = await new TestReceiver(script).start();
      receivers.push(r);
      return r;
    };

    before(async () => {
      admin = await api().environment();
      const ok = await api().call('POST', '/v1/event-types', {
        as: admin,
        body: { name: 'order.created', schema: { type: 'object' } },
      });
      assert.equal(ok.status, 201);
      assert.equal((await api().call('POST', '/v1/topics', { as: admin, body: { name: 'orders', eventTypes: ['order.created'] } })).status, 201);
    });
    after(async () => {
      for (const r of receivers) await r.stop();
    });

    const subscribe = async (url: string, extra: Record<string, unknown> = {}) => {
      const created = await api().call('POST', '/v1/topics/orders/subscriptions', {
        as: admin,
        body: { name: `s-${Math.random().toString(36).slice(2, 8)}`, url, ...extra },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body as { id: string; signingSecret: string };
    };

    const publish = async (events: unknown[]) => {
      const answer = await api().call('POST', '/v1/topics/orders/events/publish', { as: admin, body: { events } });
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      return answer.body.events as { id: string; status: string; deliveries: number }[];
    };

    test('an event arrives signed (Standard Webhooks and Svix verify it) as a CloudEvent', async () => {
      const hook = await receiver();
      const sub = await subscribe(hook.url, { headers: { 'x-team': 'billing' }, secretHeaderName: 'x-secret', secretHeaderValue: 's3cret', language: 'de-DE' });
      const [published] = await publish([{ id: 'ord-1', type: 'order.created', data: { total: 12.5, note: 'grüße' }, subject: 'order/1' }]);
      assert.equal(published?.deliveries, 1);
      await hook.waitFor(1);
      const request = hook.received[0];
      assert.ok(request);
      const headers = request.headers as Record<string, string>;
      assert.equal(headers['webhook-id'], 'ord-1');
      assert.equal(headers['content-type'], 'application/cloudevents+json; charset=utf-8');
      assert.equal(headers['content-language'], 'de-DE');
      assert.equal(headers['x-team'], 'billing');
      assert.equal(headers['x-secret'], 's3cret');
      assert.match(headers['user-agent'] ?? '', /^Herald\//);
      new StandardWebhook(sub.signingSecret).verify(request.body, headers);
      new SvixWebhook(sub.signingSecret).verify(request.body, {
        'svix-id': headers['webhook-id'] as string,
        'svix-timestamp': headers['webhook-timestamp'] as string,
        'svix-signature': headers['webhook-signature'] as string,
      });
      const event = HTTP.toEvent({ headers, body: request.body });
      const single = Array.isArray(event) ? event[0] : event;
      assert.equal(single?.id, 'ord-1');
      assert.equal(single?.type, 'order.created');
      assert.equal(single?.subject, 'order/1');
      assert.deepEqual(single?.data, { total: 12.5, note: 'grüße' });
      assert.equal((single as unknown as Record<string, unknown>).topic, 'orders');

      const delivered = await eventually(async () => {
        const shown = await api().call('GET', '/v1/events/ord-1', { as: admin });
        const d = shown.body.deliveries?.[0];
        return d?.status === 'succeeded' ? d : undefined;
      }, 5000, 'delivery succeeded');
      assert.equal(delivered.attempts, 1);
      const attempts = await api().call('GET', `/v1/deliveries/${delivered.id}/attempts`, { as: admin });
      assert.equal(attempts.status, 200);
      assert.equal(attempts.body.data[0].responseStatus, 204);
      assert.equal(attempts.body.data[0].requestHeaders['x-secret'], '[redacted]');
    });

    test('a receiver that fails twice then succeeds: three attempts, same webhook-id', async () => {
      const hook = await receiver((_, i) => (i < 2 ? { status: 500, body: 'boom' } : { status: 200 }));
      await subscribe(hook.url);
      await publish([{ id: 'ord-retry', type: 'order.created', data: {} }]);
      await hook.waitFor(3);
      assert.deepEqual(
        hook.received.map((r) => r.headers['webhook-id']),
        ['ord-retry', 'ord-retry', 'ord-retry'],
      );
      const delivery = await eventually(async () => {
        const shown = await api().call('GET', '/v1/events/ord-retry', { as: admin });
        const d = shown.body.deliveries?.[0];
        return d?.status === 'succeeded' ? d : undefined;
      });
      const attempts = await api().call('GET', `/v1/deliveries/${delivery.id}/attempts`, { as: admin });
      assert.deepEqual(
        attempts.body.data.map((a: { number: number; responseStatus: number; outcome: string }) => [a.number, a.responseStatus, a.outcome]),
        [
          [1, 500, 'failed'],
          [2, 500, 'failed'],
          [3, 200, 'succeeded'],
        ],
      );
      assert.equal(attempts.body.data[0].responseBody, 'boom');
      assert.equal(attempts.body.data[0].error.kind, 'http_status');
    });
  },
  { worker: { retryScheduleMs: [20, 40] } },
);
