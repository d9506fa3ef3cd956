/**
 * A subscription's lane fields (SPEC §4 "Subscriptions"): `ordering`, `rateLimitPerSecond` and
 * `batch`, as the API takes, checks, stores, answers and changes them. Whether delivery honours
 * them is the queue's business and is tested there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertProblem } from '../../src/testing/assertions.ts';
import { TestReceiver } from '../../src/testing/receiver.ts';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';
import { execOnTestDatabase } from '../../src/testing/test-store.ts';

type Api = () => TestApi;
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back.
type Json = any;

/** Nothing is sent to it (no worker runs here); private addresses are allowed in these tests. */
const URL_A = 'http://127.0.0.1:9/hook';
const DEFAULTS = { ordering: 'unordered', rateLimitPerSecond: null, batch: null };

function ok(answer: Answer, status: number, label = ''): void {
  assert.equal(answer.status, status, `${label} ${JSON.stringify(answer.body)}`);
}

const pathsOf = (answer: Answer): string[] => ((answer.body.errors ?? []) as { path: string }[]).map((e) => e.path);
const lanes = (s: Json) => ({ ordering: s.ordering, rateLimitPerSecond: s.rateLimitPerSecond, batch: s.batch });
const withoutSecret = ({ signingSecret: _s, ...rest }: Json) => rest;

/** An environment with topic `orders` = [order.created]. */
async function world(api: Api): Promise<Caller> {
  const admin = await api().environment('lanes');
  ok(await api().call('POST', '/v1/event-types', { as: admin, body: { name: 'order.created' } }), 201);
  ok(await api().call('POST', '/v1/topics', { as: admin, body: { name: 'orders', eventTypes: ['order.created'] } }), 201);
  return admin;
}

async function subscribe(api: Api, as: Caller, body: Record<string, unknown>): Promise<Json> {
  const answer = await api().call('POST', '/v1/topics/orders/subscriptions', { as, body: { url: URL_A, ...body } });
  ok(answer, 201, 'create');
  return answer.body;
}

async function get(api: Api, as: Caller, id: string): Promise<Json> {
  const answer = await api().call('GET', `/v1/subscriptions/${id}`, { as });
  ok(answer, 200, 'get');
  return answer.body;
}

async function patch(api: Api, as: Caller, id: string, body: Record<string, unknown>): Promise<Json> {
  const answer = await api().call('PATCH', `/v1/subscriptions/${id}`, { as, body });
  ok(answer, 200, `patch ${JSON.stringify(body)}`);
  return answer.body;
}

/** Each bad value, and a path its 400 must name. */
const BAD: [string, Record<string, unknown>, string][] = [
  ['rateLimitPerSecond 0', { rateLimitPerSecond: 0 }, '/rateLimitPerSecond'],
  ['rateLimitPerSecond -1', { rateLimitPerSecond: -1 }, '/rateLimitPerSecond'],
  ['rateLimitPerSecond 0.009', { rateLimitPerSecond: 0.009 }, '/rateLimitPerSecond'],
  ['rateLimitPerSecond 10001', { rateLimitPerSecond: 10001 }, '/rateLimitPerSecond'],
  ['rateLimitPerSecond 10000.5', { rateLimitPerSecond: 10000.5 }, '/rateLimitPerSecond'],
  ['rateLimitPerSecond as text', { rateLimitPerSecond: '5' }, '/rateLimitPerSecond'],
  ['rateLimitPerSecond true', { rateLimitPerSecond: true }, '/rateLimitPerSecond'],
  ['batch maxEvents 0 alone', { batch: { maxEvents: 0 } }, '/batch/maxEvents'],
  ['batch maxEvents 0', { batch: { maxEvents: 0, maxWaitMs: 0 } }, '/batch/maxEvents'],
  ['batch maxEvents 1001', { batch: { maxEvents: 1001, maxWaitMs: 0 } }, '/batch/maxEvents'],
  ['batch maxEvents 1.5', { batch: { maxEvents: 1.5, maxWaitMs: 0 } }, '/batch/maxEvents'],
  ['batch maxEvents as text', { batch: { maxEvents: '10', maxWaitMs: 0 } }, '/batch/maxEvents'],
  ['batch maxWaitMs 60001', { batch: { maxEvents: 1, maxWaitMs: 60001 } }, '/batch/maxWaitMs'],
  ['batch maxWaitMs 60001 alone', { batch: { maxWaitMs: 60001 } }, '/batch/maxWaitMs'],
  ['batch maxWaitMs -1', { batch: { maxEvents: 1, maxWaitMs: -1 } }, '/batch/maxWaitMs'],
  ['batch without maxEvents', { batch: { maxWaitMs: 100 } }, '/batch/maxEvents'],
  ['batch without maxWaitMs', { batch: { maxEvents: 10 } }, '/batch/maxWaitMs'],
  ['batch empty', { batch: {} }, '/batch/maxEvents'],
  ['batch unknown key', { batch: { maxEvents: 10, maxWaitMs: 100, maxBytes: 5 } }, '/batch/maxBytes'],
  ['batch a number', { batch: 10 }, '/batch'],
  ['batch a list', { batch: [10, 100] }, '/batch'],
  ['ordering lifo', { ordering: 'lifo' }, '/ordering'],
  ['ordering FIFO', { ordering: 'FIFO' }, '/ordering'],
  ['ordering null', { ordering: null }, '/ordering'],
  ['ordering a number', { ordering: 1 }, '/ordering'],
];

