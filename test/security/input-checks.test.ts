/**
 * Subscription input that used to be accepted and then fail every delivery attempt (issue 12,
 * part 7): header names undici refuses or that belong to the connection, header values outside
 * Latin-1, and port 0. Each is a 400 at creation and at PATCH, and nothing is stored or changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';

type Api = () => TestApi;

const URL_OK = 'http://127.0.0.1:9/hook';

/** Names refused by undici (keep-alive, upgrade, expect, transfer-encoding) or connection-level ones. */
const CONNECTION_NAMES = [
  'keep-alive',
  'Upgrade',
  'EXPECT',
  'transfer-encoding',
  'connection',
  'host',
  'content-length',
  'te',
  'trailer',
  'proxy-authorization',
  'Proxy-Connection',
];

function refused(answer: Answer, path: string, pattern: RegExp, label: string): void {
  assert.equal(answer.status, 400, `${label}: ${JSON.stringify(answer.body)}`);
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/, label);
  const problem = (answer.body.errors ?? []).find((e: { path: string }) => e.path === path);
  assert.ok(problem, `${label}: ${JSON.stringify(answer.body.errors)}`);
  assert.match(problem.message, pattern, label);
}

async function world(api: Api): Promise<Caller> {
  const admin = await api().environment('input-checks');
  assert.equal((await api().call('POST', '/v1/event-types', { as: admin, body: { name: 'a.b' } })).status, 201);
  const topic = { name: 't', eventTypes: ['a.b'] };
  assert.equal((await api().call('POST', '/v1/topics', { as: admin, body: topic })).status, 201);
  return admin;
}

const create = (api: Api, as: Caller, body: object) =>
  api().call('POST', '/v1/topics/t/subscriptions', { as, body: { name: 's', url: URL_OK, ...body } });

async function subscriptionCount(api: Api, as: Caller): Promise<number> {
  const list = await api().call('GET', '/v1/topics/t/subscriptions', { as });
  assert.equal(list.status, 200);
  return list.body.data.length;
}

describeApi('subscription input checks', (api) => {
  test('connection header names are refused in headers and as secretHeaderName; nothing is stored', async () => {
    const admin = await world(api);
    for (const name of CONNECTION_NAMES) {
      refused(await create(api, admin, { headers: { [name]: 'x' } }), `/headers/${name}`, /connection/, name);
      const secret = { secretHeaderName: name, secretHeaderValue: 'x' };
      refused(await create(api, admin, secret), '/secretHeaderName', /connection/, name);
    }
    assert.equal(await subscriptionCount(api, admin), 0);
  });

  test('a PATCH to a connection header name or to port 0 is refused and changes nothing', async () => {
    const admin = await world(api);
    const created = await create(api, admin, { headers: { 'X-Tenant': 'acme' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const url = `/v1/subscriptions/${created.body.id}`;
    const before = await api().call('GET', url, { as: admin });
    for (const name of CONNECTION_NAMES) {
      const patched = await api().call('PATCH', url, { as: admin, body: { version: 1, headers: { [name]: 'x' } } });
      refused(patched, `/headers/${name}`, /connection/, name);
      const secret = { version: 1, secretHeaderName: name, secretHeaderValue: 'x' };
      refused(await api().call('PATCH', url, { as: admin, body: secret }), '/secretHeaderName', /connection/, name);
    }
    const port0 = await api().call('PATCH', url, { as: admin, body: { version: 1, url: 'http://127.0.0.1:0/hook' } });
    refused(port0, '/url', /port 0/, 'port 0');
    assert.deepEqual((await api().call('GET', url, { as: admin })).body, before.body);
  });

  test('a header value beyond Latin-1 is refused with a message saying so; Latin-1 is accepted', async () => {
    const admin = await world(api);
    const latin1 = /visible ASCII or Latin-1/;
    refused(await create(api, admin, { headers: { 'X-Price': '5 €' } }), '/headers/X-Price', latin1, 'euro sign');
    const secret = { secretHeaderName: 'X-Secret', secretHeaderValue: 'clé✓' };
    refused(await create(api, admin, secret), '/secretHeaderValue', latin1, 'check mark');
    refused(await create(api, admin, { headers: { 'X-A': 'a\r\nb' } }), '/headers/X-A', /control characters/, 'CRLF');
    assert.equal(await subscriptionCount(api, admin), 0);
    const ok = await create(api, admin, { headers: { 'X-Name': 'Zoë Müller' } });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  test('port 0 in a subscription URL is refused at creation; nothing is stored', async () => {
    const admin = await world(api);
    for (const url of ['http://127.0.0.1:0/hook', 'https://127.0.0.1:000/', 'http://[::1]:0/']) {
      refused(await create(api, admin, { url }), '/url', /port 0/, url);
    }
    assert.equal(await subscriptionCount(api, admin), 0);
  });
});
