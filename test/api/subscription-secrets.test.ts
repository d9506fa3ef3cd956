/**
 * Signing secrets (SPEC §4, §5, §7): shown at creation and at /secret, sealed at rest, rotated
 * with the old one still signing for 24 h. The official `standardwebhooks` and `svix` verifiers
 * judge the requests a real receiver on 127.0.0.1 gets from a `test` send.
 */
import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mock, test } from 'node:test';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { isValidSigningSecret, newSigningSecret } from '../../src/delivery/sign.ts';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';

type Api = () => TestApi;
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back.
type Json = any;

const DAY_MS = 24 * 60 * 60 * 1000;

function ok(answer: Answer, status: number, label = ''): void {
  assert.equal(answer.status, status, `${label} ${JSON.stringify(answer.body)}`);
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A node:http receiver on 127.0.0.1 that answers 204 and keeps what it got. */
async function receiver(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Runs the official verifiers as a receiver would at the moment the request was sent: they compare
 * `webhook-timestamp` with Date.now(), and the API's clock is a manual one.
 */
function verifiesWith(secret: string, got: Received): boolean {
  const headers = {
    'webhook-id': String(got.headers['webhook-id']),
    'webhook-timestamp': String(got.headers['webhook-timestamp']),
    'webhook-signature': String(got.headers['webhook-signature']),
  };
  const at = Number(headers['webhook-timestamp']) * 1000;
  const now = mock.method(Date, 'now', () => at);
  try {
    let standard = true;
    let svix = true;
    try {
      new StandardWebhook(secret).verify(got.body, headers);
    } catch {
      standard = false;
    }
    try {
      new SvixWebhook(secret).verify(got.body, {
        'svix-id': headers['webhook-id'],
        'svix-timestamp': headers['webhook-timestamp'],
        'svix-signature': headers['webhook-signature'],
      });
    } catch {
      svix = false;
    }
    assert.equal(standard, svix, 'standardwebhooks and svix agree');
    return standard;
  } finally {
    now.mock.restore();
  }
}

async function world(api: Api): Promise<Caller> {
  const admin = await api().environment('secrets');
  ok(await api().call('POST', '/v1/event-types', { as: admin, body: { name: 'order.created' } }), 201);
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

async function secretOf(api: Api, as: Caller, id: string): Promise<string> {
  const answer = await api().call('GET', `/v1/subscriptions/${id}/secret`, { as });
  ok(answer, 200);
  assert.deepEqual(Object.keys(answer.body), ['signingSecret']);
  return answer.body.signingSecret;
}

async function rotate(api: Api, as: Caller, id: string, body?: unknown): Promise<string> {
  const answer = await api().call('POST', `/v1/subscriptions/${id}/secret/rotate`, {
    as,
    ...(body !== undefined ? { body } : {}),
  });
  ok(answer, 200, 'rotate');
  assert.ok(isValidSigningSecret(answer.body.signingSecret));
  return answer.body.signingSecret;
}

async function testSend(api: Api, as: Caller, id: string): Promise<Json> {
  const answer = await api().call('POST', `/v1/subscriptions/${id}/test`, {
    as,
    body: { type: 'order.created', data: { n: 1 } },
  });
  ok(answer, 200, 'test');
  assert.equal(answer.body.outcome, 'succeeded', JSON.stringify(answer.body));
  return answer.body;
}

const signatures = (got: Received) => String(got.headers['webhook-signature']).split(' ');

describeApi('subscription secrets', (api) => {
  test('the secret from GET /secret is the one answered at creation; at rest it is sealed', async () => {
    const admin = await world(api);
    const sub = await subscribe(api, admin, {
      name: 's',
      url: 'http://127.0.0.1:9/',
      secretHeaderName: 'X-Static',
      secretHeaderValue: 'static-value',
    });
    assert.ok(isValidSigningSecret(sub.signingSecret));
    assert.ok(Buffer.from(sub.signingSecret.slice('whsec_'.length), 'base64').length >= 24);
    assert.equal(await secretOf(api, admin, sub.id), sub.signingSecret);

    const stored = await api().deps.store.getSubscription(admin.environmentId, sub.id);
    assert.ok(stored);
    assert.ok(stored.signingSecret.startsWith('enc:v1:'), stored.signingSecret);
    assert.ok(!stored.signingSecret.includes(sub.signingSecret.slice(6)));
    assert.ok(stored.secretHeaderValue?.startsWith('enc:v1:'), String(stored.secretHeaderValue));
    assert.equal(stored.previousSigningSecret, null);
    assert.equal(api().deps.delivery.secrets.open(stored.signingSecret), sub.signingSecret);

    const other = await subscribe(api, admin, { name: 't', url: 'http://127.0.0.1:9/' });
    assert.notEqual(other.signingSecret, sub.signingSecret, 'each subscription has its own');
  });

  test('rotate: a new secret (fresh or given), the old one kept sealed for 24 h, the version bumped', async () => {
    const admin = await world(api);
    const sub = await subscribe(api, admin, { name: 'r', url: 'http://127.0.0.1:9/' });
    const fresh = await rotate(api, admin, sub.id);
    assert.notEqual(fresh, sub.signingSecret);
    assert.equal(await secretOf(api, admin, sub.id), fresh);
    const got = await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: admin });
    assert.equal(got.body.version, 2);
    const stored = await api().deps.store.getSubscription(admin.environmentId, sub.id);
    const previous = stored?.previousSigningSecret ?? '';
    assert.ok(previous.startsWith('enc:v1:'), previous);
    assert.equal(api().deps.delivery.secrets.open(previous), sub.signingSecret);
    assert.equal(stored?.previousSecretExpiresAt, api().clock.now() + DAY_MS);

    const chosen = newSigningSecret();
    assert.equal(await rotate(api, admin, sub.id, { signingSecret: chosen }), chosen);
    assert.equal(await secretOf(api, admin, sub.id), chosen);
    const empty = await rotate(api, admin, sub.id, {});
    assert.notEqual(empty, chosen);
    assert.equal((await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: admin })).body.version, 4);
  });

  test('rotate refuses a secret that is not a valid whsec_ (or is the current one): 400, nothing changes', async () => {
    const admin = await world(api);
    const sub = await subscribe(api, admin, { name: 'bad', url: 'http://127.0.0.1:9/' });
    const bad: unknown[] = [
      { signingSecret: 'plain-text' },
      { signingSecret: 'whsec_' },
      { signingSecret: 'whsec_c2hvcnQ=' },
      { signingSecret: 'whsec_!!!!not base64!!!!!!!!!!!!!!!!!' },
      { signingSecret: `whsec_${Buffer.alloc(65).toString('base64')}` },
      { signingSecret: 42 },
      { signingSecret: null },
      { signingSecret: sub.signingSecret },
      { signingSecret: newSigningSecret(), extra: true },
      ['whsec_x'],
    ];
    for (const body of bad) {
      const answer = await api().call('POST', `/v1/subscriptions/${sub.id}/secret/rotate`, { as: admin, body });
      ok(answer, 400, JSON.stringify(body));
    }
    assert.equal(await secretOf(api, admin, sub.id), sub.signingSecret);
    assert.equal((await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: admin })).body.version, 1);
    const stored = await api().deps.store.getSubscription(admin.environmentId, sub.id);
    assert.equal(stored?.previousSigningSecret, null);
  });

  test('after a rotation requests carry two signatures that standardwebhooks and svix accept with either secret; after 24 h only the new one signs', async () => {
    const admin = await world(api);
    const hook = await receiver();
    try {
      const sub = await subscribe(api, admin, { name: 'verify', url: hook.url });
      const old = sub.signingSecret;

      await testSend(api, admin, sub.id);
      const before = hook.received.at(-1) as Received;
      assert.equal(signatures(before).length, 1);
      assert.ok(verifiesWith(old, before));

      const fresh = await rotate(api, admin, sub.id);
      await testSend(api, admin, sub.id);
      const during = hook.received.at(-1) as Received;
      assert.equal(signatures(during).length, 2, String(during.headers['webhook-signature']));
      assert.ok(verifiesWith(old, during), 'the old secret still verifies');
      assert.ok(verifiesWith(fresh, during), 'the new secret verifies');
      assert.ok(!verifiesWith(newSigningSecret(), during), 'an unrelated secret does not');

      api().clock.advance(DAY_MS - 1000);
      await testSend(api, admin, sub.id);
      const lastSecond = hook.received.at(-1) as Received;
      assert.equal(signatures(lastSecond).length, 2, 'still inside the 24 h');

      api().clock.advance(2000);
      await testSend(api, admin, sub.id);
      const after = hook.received.at(-1) as Received;
      assert.equal(signatures(after).length, 1, String(after.headers['webhook-signature']));
      assert.ok(verifiesWith(fresh, after));
      assert.ok(!verifiesWith(old, after), 'the old secret no longer signs');
    } finally {
      await hook.close();
    }
  });

  test('a second rotation within 24 h replaces the previous secret with the then-current one', async () => {
    const admin = await world(api);
    const hook = await receiver();
    try {
      const sub = await subscribe(api, admin, { name: 'twice', url: hook.url });
      const first = sub.signingSecret;
      const second = await rotate(api, admin, sub.id);
      api().clock.advance(60 * 60 * 1000);
      const third = await rotate(api, admin, sub.id);
      await testSend(api, admin, sub.id);
      const got = hook.received.at(-1) as Received;
      assert.equal(signatures(got).length, 2);
      assert.ok(verifiesWith(third, got));
      assert.ok(verifiesWith(second, got));
      assert.ok(!verifiesWith(first, got), 'the first secret is dropped');
      const stored = await api().deps.store.getSubscription(admin.environmentId, sub.id);
      assert.equal(
        stored?.previousSecretExpiresAt,
        api().clock.now() + DAY_MS,
        'the 24 h restart at the second rotation',
      );
    } finally {
      await hook.close();
    }
  });

  test('secrets are for keys that manage the subscription: publisher 403, other environment and invisible topic 404', async () => {
    const admin = await world(api);
    const sub = await subscribe(api, admin, { name: 'guarded', url: 'http://127.0.0.1:9/' });
    const publisher = await api().key(admin, 'publisher');
    const subscriber = await api().key(admin, 'subscriber');
    const stranger = await world(api);
    for (const [method, suffix] of [
      ['GET', '/secret'],
      ['POST', '/secret/rotate'],
    ] as const) {
      const url = `/v1/subscriptions/${sub.id}${suffix}`;
      ok(await api().call(method, url, { as: publisher }), 403, `${method} publisher`);
      ok(await api().call(method, url, { as: stranger }), 404, `${method} stranger`);
      ok(await api().call(method, url, { as: null }), 401, `${method} anonymous`);
    }
    assert.equal(await secretOf(api, admin, sub.id), sub.signingSecret);
    assert.equal(
      await secretOf(api, subscriber, sub.id),
      sub.signingSecret,
      'a subscriber key on a visible topic manages it',
    );

    // An app-owned topic the subscriber key lacks the permission for.
    const app = await api().call('POST', '/v1/apps', { as: admin, body: { name: 'a', permissions: ['p'] } });
    ok(
      await api().call('POST', '/v1/topics', {
        as: admin,
        body: { name: 'owned', eventTypes: ['order.created'], appId: app.body.id },
      }),
      201,
    );
    const owned = await api().call('POST', '/v1/topics/owned/subscriptions', {
      as: admin,
      body: { name: 'o', url: 'http://127.0.0.1:9/' },
    });
    ok(owned, 201);
    ok(await api().call('GET', `/v1/subscriptions/${owned.body.id}/secret`, { as: subscriber }), 404);
    ok(await api().call('POST', `/v1/subscriptions/${owned.body.id}/secret/rotate`, { as: subscriber }), 404);
    assert.equal(await secretOf(api, admin, owned.body.id), owned.body.signingSecret);
  });
});
