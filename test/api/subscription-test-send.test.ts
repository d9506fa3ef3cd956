/**
 * POST /v1/subscriptions/{id}/test (SPEC §4, §5): one signed request now, to a real node:http
 * receiver on 127.0.0.1, answered with the attempt (not stored). The wire format is judged by the
 * official `cloudevents` and `standardwebhooks` packages.
 */
import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mock, test } from 'node:test';
import { HTTP } from 'cloudevents';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';
import { VERSION } from '../../src/version.ts';

type Api = () => TestApi;
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back.
type Json = any;

function ok(answer: Answer, status: number, label = ''): void {
  assert.equal(answer.status, status, `${label} ${JSON.stringify(answer.body)}`);
}

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Reply {
  status: number;
  body?: string;
}

/** A node:http receiver on 127.0.0.1 answering `reply` and keeping what it got. */
async function receiver(reply: Reply): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: String(request.method),
        url: String(request.url),
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function world(api: Api): Promise<Caller> {
  const admin = await api().environment('test-send');
  for (const name of ['order.created', 'user.signup']) {
    ok(await api().call('POST', '/v1/event-types', { as: admin, body: { name } }), 201);
  }
  ok(
    await api().call('POST', '/v1/topics', { as: admin, body: { name: 'orders', eventTypes: ['order.created'] } }),
    201,
  );
  return admin;
}

async function subscribe(api: Api, as: Caller, body: Record<string, unknown>): Promise<Json> {
  const answer = await api().call('POST', '/v1/topics/orders/subscriptions', { as, body });
  ok(answer, 201);
  return answer.body;
}

const sendTest = (api: Api, as: Caller, id: string, body: unknown) =>
  api().call('POST', `/v1/subscriptions/${id}/test`, { as, body });

