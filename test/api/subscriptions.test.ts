/**
 * Subscriptions (SPEC §4 "Subscriptions", §7): create with every core field and its defaults,
 * list, get, PATCH with optimistic versions, delete, enable/disable, who may do what, and the bad
 * input a careless or hostile caller sends, each refused with a 4xx that changes nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidSigningSecret } from '../../src/delivery/sign.ts';
import type { Lookup } from '../../src/delivery/url-guard.ts';
import { type Answer, type Caller, TEST_EPOCH, type TestApi, describeApi } from '../../src/testing/test-app.ts';
import { claimDeliveries, settleOne } from '../../src/testing/test-store.ts';

type Api = () => TestApi;
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back.
type Json = any;

/** Names under `.example` resolve to a public address, `localhost` to loopback; nothing touches real DNS. */
const lookup: Lookup = async (hostname) => {
  if (hostname === 'localhost') return [{ address: '127.0.0.1', family: 4 }];
  if (hostname === 'internal.example') return [{ address: '10.0.0.5', family: 4 }];
  if (hostname === 'metadata.example') return [{ address: '169.254.169.254', family: 4 }];
  if (hostname === 'mixed.example') {
    return [
      { address: '93.184.215.14', family: 4 },
      { address: 'fd00::1', family: 6 },
    ];
  }
  if (hostname.endsWith('.example')) return [{ address: '93.184.215.14', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

const URL_A = 'https://hooks.example/a';

function ok(answer: Answer, status: number, label = ''): void {
  assert.equal(answer.status, status, `${label} ${JSON.stringify(answer.body)}`);
}

function problem(answer: Answer, status: number, label = ''): void {
  ok(answer, status, label);
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/, label);
  assert.equal(answer.body.status, status, label);
  assert.equal(typeof answer.body.detail, 'string', label);
}

const pathsOf = (answer: Answer): string[] => ((answer.body.errors ?? []) as { path: string }[]).map((e) => e.path);

/**
 * An environment with event types order.created, order.paid, user.signup; topic `orders` =
 * [order.created, order.paid], topic `users` = [user.signup], and topic `vip` owned by an app
 * whose permission is `vip:read`.
 */
async function world(api: Api): Promise<Caller> {
  const admin = await api().environment('subs');
  const post = async (url: string, body: unknown) => ok(await api().call('POST', url, { as: admin, body }), 201, url);
  for (const name of ['order.created', 'order.paid', 'user.signup']) await post('/v1/event-types', { name });
  await post('/v1/topics', { name: 'orders', eventTypes: ['order.created', 'order.paid'] });
  await post('/v1/topics', { name: 'users', eventTypes: ['user.signup'] });
  const app = await api().call('POST', '/v1/apps', { as: admin, body: { name: 'vip app', permissions: ['vip:read'] } });
  ok(app, 201);
  await post('/v1/topics', { name: 'vip', eventTypes: ['order.created'], appId: app.body.id });
  return admin;
}

async function subscribe(api: Api, as: Caller, topic: string, body: Record<string, unknown>): Promise<Json> {
  const answer = await api().call('POST', `/v1/topics/${topic}/subscriptions`, { as, body });
  ok(answer, 201, 'create');
  return answer.body;
}

async function get(api: Api, as: Caller, id: string): Promise<Json> {
  const answer = await api().call('GET', `/v1/subscriptions/${id}`, { as });
  ok(answer, 200, 'get');
  return answer.body;
}

async function listAll(api: Api, as: Caller, url: string): Promise<Json[]> {
  const found: Json[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const sep = url.includes('?') ? '&' : '?';
    const answer = await api().call('GET', `${url}${sep}limit=2${cursor ? `&cursor=${cursor}` : ''}`, { as });
    ok(answer, 200, url);
    assert.equal(answer.body.meta.hasNextPage, answer.body.meta.nextCursor !== null);
    found.push(...answer.body.data);
    cursor = answer.body.meta.nextCursor;
    if (!cursor) break;
  }
  return found;
}

const withoutSecret = ({ signingSecret: _s, ...rest }: Json) => rest;

describeApi(
  'subscriptions',
  (api) => {
    test('POST with name and url only: every default, a whsec_ secret, version 1; GET answers the same', async () => {
      const admin = await world(api);
      const created = await subscribe(api, admin, 'orders', { name: 'mine', url: URL_A });
      assert.match(created.id, /^sub_[0-9A-Z]{26}$/);
      assert.ok(isValidSigningSecret(created.signingSecret), created.signingSecret);
      assert.deepEqual(withoutSecret(created), {
        id: created.id,
        topic: 'orders',
        name: 'mine',
        description: null,
        customId: null,
        metadata: {},
        events: ['*'],
        url: URL_A,
        format: 'cloudevents',
        batch: null,
        headers: {},
        secretHeaderName: null,
        secretHeaderValue: null,
        maxRetries: 3,
        timeoutMs: 5000,
        rateLimitPerSecond: null,
        ordering: 'unordered',
        failureEmail: null,
        language: 'en-US',
        status: 'enabled',
        disabledReason: null,
        disableAfterFailures: 10,
        consecutiveFailures: 0,
        version: 1,
        createdAt: new Date(TEST_EPOCH).toISOString(),
        updatedAt: new Date(TEST_EPOCH).toISOString(),
      });
      assert.equal('enabled' in created, false, 'enabled is input only');
      const got = await get(api, admin, created.id);
      assert.deepEqual(got, withoutSecret(created), 'the secret is read at /secret, not here');
    });

    test('POST with every core field keeps each; enabled:false creates it disabled (manual)', async () => {
      const admin = await world(api);
      const body = {
        name: 'everything',
        description: 'all the fields',
        customId: 'cust-42',
        metadata: { plan: 'gold', region: 'eu' },
        events: ['order.paid', 'order.created'],
        url: 'http://127.0.0.1:9/hook?x=1',
        format: 'data',
        batch: { maxEvents: 1000, maxWaitMs: 60000 },
        headers: { 'X-Tenant': 'acme', Authorization: 'Bearer abc' },
        secretHeaderName: 'X-Static-Secret',
        secretHeaderValue: 's3cret value',
        maxRetries: 25,
        timeoutMs: 30000,
        rateLimitPerSecond: 10000,
        ordering: 'fifo',
        failureEmail: 'ops@acme.example',
        language: 'de-DE',
        enabled: false,
        disableAfterFailures: 1000,
      };
      const created = await subscribe(api, admin, 'orders', body);
      const { enabled: _e, ...echoed } = body;
      for (const [field, value] of Object.entries(echoed)) assert.deepEqual(created[field], value, field);
      assert.equal(created.status, 'disabled');
      assert.equal(created.disabledReason, 'manual');
      assert.deepEqual(await get(api, admin, created.id), withoutSecret(created));

      const minimal = await subscribe(api, admin, 'orders', {
        name: 'edges',
        url: URL_A,
        maxRetries: 0,
        timeoutMs: 100,
        disableAfterFailures: 1,
        enabled: true,
        events: ['*', 'order.paid', 'order.paid'],
        description: null,
        customId: null,
        failureEmail: null,
        secretHeaderName: null,
        secretHeaderValue: null,
      });
      assert.deepEqual([minimal.maxRetries, minimal.timeoutMs, minimal.disableAfterFailures], [0, 100, 1]);
      assert.equal(minimal.status, 'enabled');
      assert.deepEqual(minimal.events, ['*', 'order.paid'], 'repeats kept once');
    });

    test('the name is unique within its topic (409), free on another topic', async () => {
      const admin = await world(api);
      await subscribe(api, admin, 'orders', { name: 'same', url: URL_A });
      problem(
        await api().call('POST', '/v1/topics/orders/subscriptions', { as: admin, body: { name: 'same', url: URL_A } }),
        409,
      );
      await subscribe(api, admin, 'users', { name: 'same', url: URL_A });
      await subscribe(api, admin, 'orders', { name: 'Same', url: URL_A });
      const names = (await listAll(api, admin, '/v1/topics/orders/subscriptions')).map((s) => s.name).sort();
      assert.deepEqual(names, ['Same', 'same']);
    });

    test('events must be * or event types of the topic: 400 at /events/<i>', async () => {
      const admin = await world(api);
      const bad = await api().call('POST', '/v1/topics/orders/subscriptions', {
        as: admin,
        body: { name: 'x', url: URL_A, events: ['order.created', 'user.signup', 'nope.never', 'order.paid'] },
      });
      problem(bad, 400);
      assert.deepEqual(pathsOf(bad), ['/events/1', '/events/2']);
      assert.deepEqual(await listAll(api, admin, '/v1/topics/orders/subscriptions'), []);
    });

    test('bad input is a 400 naming the field, and creates nothing', async () => {
      const admin = await world(api);
      const base = { name: 'n', url: URL_A };
      const cases: [string, unknown, string][] = [
        ['missing name', { url: URL_A }, '/name'],
        ['missing url', { name: 'n' }, '/url'],
        ['name not a string', { ...base, name: 42 }, '/name'],
        ['empty name', { ...base, name: '' }, '/name'],
        ['name too long', { ...base, name: 'n'.repeat(129) }, '/name'],
        ['name with NUL', { ...base, name: 'a\u0000b' }, '/name'],
        ['url not a string', { ...base, url: 123 }, '/url'],
        ['url ftp', { ...base, url: 'ftp://hooks.example/x' }, '/url'],
        ['url not a URL', { ...base, url: 'not a url' }, '/url'],
        ['url relative', { ...base, url: '/hooks' }, '/url'],
        ['url javascript', { ...base, url: 'javascript:alert(1)' }, '/url'],
        ['url with credentials', { ...base, url: 'https://user:pw@hooks.example/' }, '/url'],
        ['url host unknown', { ...base, url: 'https://nowhere.invalid/' }, '/url'],
        ['url too long', { ...base, url: `https://hooks.example/${'a'.repeat(2048)}` }, '/url'],
        ['description too long', { ...base, description: 'd'.repeat(1025) }, '/description'],
        ['customId too long', { ...base, customId: 'c'.repeat(257) }, '/customId'],
        ['customId empty', { ...base, customId: '' }, '/customId'],
        ['metadata value not a string', { ...base, metadata: { a: 1 } }, '/metadata/a'],
        ['metadata not an object', { ...base, metadata: ['a'] }, '/metadata'],
        [
          'metadata too many',
          { ...base, metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
          '/metadata',
        ],
        ['events empty', { ...base, events: [] }, '/events'],
        ['events not a list', { ...base, events: 'order.created' }, '/events'],
        ['events bad name', { ...base, events: ['order created'] }, '/events/0'],
        ['format unknown', { ...base, format: 'xml' }, '/format'],
        ['header name not a token', { ...base, headers: { 'bad name': 'v' } }, '/headers/bad name'],
        ['header name with colon', { ...base, headers: { 'x-a:': 'v' } }, '/headers/x-a:'],
        ['header value with CRLF', { ...base, headers: { 'X-A': 'a\r\nX-Injected: 1' } }, '/headers/X-A'],
        ['header value with LF', { ...base, headers: { 'X-A': 'a\nb' } }, '/headers/X-A'],
        ['header value with NUL', { ...base, headers: { 'X-A': 'a\u0000b' } }, '/headers/X-A'],
        ['header value not a string', { ...base, headers: { 'X-A': 1 } }, '/headers/X-A'],
        ['header content-type', { ...base, headers: { 'Content-Type': 'text/plain' } }, '/headers/Content-Type'],
        [
          'header webhook-signature',
          { ...base, headers: { 'webhook-signature': 'v1,x' } },
          '/headers/webhook-signature',
        ],
        ['header user-agent', { ...base, headers: { 'USER-AGENT': 'me' } }, '/headers/USER-AGENT'],
        ['header host', { ...base, headers: { host: 'evil.example' } }, '/headers/host'],
        ['header content-language', { ...base, headers: { 'content-language': 'fr' } }, '/headers/content-language'],
        ['header repeated in other case', { ...base, headers: { 'x-a': '1', 'X-A': '2' } }, '/headers/X-A'],
        ['secretHeaderName without value', { ...base, secretHeaderName: 'X-Secret' }, '/secretHeaderValue'],
        ['secretHeaderValue without name', { ...base, secretHeaderValue: 'v' }, '/secretHeaderName'],
        [
          'secretHeaderName reserved',
          { ...base, secretHeaderName: 'Webhook-Id', secretHeaderValue: 'v' },
          '/secretHeaderName',
        ],
        [
          'secretHeaderName not a token',
          { ...base, secretHeaderName: 'X Secret', secretHeaderValue: 'v' },
          '/secretHeaderName',
        ],
        [
          'secretHeaderValue with CRLF',
          { ...base, secretHeaderName: 'X-S', secretHeaderValue: 'v\r\nX: y' },
          '/secretHeaderValue',
        ],
        [
          'headers repeat the secretHeaderName',
          { ...base, secretHeaderName: 'X-Secret', secretHeaderValue: 'v', headers: { 'x-secret': 'other' } },
          '/headers/x-secret',
        ],
        ['maxRetries 26', { ...base, maxRetries: 26 }, '/maxRetries'],
        ['maxRetries -1', { ...base, maxRetries: -1 }, '/maxRetries'],
        ['maxRetries 1.5', { ...base, maxRetries: 1.5 }, '/maxRetries'],
        ['maxRetries as text', { ...base, maxRetries: '3' }, '/maxRetries'],
        ['timeoutMs 50', { ...base, timeoutMs: 50 }, '/timeoutMs'],
        ['timeoutMs 30001', { ...base, timeoutMs: 30001 }, '/timeoutMs'],
        ['failureEmail not an email', { ...base, failureEmail: 'not-an-email' }, '/failureEmail'],
        ['failureEmail too long', { ...base, failureEmail: `${'a'.repeat(250)}@x.example` }, '/failureEmail'],
        ['language not a tag', { ...base, language: 'english!' }, '/language'],
        ['language with CRLF', { ...base, language: 'en\r\nX: y' }, '/language'],
        ['disableAfterFailures 0', { ...base, disableAfterFailures: 0 }, '/disableAfterFailures'],
        ['disableAfterFailures 1001', { ...base, disableAfterFailures: 1001 }, '/disableAfterFailures'],
        ['enabled as text', { ...base, enabled: 'yes' }, '/enabled'],
        ['status is output only', { ...base, status: 'disabled' }, '/status'],
        ['version is not for create', { ...base, version: 1 }, '/version'],
        ['unknown field', { ...base, colour: 'blue' }, '/colour'],
        ['topic in body', { ...base, topic: 'users' }, '/topic'],
        ['signingSecret in body', { ...base, signingSecret: 'whsec_AAAA' }, '/signingSecret'],
      ];
      for (const [label, body, path] of cases) {
        const answer = await api().call('POST', '/v1/topics/orders/subscriptions', { as: admin, body });
        problem(answer, 400, label);
        assert.ok(pathsOf(answer).includes(path), `${label}: ${JSON.stringify(answer.body.errors)}`);
      }
      for (const payload of ['[]', 'null', '"text"', '{"name":']) {
        const answer = await api().call('POST', '/v1/topics/orders/subscriptions', {
          as: admin,
          payload,
          headers: { 'content-type': 'application/json' },
        });
        problem(answer, 400, payload);
      }
      assert.deepEqual(await listAll(api, admin, '/v1/subscriptions'), [], 'nothing was created');
    });

    test('each field not built yet (filter, contextFilters, transform) is a 400 saying "not supported yet"', async () => {
      const admin = await world(api);
      const values: Record<string, unknown> = {
        filter: { '==': [{ var: 'type' }, 'order.created'] },
        contextFilters: { filters: [{ tag: 'context.region.3', includeChildren: true }] },
        transform: '$.data',
      };
      for (const [field, value] of Object.entries(values)) {
        const answer = await api().call('POST', '/v1/topics/orders/subscriptions', {
          as: admin,
          body: { name: 'n', url: URL_A, [field]: value },
        });
        problem(answer, 400, field);
        assert.deepEqual(pathsOf(answer), [`/${field}`], field);
        assert.match(answer.body.errors[0].message, /not supported yet/, field);
        assert.match(answer.body.detail, new RegExp(field), field);
      }
      const sub = await subscribe(api, admin, 'orders', { name: 'n', url: URL_A });
      const patched = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
        as: admin,
        body: { version: 1, transform: '$.data', filter: true, ordering: 'fifo' },
      });
      problem(patched, 400);
      assert.deepEqual(pathsOf(patched).sort(), ['/filter', '/transform']);
      const after = await get(api, admin, sub.id);
      assert.deepEqual([after.version, after.ordering], [1, 'unordered'], 'the supported field beside them is not applied');
      assert.equal((await listAll(api, admin, '/v1/subscriptions')).length, 1);
    });

    test('unknown topic, or another environment’s topic: 404', async () => {
      const admin = await world(api);
      const other = await world(api);
      problem(
        await api().call('POST', '/v1/topics/nope/subscriptions', { as: admin, body: { name: 'n', url: URL_A } }),
        404,
      );
      await subscribe(api, other, 'orders', { name: 'theirs', url: URL_A });
      problem(await api().call('GET', '/v1/topics/nope/subscriptions', { as: admin }), 404);
      assert.deepEqual(await listAll(api, admin, '/v1/subscriptions'), []);
    });

    test('lists: per topic, by topic and customId, paged; the static secret value is masked in lists', async () => {
      const admin = await world(api);
      const made: Json[] = [];
      for (let i = 0; i < 5; i++) {
        made.push(
          await subscribe(api, admin, i < 3 ? 'orders' : 'users', {
            name: `s${i}`,
            url: URL_A,
            customId: i % 2 === 0 ? 'even' : 'odd',
            secretHeaderName: 'X-Secret',
            secretHeaderValue: `value-${i}`,
          }),
        );
      }
      const ids = (list: Json[]) => list.map((s) => s.id);
      const all = await listAll(api, admin, '/v1/subscriptions');
      assert.deepEqual(ids(all), ids(made), 'oldest first, every page');
      for (const s of all) {
        assert.equal(s.secretHeaderValue, '********');
        assert.equal(s.secretHeaderName, 'X-Secret');
        assert.equal('signingSecret' in s, false);
      }
      assert.deepEqual(ids(await listAll(api, admin, '/v1/topics/orders/subscriptions')), ids(made.slice(0, 3)));
      assert.deepEqual(ids(await listAll(api, admin, '/v1/subscriptions?topic=users')), ids(made.slice(3)));
      assert.deepEqual(
        ids(await listAll(api, admin, '/v1/subscriptions?customId=even')),
        ids([made[0], made[2], made[4]]),
      );
      assert.deepEqual(
        ids(await listAll(api, admin, '/v1/subscriptions?customId=even&topic=orders')),
        ids([made[0], made[2]]),
      );
      assert.deepEqual(await listAll(api, admin, '/v1/subscriptions?topic=nope'), []);
      assert.equal((await get(api, admin, made[1].id)).secretHeaderValue, 'value-1', 'a single GET shows it to admins');
      for (const query of ['limit=0', 'limit=251', 'cursor=%25%25', 'topic=bad%20name', 'customId=', 'extra=1']) {
        problem(await api().call('GET', `/v1/subscriptions?${query}`, { as: admin }), 400, query);
      }
    });

    test('GET of an unknown id, or of another environment’s subscription: 404', async () => {
      const admin = await world(api);
      const other = await world(api);
      const theirs = await subscribe(api, other, 'orders', { name: 'theirs', url: URL_A });
      problem(await api().call('GET', '/v1/subscriptions/sub_nope', { as: admin }), 404);
      problem(await api().call('GET', `/v1/subscriptions/${theirs.id}`, { as: admin }), 404);
    });

    test('PATCH with the current version changes the fields given and answers version + 1', async () => {
      const admin = await world(api);
      const sub = await subscribe(api, admin, 'orders', {
        name: 'before',
        url: URL_A,
        customId: 'c1',
        metadata: { a: '1' },
        headers: { 'X-One': '1' },
        secretHeaderName: 'X-Secret',
        secretHeaderValue: 'v1',
      });
      api().clock.advance(60_000);
      const answer = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
        as: admin,
        body: {
          version: 1,
          name: 'after',
          description: 'now described',
          customId: null,
          metadata: { b: '2' },
          events: ['order.paid'],
          url: 'https://other.example/b',
          format: 'data',
          headers: { 'X-Two': '2' },
          secretHeaderValue: 'v2',
          maxRetries: 7,
          timeoutMs: 1234,
          failureEmail: 'me@acme.example',
          language: 'fr',
          disableAfterFailures: 3,
        },
      });
      ok(answer, 200);
      const expected = {
        ...withoutSecret(sub),
        name: 'after',
        description: 'now described',
        customId: null,
        metadata: { b: '2' },
        events: ['order.paid'],
        url: 'https://other.example/b',
        format: 'data',
        headers: { 'X-Two': '2' },
        secretHeaderValue: 'v2',
        maxRetries: 7,
        timeoutMs: 1234,
        failureEmail: 'me@acme.example',
        language: 'fr',
        disableAfterFailures: 3,
        version: 2,
        updatedAt: new Date(api().clock.now()).toISOString(),
      };
      assert.deepEqual(answer.body, expected);
      assert.deepEqual(await get(api, admin, sub.id), expected);

      const cleared = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
        as: admin,
        body: { version: 2, secretHeaderName: null, secretHeaderValue: null, description: null },
      });
      ok(cleared, 200);
      assert.deepEqual(
        [cleared.body.secretHeaderName, cleared.body.secretHeaderValue, cleared.body.description],
        [null, null, null],
      );
      assert.equal(cleared.body.version, 3);

      const nothing = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, { as: admin, body: { version: 3 } });
      ok(nothing, 200);
      assert.equal(nothing.body.version, 4, 'every accepted PATCH answers version + 1');
    });

    test('PATCH without the version, or with a stale one: 409 and nothing changes', async () => {
      const admin = await world(api);
      const sub = await subscribe(api, admin, 'orders', { name: 'v', url: URL_A });
      ok(
        await api().call('PATCH', `/v1/subscriptions/${sub.id}`, { as: admin, body: { version: 1, description: 'd' } }),
        200,
      );
      const before = await get(api, admin, sub.id);
      for (const body of [
        { description: 'x' },
        { version: 1, description: 'x' },
        { version: 3, description: 'x' },
        {},
      ]) {
        const answer = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, { as: admin, body });
        problem(answer, 409, JSON.stringify(body));
        assert.match(answer.body.type, /version_conflict$/);
      }
      problem(await api().call('PATCH', `/v1/subscriptions/${sub.id}`, { as: admin, body: { version: '2' } }), 400);
      problem(await api().call('PATCH', `/v1/subscriptions/${sub.id}`, { as: admin, body: { version: 0 } }), 400);
      assert.deepEqual(await get(api, admin, sub.id), before);
    });

    test('PATCH re-checks what it changes: bad url, events, headers, name taken → 4xx, nothing changes', async () => {
      const admin = await world(api);
      await subscribe(api, admin, 'orders', { name: 'taken', url: URL_A });
      const sub = await subscribe(api, admin, 'orders', {
        name: 'mine',
        url: URL_A,
        secretHeaderName: 'X-Secret',
        secretHeaderValue: 'v',
      });
      const before = await get(api, admin, sub.id);
      const cases: [unknown, number, string | null][] = [
        [{ url: 'ftp://hooks.example/' }, 400, '/url'],
        [{ url: 'nope' }, 400, '/url'],
        [{ url: 'https://nowhere.invalid/' }, 400, '/url'],
        [{ events: ['user.signup'] }, 400, '/events/0'],
        [{ events: [] }, 400, '/events'],
        [{ headers: { 'Webhook-Timestamp': '1' } }, 400, '/headers/Webhook-Timestamp'],
        [{ headers: { 'X-Secret': 'clash' } }, 400, '/headers/X-Secret'],
        [{ headers: { 'X-A': 'a\r\nb' } }, 400, '/headers/X-A'],
        [{ secretHeaderValue: null }, 400, '/secretHeaderValue'],
        [{ secretHeaderName: null }, 400, '/secretHeaderName'],
        [{ maxRetries: 26 }, 400, '/maxRetries'],
        [{ timeoutMs: 50 }, 400, '/timeoutMs'],
        [{ failureEmail: 'bad' }, 400, '/failureEmail'],
        [{ name: null }, 400, '/name'],
        [{ url: null }, 400, '/url'],
        [{ topic: 'users' }, 400, '/topic'],
        [{ id: 'sub_other' }, 400, '/id'],
        [{ signingSecret: 'whsec_x' }, 400, '/signingSecret'],
        [{ status: 'disabled' }, 400, '/status'],
        [{ name: 'taken' }, 409, null],
      ];
      for (const [fields, status, path] of cases) {
        const answer = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
          as: admin,
          body: { version: 1, ...(fields as object) },
        });
        problem(answer, status, JSON.stringify(fields));
        if (path)
          assert.ok(pathsOf(answer).includes(path), `${JSON.stringify(fields)}: ${JSON.stringify(answer.body.errors)}`);
      }
      assert.deepEqual(await get(api, admin, sub.id), before);
      const renamed = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
        as: admin,
        body: { version: 1, name: 'mine', url: URL_A },
      });
      ok(renamed, 200, 'its own name and url again are fine');
    });

    test('PATCH enabled false/true works like disable/enable', async () => {
      const admin = await world(api);
      const sub = await subscribe(api, admin, 'orders', { name: 'e', url: URL_A });
      const off = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
        as: admin,
        body: { version: 1, enabled: false },
      });
      ok(off, 200);
      assert.deepEqual([off.body.status, off.body.disabledReason, off.body.version], ['disabled', 'manual', 2]);
      const on = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
        as: admin,
        body: { version: 2, enabled: true },
      });
      ok(on, 200);
      assert.deepEqual([on.body.status, on.body.disabledReason, on.body.version], ['enabled', null, 3]);
    });

    test('enable/disable: disable sets manual; enable clears the reason and the failure count; each change bumps the version', async () => {
      const admin = await world(api);
      const sub = await subscribe(api, admin, 'orders', { name: 'toggle', url: URL_A });
      const off = await api().call('POST', `/v1/subscriptions/${sub.id}/disable`, { as: admin });
      ok(off, 200);
      assert.deepEqual([off.body.status, off.body.disabledReason, off.body.version], ['disabled', 'manual', 2]);
      const again = await api().call('POST', `/v1/subscriptions/${sub.id}/disable`, { as: admin });
      ok(again, 200);
      assert.equal(again.body.version, 2, 'already disabled by hand: nothing to change');
      const on = await api().call('POST', `/v1/subscriptions/${sub.id}/enable`, { as: admin });
      ok(on, 200);
      assert.deepEqual([on.body.status, on.body.disabledReason, on.body.version], ['enabled', null, 3]);
      assert.deepEqual(await get(api, admin, sub.id), on.body);

      // As the worker leaves it after too many failures: exhaust one delivery with
      // disableAfterFailures lowered to 1, through the store's own claim and settle.
      const deps = api().deps;
      const env = admin.environmentId;
      const low = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
        as: admin,
        body: { version: 3, disableAfterFailures: 1 },
      });
      ok(low, 200);
      const now = deps.clock.now();
      await deps.store.insertDeliveries(env, [
        { id: 'dlv_sim', eventId: 'evt_sim', subscriptionId: sub.id, topic: sub.topic, status: 'pending', nextAttemptAt: now, createdAt: now },
      ]);
      const [claimed] = await claimDeliveries(deps.store, { workerId: 'w', now, limit: 10, perSubscriptionCap: 16, leaseMs: 30_000 });
      assert.equal(claimed?.id, 'dlv_sim');
      const effects = await settleOne(deps.store, {
        environmentId: env,
        deliveryId: 'dlv_sim',
        workerId: 'w',
        now,
        decision: { kind: 'failed', gone: false },
        attempt: {
          id: 'att_sim',
          deliveryId: 'dlv_sim',
          subscriptionId: sub.id,
          number: 1,
          startedAt: now,
          durationMs: 1,
          requestHeaders: {},
          responseStatus: 500,
          responseBody: '',
          error: { kind: 'http_status', message: '500' },
          outcome: 'failed',
        },
      });
      assert.equal(effects.disabled, 'failures');
      const failed = await get(api, admin, sub.id);
      assert.deepEqual(
        [failed.status, failed.disabledReason, failed.consecutiveFailures, failed.version],
        ['disabled', 'failures', 1, 5],
      );
      const manual = await api().call('POST', `/v1/subscriptions/${sub.id}/disable`, { as: admin });
      assert.deepEqual([manual.body.disabledReason, manual.body.consecutiveFailures, manual.body.version], ['manual', 1, 6]);
      const back = await api().call('POST', `/v1/subscriptions/${sub.id}/enable`, { as: admin });
      ok(back, 200);
      assert.deepEqual(
        [back.body.status, back.body.disabledReason, back.body.consecutiveFailures, back.body.version],
        ['enabled', null, 0, 7],
      );

      problem(await api().call('POST', '/v1/subscriptions/sub_nope/enable', { as: admin }), 404);
      problem(await api().call('POST', '/v1/subscriptions/sub_nope/disable', { as: admin }), 404);
    });

    test('DELETE → 204; then 404; the topic can be deleted once it has no subscriptions', async () => {
      const admin = await world(api);
      const sub = await subscribe(api, admin, 'users', { name: 'gone', url: URL_A });
      problem(await api().call('DELETE', '/v1/topics/users', { as: admin }), 409);
      ok(await api().call('DELETE', `/v1/subscriptions/${sub.id}`, { as: admin }), 204);
      problem(await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: admin }), 404);
      problem(await api().call('DELETE', `/v1/subscriptions/${sub.id}`, { as: admin }), 404);
      problem(await api().call('PATCH', `/v1/subscriptions/${sub.id}`, { as: admin, body: { version: 1 } }), 404);
      ok(await api().call('DELETE', '/v1/topics/users', { as: admin }), 204);
    });

    test('another environment’s subscription: 404 on every call, and it is left as it was', async () => {
      const admin = await world(api);
      const other = await world(api);
      const theirs = await subscribe(api, other, 'orders', { name: 'theirs', url: URL_A });
      const before = await get(api, other, theirs.id);
      const calls: [string, string, unknown?][] = [
        ['GET', ''],
        ['PATCH', '', { version: 1, name: 'hijacked' }],
        ['DELETE', ''],
        ['GET', '/secret'],
        ['POST', '/secret/rotate', {}],
        ['POST', '/enable'],
        ['POST', '/disable'],
        ['POST', '/test', { type: 'order.created', data: {} }],
      ];
      for (const [method, suffix, body] of calls) {
        const answer = await api().call(method, `/v1/subscriptions/${theirs.id}${suffix}`, {
          as: admin,
          ...(body !== undefined ? { body } : {}),
        });
        problem(answer, 404, `${method} ${suffix}`);
      }
      assert.deepEqual(await get(api, other, theirs.id), before);
    });

    test('publisher keys read (secret header masked) but may not write: 403, nothing changes', async () => {
      const admin = await world(api);
      const publisher = await api().key(admin, 'publisher');
      const sub = await subscribe(api, admin, 'orders', {
        name: 'p',
        url: URL_A,
        secretHeaderName: 'X-Secret',
        secretHeaderValue: 'hidden',
      });
      const read = await get(api, publisher, sub.id);
      assert.equal(read.secretHeaderValue, '********');
      assert.equal((await listAll(api, publisher, '/v1/topics/orders/subscriptions')).length, 1);
      assert.equal((await listAll(api, publisher, '/v1/subscriptions')).length, 1);
      const before = await get(api, admin, sub.id);
      const calls: [string, string, unknown?][] = [
        ['POST', '/v1/topics/orders/subscriptions', { name: 'mine', url: URL_A }],
        ['POST', '/v1/topics/orders/subscriptions', { name: 'mine', url: URL_A, filter: { var: 'x' } }],
        ['PATCH', `/v1/subscriptions/${sub.id}`, { version: 1, name: 'x' }],
        ['DELETE', `/v1/subscriptions/${sub.id}`],
        ['GET', `/v1/subscriptions/${sub.id}/secret`],
        ['POST', `/v1/subscriptions/${sub.id}/secret/rotate`, {}],
        ['POST', `/v1/subscriptions/${sub.id}/enable`],
        ['POST', `/v1/subscriptions/${sub.id}/disable`],
        ['POST', `/v1/subscriptions/${sub.id}/test`, { type: 'order.created' }],
      ];
      for (const [method, url, body] of calls) {
        problem(
          await api().call(method, url, { as: publisher, ...(body !== undefined ? { body } : {}) }),
          403,
          `${method} ${url}`,
        );
        problem(
          await api().call(method, url, { as: null, ...(body !== undefined ? { body } : {}) }),
          401,
          `${method} ${url}`,
        );
      }
      assert.deepEqual(await get(api, admin, sub.id), before);
      assert.equal((await listAll(api, admin, '/v1/subscriptions')).length, 1);
    });

    test('subscriber keys manage subscriptions on the topics they may see; an app topic without the permission is a 404', async () => {
      const admin = await world(api);
      const plain = await api().key(admin, 'subscriber');
      const vip = await api().key(admin, 'subscriber', ['other', 'vip:read']);
      const adminsVip = await subscribe(api, admin, 'vip', { name: 'admins', url: URL_A });
      const adminsOrders = await subscribe(api, admin, 'orders', { name: 'admins', url: URL_A });

      // A plain subscriber: free topics yes, the app's topic is invisible.
      const own = await subscribe(api, plain, 'orders', {
        name: 'mine',
        url: URL_A,
        secretHeaderName: 'X-S',
        secretHeaderValue: 'v',
      });
      assert.equal((await get(api, plain, own.id)).secretHeaderValue, 'v', 'the manager sees it in a single GET');
      problem(
        await api().call('POST', '/v1/topics/vip/subscriptions', { as: plain, body: { name: 'sneak', url: URL_A } }),
        404,
      );
      problem(await api().call('GET', '/v1/topics/vip/subscriptions', { as: plain }), 404);
      const before = await get(api, admin, adminsVip.id);
      const calls: [string, string, unknown?][] = [
        ['GET', ''],
        ['PATCH', '', { version: 1, url: 'https://attacker.example/' }],
        ['DELETE', ''],
        ['GET', '/secret'],
        ['POST', '/secret/rotate', {}],
        ['POST', '/enable'],
        ['POST', '/disable'],
        ['POST', '/test', { type: 'order.created' }],
      ];
      for (const [method, suffix, body] of calls) {
        const answer = await api().call(method, `/v1/subscriptions/${adminsVip.id}${suffix}`, {
          as: plain,
          ...(body !== undefined ? { body } : {}),
        });
        problem(answer, 404, `${method} ${suffix}`);
      }
      assert.deepEqual(await get(api, admin, adminsVip.id), before);
      const seen = (await listAll(api, plain, '/v1/subscriptions')).map((s) => s.id).sort();
      assert.deepEqual(seen, [adminsOrders.id, own.id].sort());
      assert.deepEqual(await listAll(api, plain, '/v1/subscriptions?topic=vip'), []);

      // It manages what it can see, the admin's included (SPEC: "manages the subscriptions on those topics").
      const patched = await api().call('PATCH', `/v1/subscriptions/${own.id}`, {
        as: plain,
        body: { version: 1, description: 'd' },
      });
      ok(patched, 200);
      ok(await api().call('POST', `/v1/subscriptions/${own.id}/disable`, { as: plain }), 200);
      ok(await api().call('POST', `/v1/subscriptions/${own.id}/enable`, { as: plain }), 200);
      ok(await api().call('GET', `/v1/subscriptions/${own.id}/secret`, { as: plain }), 200);
      ok(await api().call('DELETE', `/v1/subscriptions/${own.id}`, { as: plain }), 204);

      // A subscriber holding one of the app's permissions sees and manages the app's topic.
      const vipOwn = await subscribe(api, vip, 'vip', { name: 'vip-mine', url: URL_A });
      assert.deepEqual(
        (await listAll(api, vip, '/v1/subscriptions?topic=vip')).map((s) => s.id),
        [adminsVip.id, vipOwn.id],
      );
      ok(
        await api().call('PATCH', `/v1/subscriptions/${adminsVip.id}`, {
          as: vip,
          body: { version: 1, description: 'vip' },
        }),
        200,
      );
      assert.equal((await listAll(api, vip, '/v1/subscriptions')).length, 3);

      // Subscriber keys create no registry: still admin-only.
      problem(
        await api().call('POST', '/v1/topics', { as: plain, body: { name: 't', eventTypes: ['order.created'] } }),
        403,
      );
    });

    test('a topic named herald.operational (the built-in one) can be subscribed to like any other', async () => {
      const admin = await world(api);
      const deps = api().deps;
      const env = admin.environmentId;
      const now = api().clock.now();
      const types = ['herald.delivery.failed', 'herald.subscription.disabled', 'herald.subscription.recovered'];
      if (!(await deps.store.getTopic(env, 'herald.operational'))) {
        for (const name of types) {
          await deps.store.insertEventType(env, {
            name,
            description: null,
            category: null,
            schema: null,
            example: undefined,
            schemaVersion: 1,
            archivedAt: null,
            createdAt: now,
            updatedAt: now,
          });
        }
        await deps.store.insertTopic(env, {
          name: 'herald.operational',
          description: 'operational events',
          eventTypes: types,
          appId: null,
          createdAt: now,
          updatedAt: now,
        });
      }
      const sub = await subscribe(api, admin, 'herald.operational', {
        name: 'ops',
        url: URL_A,
        events: ['herald.delivery.failed', 'herald.subscription.disabled'],
      });
      assert.equal(sub.topic, 'herald.operational');
      const subscriber = await api().key(admin, 'subscriber');
      ok(await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: subscriber }), 200);
    });
  },
  { lookup },
);