describeApi('subscription lanes: ordering, rateLimitPerSecond, batch', (api) => {
  test('omitted: unordered, unlimited, unbatched; explicit nulls and unordered mean the same', async () => {
    const admin = await world(api);
    const plain = await subscribe(api, admin, { name: 'plain' });
    assert.deepEqual(lanes(plain), DEFAULTS);
    assert.deepEqual(lanes(await get(api, admin, plain.id)), DEFAULTS);
    const explicit = await subscribe(api, admin, { name: 'explicit', ...DEFAULTS });
    assert.deepEqual(lanes(explicit), DEFAULTS);
  });

  test('create with each field: the answer, GET and both lists carry it', async () => {
    const admin = await world(api);
    const bodies: Record<string, unknown>[] = [
      { name: 'fifo', ordering: 'fifo' },
      { name: 'limited', rateLimitPerSecond: 5 },
      { name: 'batched', batch: { maxEvents: 10, maxWaitMs: 250 } },
      { name: 'batched data', format: 'data', batch: { maxEvents: 1000, maxWaitMs: 60000 } },
      { name: 'edges', batch: { maxEvents: 1, maxWaitMs: 0 }, rateLimitPerSecond: 10000, ordering: 'fifo' },
      { name: 'all', format: 'cloudevents', ordering: 'fifo', rateLimitPerSecond: 0.5, batch: { maxEvents: 3, maxWaitMs: 1 } },
    ];
    const created: Json[] = [];
    for (const body of bodies) {
      const { name, format: _f, ...given } = body;
      const sub = await subscribe(api, admin, body);
      assert.deepEqual(lanes(sub), { ...DEFAULTS, ...given }, String(name));
      assert.deepEqual(await get(api, admin, sub.id), withoutSecret(sub), String(name));
      created.push(sub);
    }
    for (const url of ['/v1/topics/orders/subscriptions?limit=250', '/v1/subscriptions?topic=orders&limit=250']) {
      const listed = await api().call('GET', url, { as: admin });
      ok(listed, 200, url);
      const byId = new Map((listed.body.data as Json[]).map((s) => [s.id, s]));
      for (const sub of created) assert.deepEqual(lanes(byId.get(sub.id)), lanes(sub), `${url} ${sub.name}`);
    }
  });

  test('rateLimitPerSecond takes fractions from 0.01 and reads back exactly what was sent', async () => {
    const admin = await world(api);
    const sub = await subscribe(api, admin, { name: 'rates' });
    let version = sub.version;
    for (const rate of [0.01, 0.1, 0.3333333333333333, 0.5, 1, 2.5, 9999.99, 10000]) {
      const patched = await patch(api, admin, sub.id, { version, rateLimitPerSecond: rate });
      assert.equal(patched.rateLimitPerSecond, rate);
      assert.equal((await get(api, admin, sub.id)).rateLimitPerSecond, rate, `${rate} as stored`);
      version = patched.version;
    }
  });

  test('PATCH sets them, keeps them when absent, replaces batch whole, and clears them', async () => {
    const admin = await world(api);
    const sub = await subscribe(api, admin, { name: 'p' });
    const set = await patch(api, admin, sub.id, {
      version: 1,
      ordering: 'fifo',
      rateLimitPerSecond: 20,
      batch: { maxEvents: 50, maxWaitMs: 1000 },
    });
    const setTo = { ordering: 'fifo', rateLimitPerSecond: 20, batch: { maxEvents: 50, maxWaitMs: 1000 } };
    assert.deepEqual([set.version, lanes(set)], [2, setTo]);
    assert.deepEqual(await get(api, admin, sub.id), set);

    const kept = await patch(api, admin, sub.id, { version: 2, description: 'other field', format: 'data' });
    assert.deepEqual(lanes(kept), setTo, 'fields not sent are kept');

    const replaced = await patch(api, admin, sub.id, { version: 3, batch: { maxEvents: 5, maxWaitMs: 0 } });
    assert.deepEqual(replaced.batch, { maxEvents: 5, maxWaitMs: 0 });
    assert.deepEqual([replaced.ordering, replaced.rateLimitPerSecond], ['fifo', 20]);

    // A batch is replaced whole, never merged: one limit alone is refused.
    const partial = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
      as: admin,
      body: { version: 4, batch: { maxEvents: 7 } },
    });
    assertProblem(partial, 400);
    assert.ok(pathsOf(partial).includes('/batch/maxWaitMs'), JSON.stringify(partial.body.errors));
    assert.deepEqual(await get(api, admin, sub.id), replaced, 'nothing changed');

    const cleared = await patch(api, admin, sub.id, {
      version: 4,
      ordering: 'unordered',
      rateLimitPerSecond: null,
      batch: null,
    });
    assert.deepEqual([cleared.version, lanes(cleared)], [5, DEFAULTS]);
    assert.deepEqual(await get(api, admin, sub.id), cleared);
  });

  test('bad values are a 400 naming the field, on create and on PATCH, and change nothing', async () => {
    const admin = await world(api);
    for (const [label, fields, path] of BAD) {
      const answer = await api().call('POST', '/v1/topics/orders/subscriptions', {
        as: admin,
        body: { name: 'bad', url: URL_A, ...fields },
      });
      assertProblem(answer, 400, label);
      assert.ok(pathsOf(answer).includes(path), `${label}: ${JSON.stringify(answer.body.errors)}`);
    }
    const none = await api().call('GET', '/v1/subscriptions', { as: admin });
    assert.deepEqual(none.body.data, [], 'nothing was created');

    const sub = await subscribe(api, admin, {
      name: 'target',
      ordering: 'fifo',
      rateLimitPerSecond: 3,
      batch: { maxEvents: 4, maxWaitMs: 5 },
    });
    const before = await get(api, admin, sub.id);
    for (const [label, fields, path] of BAD) {
      const answer = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
        as: admin,
        body: { version: 1, ...fields },
      });
      assertProblem(answer, 400, `PATCH ${label}`);
      assert.ok(pathsOf(answer).includes(path), `PATCH ${label}: ${JSON.stringify(answer.body.errors)}`);
    }
    assert.deepEqual(await get(api, admin, sub.id), before, 'nothing changed');
  });

  test('a test send to a fifo, rate-limited, batched subscription is one request, sent now', async () => {
    const admin = await world(api);
    const hook = await new TestReceiver().start();
    try {
      const sub = await subscribe(api, admin, {
        name: 'send',
        url: hook.url,
        ordering: 'fifo',
        rateLimitPerSecond: 0.01,
        batch: { maxEvents: 100, maxWaitMs: 60000 },
      });
      const answer = await api().call('POST', `/v1/subscriptions/${sub.id}/test`, {
        as: admin,
        body: { type: 'order.created', data: { n: 1 } },
      });
      ok(answer, 200);
      assert.equal(answer.body.outcome, 'succeeded', JSON.stringify(answer.body));
      assert.equal(hook.received.length, 1);
    } finally {
      await hook.stop();
    }
  });

  test('the OpenAPI document describes the three fields on create and PATCH', async () => {
    const doc = (await api().call('GET', '/openapi.json')).body;
    const bodyOf = (path: string, method: string) =>
      doc.paths[path][method].requestBody.content['application/json'].schema.properties;
    for (const properties of [
      bodyOf('/v1/topics/{topic}/subscriptions', 'post'),
      bodyOf('/v1/subscriptions/{id}', 'patch'),
    ]) {
      for (const field of ['ordering', 'rateLimitPerSecond', 'batch']) {
        assert.ok(properties[field], `${field} in ${JSON.stringify(Object.keys(properties))}`);
      }
    }
  });

  test('a subscription stored before migration 0008 reads as unordered, unlimited and unbatched', async () => {
    const admin = await world(api);
    const sub = await subscribe(api, admin, {
      name: 'old',
      ordering: 'fifo',
      rateLimitPerSecond: 7,
      batch: { maxEvents: 2, maxWaitMs: 3 },
    });
    // The database as it was before 0008, with the runner made to forget it, then migrated again.
    await execOnTestDatabase(
      api().databaseUrl,
      ['ordering', 'rate_limit_per_second', 'batch_max_events', 'batch_max_wait_ms']
        .map((column) => `ALTER TABLE subscriptions DROP COLUMN ${column};`)
        .join('\n') + '\nDELETE FROM herald_migrations WHERE version = 8;',
    );
    await api().deps.store.migrate();
    const migrated = await get(api, admin, sub.id);
    assert.deepEqual(migrated, { ...withoutSecret(sub), ...DEFAULTS });
    const again = await patch(api, admin, sub.id, { version: 1, ordering: 'fifo', batch: { maxEvents: 9, maxWaitMs: 9 } });
    assert.deepEqual(lanes(again), { ordering: 'fifo', rateLimitPerSecond: null, batch: { maxEvents: 9, maxWaitMs: 9 } });
  });
});