describeApi('subscription test send', (api) => {
  test('a receiver answering 204: outcome succeeded; the attempt says what was sent', async () => {
    const admin = await world(api);
    const hook = await receiver({ status: 204 });
    try {
      const sub = await subscribe(api, admin, {
        name: 't',
        url: `${hook.url}/in?src=herald`,
        secretHeaderName: 'X-Static-Secret',
        secretHeaderValue: 'open sesame',
      });
      const answer = await sendTest(api, admin, sub.id, { type: 'order.created', data: { orderId: 7 } });
      ok(answer, 200);
      const attempt = answer.body;
      assert.match(attempt.id, /^att_[0-9A-Z]{26}$/);
      assert.equal(attempt.deliveryId, null);
      assert.equal(attempt.number, 1);
      assert.equal(attempt.startedAt, new Date(api().clock.now()).toISOString());
      assert.equal(typeof attempt.durationMs, 'number');
      assert.ok(attempt.durationMs >= 0);
      assert.equal(attempt.responseStatus, 204);
      assert.equal(attempt.responseBody, '');
      assert.equal(attempt.error, null);
      assert.equal(attempt.outcome, 'succeeded');
      assert.deepEqual(Object.keys(attempt).sort(), [
        'deliveryId',
        'durationMs',
        'error',
        'id',
        'number',
        'outcome',
        'requestHeaders',
        'responseBody',
        'responseStatus',
        'startedAt',
      ]);
      assert.equal(hook.received.length, 1);
      const got = hook.received[0] as Received;
      assert.equal(got.method, 'POST');
      assert.equal(got.url, '/in?src=herald');
      assert.match(String(got.headers['webhook-id']), /^msg_[0-9A-Z]{26}$/);
      assert.equal(attempt.requestHeaders['webhook-id'], got.headers['webhook-id']);
      assert.equal(attempt.requestHeaders['webhook-signature'], got.headers['webhook-signature']);
      assert.equal(attempt.requestHeaders['x-static-secret'], '[redacted]', 'the static secret is not echoed');
      assert.ok(!JSON.stringify(attempt).includes('open sesame'));
    } finally {
      await hook.close();
    }
  });

  test('what arrives: custom headers, content-language, the static secret, user-agent, a CloudEvents body, a valid signature', async () => {
    const admin = await world(api);
    const hook = await receiver({ status: 200, body: 'thanks' });
    try {
      const sub = await subscribe(api, admin, {
        name: 'wire',
        url: hook.url,
        headers: { 'X-Tenant': 'acme', Authorization: 'Bearer receiver-token' },
        secretHeaderName: 'X-Static-Secret',
        secretHeaderValue: 'open sesame',
        language: 'de-DE',
      });
      const answer = await sendTest(api, admin, sub.id, {
        type: 'order.created',
        data: { orderId: 7, items: ['a', 'b'] },
      });
      ok(answer, 200);
      assert.equal(answer.body.outcome, 'succeeded');
      assert.equal(answer.body.responseBody, 'thanks');
      const got = hook.received[0] as Received;
      assert.equal(got.headers['x-tenant'], 'acme');
      assert.equal(got.headers.authorization, 'Bearer receiver-token');
      assert.equal(got.headers['x-static-secret'], 'open sesame');
      assert.equal(got.headers['content-language'], 'de-DE');
      assert.equal(got.headers['user-agent'], `Herald/${VERSION}`);
      assert.match(String(got.headers['content-type']), /^application\/cloudevents\+json/);
      assert.equal(got.headers['webhook-timestamp'], String(Math.floor(api().clock.now() / 1000)));

      const event = HTTP.toEvent({ headers: got.headers as Record<string, string>, body: got.body });
      assert.ok(!Array.isArray(event));
      const single = event as Json;
      assert.equal(single.specversion, '1.0');
      assert.equal(single.id, got.headers['webhook-id']);
      assert.equal(single.type, 'order.created');
      assert.equal(single.source, `/environments/${admin.environmentId}/topics/orders`);
      assert.deepEqual(single.data, { orderId: 7, items: ['a', 'b'] });
      assert.equal(single.topic, 'orders');
      assert.equal(single.environment, admin.environmentId);
      assert.equal(new Date(single.time).getTime(), api().clock.now());

      // The receiver's view of the signature, at the moment it was sent (the API runs on a manual clock).
      const now = mock.method(Date, 'now', () => api().clock.now());
      try {
        assert.doesNotThrow(() =>
          new StandardWebhook(sub.signingSecret).verify(got.body, {
            'webhook-id': String(got.headers['webhook-id']),
            'webhook-timestamp': String(got.headers['webhook-timestamp']),
            'webhook-signature': String(got.headers['webhook-signature']),
          }),
        );
      } finally {
        now.mock.restore();
      }
    } finally {
      await hook.close();
    }
  });

  test('format data sends the bare data as application/json; data defaults to null', async () => {
    const admin = await world(api);
    const hook = await receiver({ status: 202 });
    try {
      const sub = await subscribe(api, admin, { name: 'bare', url: hook.url, format: 'data' });
      ok(await sendTest(api, admin, sub.id, { type: 'order.created', data: [1, 'two', { three: 3 }] }), 200);
      ok(await sendTest(api, admin, sub.id, { type: 'order.created' }), 200);
      const [first, second] = hook.received as [Received, Received];
      assert.match(String(first.headers['content-type']), /^application\/json/);
      assert.deepEqual(JSON.parse(first.body), [1, 'two', { three: 3 }]);
      assert.equal(second.body, 'null');
      assert.notEqual(first.headers['webhook-id'], second.headers['webhook-id'], 'a fresh msg_ id per test');
    } finally {
      await hook.close();
    }
  });

  test('a receiver answering 500: outcome failed with the status and the body', async () => {
    const admin = await world(api);
    const hook = await receiver({ status: 500, body: 'database on fire' });
    try {
      const sub = await subscribe(api, admin, { name: 'fails', url: hook.url });
      const answer = await sendTest(api, admin, sub.id, { type: 'order.created', data: {} });
      ok(answer, 200);
      assert.equal(answer.body.outcome, 'failed');
      assert.equal(answer.body.responseStatus, 500);
      assert.equal(answer.body.responseBody, 'database on fire');
      assert.equal(answer.body.error.kind, 'http_status');
      assert.equal(typeof answer.body.error.message, 'string');
      const after = await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: admin });
      assert.deepEqual(
        [after.body.status, after.body.consecutiveFailures, after.body.version],
        ['enabled', 0, 1],
        'a test changes nothing',
      );
    } finally {
      await hook.close();
    }
  });

  test('a closed port: outcome failed with error kind refused and no response', async () => {
    const admin = await world(api);
    const port = await closedPort();
    const sub = await subscribe(api, admin, { name: 'closed', url: `http://127.0.0.1:${port}/` });
    const answer = await sendTest(api, admin, sub.id, { type: 'order.created', data: {} });
    ok(answer, 200);
    assert.equal(answer.body.outcome, 'failed');
    assert.equal(answer.body.error.kind, 'refused', JSON.stringify(answer.body.error));
    assert.equal(answer.body.responseStatus, null);
    assert.equal(answer.body.responseBody, null);
  });

  test('a disabled subscription can still be tested by hand', async () => {
    const admin = await world(api);
    const hook = await receiver({ status: 204 });
    try {
      const sub = await subscribe(api, admin, { name: 'off', url: hook.url, enabled: false });
      const answer = await sendTest(api, admin, sub.id, { type: 'order.created', data: {} });
      ok(answer, 200);
      assert.equal(answer.body.outcome, 'succeeded');
      assert.equal(hook.received.length, 1);
    } finally {
      await hook.close();
    }
  });

  test('bad test requests are 4xx and send nothing', async () => {
    const admin = await world(api);
    const hook = await receiver({ status: 204 });
    try {
      const sub = await subscribe(api, admin, { name: 'strict', url: hook.url });
      const bad: [unknown, number, string | null][] = [
        [{ type: 'user.signup', data: {} }, 400, '/type'],
        [{ type: 'nope.never' }, 400, '/type'],
        [{ data: {} }, 400, '/type'],
        [{ type: 42 }, 400, '/type'],
        [{ type: 'order created' }, 400, '/type'],
        [{ type: 'order.created', extra: 1 }, 400, '/extra'],
        [[], 400, null],
        [{ type: 'order.created', data: 'x'.repeat(300 * 1024) }, 400, '/data'],
      ];
      for (const [body, status, path] of bad) {
        const answer = await sendTest(api, admin, sub.id, body);
        ok(answer, status, JSON.stringify(body).slice(0, 80));
        if (path) {
          const paths = (answer.body.errors ?? []).map((e: { path: string }) => e.path);
          assert.ok(paths.includes(path), JSON.stringify(answer.body));
        }
      }
      ok(await sendTest(api, admin, 'sub_nope', { type: 'order.created' }), 404);
      assert.equal(hook.received.length, 0);
    } finally {
      await hook.close();
    }
  });

  test('who may test: admin and subscriber keys on visible topics; publisher 403; other environment 404', async () => {
    const admin = await world(api);
    const hook = await receiver({ status: 204 });
    try {
      const sub = await subscribe(api, admin, { name: 'who', url: hook.url });
      const subscriber = await api().key(admin, 'subscriber');
      const publisher = await api().key(admin, 'publisher');
      const stranger = await world(api);
      ok(await sendTest(api, subscriber, sub.id, { type: 'order.created' }), 200);
      ok(await sendTest(api, publisher, sub.id, { type: 'order.created' }), 403);
      ok(await sendTest(api, stranger, sub.id, { type: 'order.created' }), 404);
      assert.equal(hook.received.length, 1);
    } finally {
      await hook.close();
    }
  });
});