describeApi(
  'subscriptions: the URL guard with HERALD_ALLOW_PRIVATE_URLS=false',
  (api) => {
    test('loopback, private, link-local and metadata targets are refused at /url, at create and at PATCH', async () => {
      const admin = await world(api);
      const refused = [
        'http://127.0.0.1:8080/hook',
        'http://localhost/hook',
        'http://[::1]/hook',
        'http://10.1.2.3/',
        'http://192.168.0.1/',
        'http://169.254.169.254/latest/meta-data',
        'http://[::ffff:127.0.0.1]/',
        'http://0.0.0.0/',
        'https://internal.example/hook',
        'https://metadata.example/',
        'https://mixed.example/',
      ];
      for (const url of refused) {
        const answer = await api().call('POST', '/v1/topics/orders/subscriptions', {
          as: admin,
          body: { name: 'n', url },
        });
        problem(answer, 400, url);
        assert.deepEqual(pathsOf(answer), ['/url'], url);
        assert.ok(answer.body.errors[0].message.length > 0, url);
      }
      const meta = await api().call('POST', '/v1/topics/orders/subscriptions', {
        as: admin,
        body: { name: 'n', url: 'https://metadata.example/' },
      });
      assert.match(meta.body.errors[0].message, /169\.254\.169\.254/);
      assert.deepEqual(await listAll(api, admin, '/v1/subscriptions'), []);

      const sub = await subscribe(api, admin, 'orders', { name: 'public', url: 'https://public.example/hook' });
      const before = await get(api, admin, sub.id);
      for (const url of ['https://internal.example/x', 'http://127.0.0.1/']) {
        const answer = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
          as: admin,
          body: { version: 1, url },
        });
        problem(answer, 400, url);
        assert.deepEqual(pathsOf(answer), ['/url']);
      }
      assert.deepEqual(await get(api, admin, sub.id), before);
      ok(
        await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
          as: admin,
          body: { version: 1, url: 'http://93.184.215.14/x' },
        }),
        200,
      );
    });
  },
  { allowPrivateUrls: false, lookup },
);
