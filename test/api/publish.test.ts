/**
 * Publishing (SPEC §4 Publishing): POST /v1/topics/{topic}/events/publish and POST /v1/events/publish.
 * Atomic batches, idempotency by publisher id, scheduling (`timestamp` + `delay`), roles, body errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, TEST_EPOCH, type TestApi, describeApi } from '../../src/testing/test-app.ts';

/** Small limits so the limit checks are cheap to reach. */
const LIMITS = {
  maxEventDataBytes: 200,
  maxEventsPerPublish: 8,
  maxBodyBytes: 8 * 1024,
};

const USER_SCHEMA = {
  type: 'object',
  required: ['email'],
  properties: {
    email: { type: 'string', format: 'email' },
    age: { type: 'integer', minimum: 0 },
  },
};

type Api = () => TestApi;

function ok(answer: Answer, status: number): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
}

/**
 * An environment with: topic `orders` = [order.created, user.signup, old.thing (archived)],
 * topic `billing` = [invoice.paid], and `lonely` in no topic.
 */
async function registry(api: Api): Promise<Caller> {
  const admin = await api().environment('publish');
  const post = async (url: string, body: unknown) => ok(await api().call('POST', url, { as: admin, body }), 201);
  await post('/v1/event-types', { name: 'order.created' });
  await post('/v1/event-types', { name: 'user.signup', schema: USER_SCHEMA });
  await post('/v1/event-types', { name: 'invoice.paid' });
  await post('/v1/event-types', { name: 'old.thing' });
  await post('/v1/event-types', { name: 'lonely' });
  await post('/v1/topics', {
    name: 'orders',
    eventTypes: ['order.created', 'user.signup', 'old.thing'],
  });
  await post('/v1/topics', { name: 'billing', eventTypes: ['invoice.paid'] });
  ok(await api().call('DELETE', '/v1/event-types/old.thing', { as: admin }), 204);
  return admin;
}

const toOrders = (api: Api, as: Caller, events: unknown[]) =>
  api().call('POST', '/v1/topics/orders/events/publish', {
    as,
    body: { events },
  });
const toAll = (api: Api, as: Caller, events: unknown[]) =>
  api().call('POST', '/v1/events/publish', { as, body: { events } });

async function storedEvents(api: Api, as: Caller): Promise<{ id: string; [k: string]: unknown }[]> {
  const list = await api().call('GET', '/v1/events?limit=250', { as });
  ok(list, 200);
  return list.body.data;
}

async function getEvent(api: Api, as: Caller, id: string) {
  const answer = await api().call('GET', `/v1/events/${encodeURIComponent(id)}`, { as });
  ok(answer, 200);
  return answer.body;
}

/** A 400 problem whose `errors` paths are exactly `paths` (in any order). */
function assertProblems(answer: Answer, status: number, paths: string[]): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  assert.equal(answer.body.status, status);
  assert.equal(typeof answer.body.title, 'string');
  assert.equal(typeof answer.body.detail, 'string');
  const got = (answer.body.errors ?? []).map((e: { path: string; message: string }) => {
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0);
    return e.path;
  });
  assert.deepEqual([...new Set(got)].sort(), [...new Set(paths)].sort(), JSON.stringify(answer.body.errors));
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describeApi(
  'publishing',
  (api) => {
    // ── happy paths ───────────────────────────────────────────────────────────

    test('topic publish: 202 with evt_ id, and the event is stored exactly as sent', async () => {
      const admin = await registry(api);
      const now = api().clock.now();
      const data = {
        b: 1,
        a: [1, 'x', null, true, { n: -1.5, deep: { z: 'é 🎉 "q" \\ \u0000' } }],
        email: 'x@y.z',
      };
      const answer = await toOrders(api, admin, [
        {
          type: 'order.created',
          data,
          source: '/crm/orders',
          subject: 'order-42',
          time: '2026-03-01T10:00:00.123Z',
          context: ['region.3', 'region.7'],
        },
      ]);
      ok(answer, 202);
      assert.equal(answer.body.events.length, 1);
      const [result] = answer.body.events;
      assert.deepEqual(Object.keys(result).sort(), ['deliveries', 'id', 'status']);
      assert.equal(result.status, 'accepted');
      assert.equal(result.deliveries, 0);
      assert.match(result.id, /^evt_[0-9A-HJKMNP-TV-Z]{26}$/);

      const stored = await getEvent(api, admin, result.id);
      assert.equal(stored.id, result.id);
      assert.equal(stored.type, 'order.created');
      assert.equal(JSON.stringify(stored.data), JSON.stringify(data), 'data keeps values and key order');
      assert.equal(stored.source, '/crm/orders');
      assert.equal(stored.subject, 'order-42');
      assert.equal(stored.time, '2026-03-01T10:00:00.123Z');
      assert.deepEqual(stored.context, ['region.3', 'region.7']);
      assert.equal(stored.topic, 'orders');
      assert.equal(stored.deliverAt, new Date(now).toISOString());
      assert.equal(stored.createdAt, new Date(now).toISOString());
      assert.equal(stored.cancelledAt, null);
    });

    test('defaults: no data → null, no time → acceptance time, no source/subject/context', async () => {
      const admin = await registry(api);
      api().clock.advance(1234);
      const answer = await toOrders(api, admin, [{ type: 'order.created' }]);
      ok(answer, 202);
      const stored = await getEvent(api, admin, answer.body.events[0].id);
      assert.equal(stored.data, null);
      assert.equal(stored.source, null);
      assert.equal(stored.subject, null);
      assert.deepEqual(stored.context, []);
      assert.equal(stored.time, new Date(api().clock.now()).toISOString());
      assert.match(stored.time, RFC3339);
    });

    test('time with an offset is kept as the same instant, presented in RFC 3339', async () => {
      const admin = await registry(api);
      const answer = await toOrders(api, admin, [{ type: 'order.created', time: '2026-03-01T12:30:00+02:00' }]);
      ok(answer, 202);
      const stored = await getEvent(api, admin, answer.body.events[0].id);
      assert.match(stored.time, RFC3339);
      assert.equal(Date.parse(stored.time), Date.parse('2026-03-01T10:30:00Z'));
    });

    test('a batch: one answer per event, in order, each with its own evt_ id', async () => {
      const admin = await registry(api);
      const answer = await toOrders(api, admin, [
        { type: 'order.created', data: { n: 0 } },
        { type: 'user.signup', data: { email: 'a@example.com', age: 3 } },
        { type: 'order.created', data: { n: 2 } },
      ]);
      ok(answer, 202);
      const ids = answer.body.events.map((e: { id: string }) => e.id);
      assert.equal(new Set(ids).size, 3);
      for (const e of answer.body.events) {
        assert.equal(e.status, 'accepted');
        assert.equal(e.deliveries, 0);
        assert.match(e.id, /^evt_/);
      }
      for (const [i, id] of ids.entries()) {
        const stored = await getEvent(api, admin, id);
        assert.equal(stored.type, i === 1 ? 'user.signup' : 'order.created');
        if (i !== 1) assert.deepEqual(stored.data, { n: i });
      }
      assert.equal((await storedEvents(api, admin)).length, 3);
    });

    test('global publish: accepted when some topic holds the type; stored with topic null', async () => {
      const admin = await registry(api);
      const answer = await toAll(api, admin, [
        { type: 'invoice.paid', data: { amount: 10 } },
        { type: 'user.signup', data: { email: 'b@example.com' } },
      ]);
      ok(answer, 202);
      assert.deepEqual(
        answer.body.events.map((e: { status: string }) => e.status),
        ['accepted', 'accepted'],
      );
      const stored = await getEvent(api, admin, answer.body.events[0].id);
      assert.equal(stored.type, 'invoice.paid');
      assert.equal(stored.topic, null);
      assert.deepEqual(stored.data, { amount: 10 });
    });

    // ── idempotency ───────────────────────────────────────────────────────────

    test('a publisher id is kept; publishing it again is a duplicate and is not stored twice', async () => {
      const admin = await registry(api);
      const id = 'order:42_v1.final-A';
      const acceptedAt = api().clock.now();
      const first = await toOrders(api, admin, [{ type: 'order.created', id, data: { v: 1 } }]);
      ok(first, 202);
      assert.deepEqual(first.body.events, [{ id, status: 'accepted', deliveries: 0 }]);

      api().clock.advance(60_000);
      const again = await toOrders(api, admin, [{ type: 'order.created', id, data: { v: 2 } }]);
      ok(again, 202);
      assert.deepEqual(again.body.events, [{ id, status: 'duplicate', deliveries: 0 }]);

      // Through the other endpoint too: the id is the environment's, not the topic's.
      const global = await toAll(api, admin, [{ type: 'order.created', id, data: { v: 3 } }]);
      ok(global, 202);
      assert.equal(global.body.events[0].status, 'duplicate');

      const all = await storedEvents(api, admin);
      assert.deepEqual(
        all.map((e) => e.id),
        [id],
      );
      const stored = await getEvent(api, admin, id);
      assert.deepEqual(stored.data, { v: 1 }, 'the first accepted event is kept unchanged');
      assert.equal(stored.createdAt, new Date(acceptedAt).toISOString());
    });

    test('the same id twice in one batch: first accepted, second duplicate', async () => {
      const admin = await registry(api);
      const answer = await toOrders(api, admin, [
        { type: 'order.created', id: 'dup-1', data: { n: 1 } },
        { type: 'order.created', data: { n: 2 } },
        { type: 'order.created', id: 'dup-1', data: { n: 3 } },
      ]);
      ok(answer, 202);
      const statuses = answer.body.events.map((e: { id: string; status: string }) => [e.id === 'dup-1', e.status]);
      assert.deepEqual(statuses, [
        [true, 'accepted'],
        [false, 'accepted'],
        [true, 'duplicate'],
      ]);
      const all = await storedEvents(api, admin);
      assert.equal(all.length, 2);
      assert.deepEqual((await getEvent(api, admin, 'dup-1')).data, { n: 1 });
    });

    test('a batch mixing a known id and new events: only the new ones are stored', async () => {
      const admin = await registry(api);
      ok(await toOrders(api, admin, [{ type: 'order.created', id: 'known' }]), 202);
      const answer = await toOrders(api, admin, [
        { type: 'order.created', id: 'fresh' },
        { type: 'order.created', id: 'known', data: 'changed' },
      ]);
      ok(answer, 202);
      assert.deepEqual(answer.body.events, [
        { id: 'fresh', status: 'accepted', deliveries: 0 },
        { id: 'known', status: 'duplicate', deliveries: 0 },
      ]);
      assert.equal((await storedEvents(api, admin)).length, 2);
      assert.equal((await getEvent(api, admin, 'known')).data, null);
    });

    test('ids are per environment: the same id is accepted in two environments', async () => {
      const one = await registry(api);
      const two = await registry(api);
      ok(await toOrders(api, one, [{ type: 'order.created', id: 'shared', data: 1 }]), 202);
      const answer = await toOrders(api, two, [{ type: 'order.created', id: 'shared', data: 2 }]);
      ok(answer, 202);
      assert.equal(answer.body.events[0].status, 'accepted');
      assert.equal((await getEvent(api, one, 'shared')).data, 1);
      assert.equal((await getEvent(api, two, 'shared')).data, 2);
    });

    test('concurrent publishes of the same id: exactly one accepted, stored once', async () => {
      const admin = await registry(api);
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => toOrders(api, admin, [{ type: 'order.created', id: 'race', data: i }])),
      );
      for (const a of answers) ok(a, 202);
      const statuses = answers.map((a) => a.body.events[0].status);
      assert.equal(statuses.filter((s) => s === 'accepted').length, 1, JSON.stringify(statuses));
      assert.equal(statuses.filter((s) => s === 'duplicate').length, 5);
      assert.equal((await storedEvents(api, admin)).length, 1);
    });

    // ── atomic batches: every problem listed, nothing stored ─────────────────

    test('one bad event among good ones: 400 naming it, nothing stored', async () => {
      const admin = await registry(api);
      const answer = await toOrders(api, admin, [
        { type: 'order.created', id: 'good-0' },
        {
          type: 'user.signup',
          id: 'good-1',
          data: { email: 'ok@example.com' },
        },
        { type: 'no.such.type', id: 'bad-2' },
        { type: 'order.created', id: 'good-3' },
      ]);
      assertProblems(answer, 400, ['/events/2/type']);
      assert.deepEqual(await storedEvents(api, admin), []);
      // None of the ids was used up: publishing the good ones now accepts them.
      const retry = await toOrders(api, admin, [{ type: 'order.created', id: 'good-0' }]);
      ok(retry, 202);
      assert.equal(retry.body.events[0].status, 'accepted');
    });

    test('every semantic problem of a batch is listed, by /events/<index> path', async () => {
      const admin = await registry(api);
      const answer = await toOrders(api, admin, [
        { type: 'order.created' }, // good
        { type: 'no.such.type' }, // unknown
        { type: 'old.thing' }, // archived
        { type: 'invoice.paid' }, // not in topic orders
        { type: 'user.signup', data: { email: 'not an email', age: -1 } }, // schema: two problems
        { type: 'user.signup', data: { age: 3 } }, // schema: required
        { type: 'order.created', data: 'x'.repeat(250) }, // data too large
        { type: 'order.created', time: '2026-06-30T23:59:60Z' }, // a leap second: RFC 3339 but not representable
      ]);
      assertProblems(answer, 400, [
        '/events/1/type',
        '/events/2/type',
        '/events/3/type',
        '/events/4/data/email',
        '/events/4/data/age',
        '/events/5/data/email',
        '/events/6/data',
        '/events/7/time',
      ]);
      const messages = Object.fromEntries(
        answer.body.errors.map((e: { path: string; message: string }) => [e.path, e.message]),
      );
      assert.match(messages['/events/2/type'], /archived/);
      assert.match(messages['/events/3/type'], /orders/);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test('unknown type → 400 at /events/i/type', async () => {
      const admin = await registry(api);
      assertProblems(await toOrders(api, admin, [{ type: 'nope' }]), 400, ['/events/0/type']);
      assertProblems(await toAll(api, admin, [{ type: 'nope' }]), 400, ['/events/0/type']);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test('archived type → 400 on both endpoints; restoring it makes it publishable again', async () => {
      const admin = await registry(api);
      assertProblems(await toOrders(api, admin, [{ type: 'old.thing' }]), 400, ['/events/0/type']);
      assertProblems(await toAll(api, admin, [{ type: 'old.thing' }]), 400, ['/events/0/type']);
      assert.deepEqual(await storedEvents(api, admin), []);
      // An event published before archiving stays readable.
      ok(
        await api().call('POST', '/v1/event-types', {
          as: admin,
          body: { name: 'soon.old' },
        }),
        201,
      );
      ok(
        await api().call('PATCH', '/v1/topics/orders', {
          as: admin,
          body: { eventTypes: ['order.created', 'user.signup', 'soon.old'] },
        }),
        200,
      );
      const before = await toOrders(api, admin, [{ type: 'soon.old', data: 'kept' }]);
      ok(before, 202);
      ok(await api().call('DELETE', '/v1/event-types/soon.old', { as: admin }), 204);
      assertProblems(await toOrders(api, admin, [{ type: 'soon.old' }]), 400, ['/events/0/type']);
      assert.equal((await getEvent(api, admin, before.body.events[0].id)).data, 'kept');
    });

    test('type not in the topic → 400; the same type is accepted on its own topic', async () => {
      const admin = await registry(api);
      const answer = await toOrders(api, admin, [{ type: 'invoice.paid' }]);
      assertProblems(answer, 400, ['/events/0/type']);
      assertProblems(await toOrders(api, admin, [{ type: 'lonely' }]), 400, ['/events/0/type']);
      ok(
        await api().call('POST', '/v1/topics/billing/events/publish', {
          as: admin,
          body: { events: [{ type: 'invoice.paid' }] },
        }),
        202,
      );
    });

    test('/v1/events/publish with a type that no topic contains → 400, nothing stored', async () => {
      const admin = await registry(api);
      const answer = await toAll(api, admin, [{ type: 'order.created' }, { type: 'lonely', data: {} }]);
      assertProblems(answer, 400, ['/events/1/type']);
      assert.match(answer.body.errors[0].message, /no topic/);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test("data failing the type's schema → 400 with paths inside data", async () => {
      const admin = await registry(api);
      const answer = await toOrders(api, admin, [
        { type: 'user.signup', data: { email: 'a@example.com' } },
        { type: 'user.signup', data: { email: 'not-an-email' } },
        { type: 'user.signup', data: { email: 'b@example.com', age: 'three' } },
        { type: 'user.signup' }, // no data at all: null is not an object
      ]);
      assertProblems(answer, 400, ['/events/1/data/email', '/events/2/data/age', '/events/3/data']);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test("a schema change applies to the next publish; each environment's schema is its own", async () => {
      const admin = await registry(api);
      const other = await api().environment('other-schema');
      const strictSchema = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } };
      ok(
        await api().call('POST', '/v1/event-types', { as: other, body: { name: 'user.signup', schema: strictSchema } }),
        201,
      );
      ok(await api().call('POST', '/v1/topics', { as: other, body: { name: 'orders', eventTypes: ['user.signup'] } }), 201);

      const data = { email: 'a@example.com' };
      ok(await toOrders(api, admin, [{ type: 'user.signup', data }]), 202);
      assertProblems(await toOrders(api, other, [{ type: 'user.signup', data }]), 400, ['/events/0/data/name']);
      ok(await toOrders(api, other, [{ type: 'user.signup', data: { name: 'n' } }]), 202);

      ok(await api().call('PATCH', '/v1/event-types/user.signup', { as: admin, body: { schema: strictSchema } }), 200);
      assertProblems(await toOrders(api, admin, [{ type: 'user.signup', data }]), 400, ['/events/0/data/name']);
      ok(await toOrders(api, admin, [{ type: 'user.signup', data: { name: 'n' } }]), 202);
      ok(await api().call('PATCH', '/v1/event-types/user.signup', { as: admin, body: { schema: null } }), 200);
      ok(await toOrders(api, admin, [{ type: 'user.signup', data: 'anything' }]), 202);
      assert.equal((await storedEvents(api, admin)).length, 3);
    });

    test('data over maxEventDataBytes → 400 at /events/i/data; the limit counts UTF-8 bytes of the JSON', async () => {
      const admin = await registry(api);
      // JSON of a string is its characters plus two quotes: 198 + 2 = 200 bytes fits exactly.
      ok(await toOrders(api, admin, [{ type: 'order.created', data: 'x'.repeat(198) }]), 202);
      ok(await toOrders(api, admin, [{ type: 'order.created', data: 'é'.repeat(99) }]), 202);
      assertProblems(await toOrders(api, admin, [{ type: 'order.created', data: 'x'.repeat(199) }]), 400, [
        '/events/0/data',
      ]);
      // 100 'é' is 100 characters but 202 bytes.
      assertProblems(
        await toOrders(api, admin, [{ type: 'order.created' }, { type: 'order.created', data: 'é'.repeat(100) }]),
        400,
        ['/events/1/data'],
      );
      assert.equal((await storedEvents(api, admin)).length, 2);
    });

    test('bad id pattern → 400 at /events/i/id', async () => {
      const admin = await registry(api);
      for (const id of ['', 'has space', 'slash/no', 'x'.repeat(129), 'ünï']) {
        assertProblems(await toOrders(api, admin, [{ type: 'order.created' }, { type: 'order.created', id }]), 400, [
          '/events/1/id',
        ]);
      }
      assertProblems(await toOrders(api, admin, [{ type: 'order.created', id: 42 }]), 400, ['/events/0/id']);
      ok(await toOrders(api, admin, [{ type: 'order.created', id: 'x'.repeat(128) }]), 202);
      assert.equal((await storedEvents(api, admin)).length, 1);
    });

    test('bad time → 400 at /events/i/time', async () => {
      const admin = await registry(api);
      for (const time of [
        'yesterday',
        '2026-03-15',
        '2026-03-15T12:00:00',
        '2026-02-30T00:00:00Z',
        '2026-13-01T00:00:00Z',
      ]) {
        assertProblems(await toOrders(api, admin, [{ type: 'order.created', time }]), 400, ['/events/0/time']);
      }
      assertProblems(await toOrders(api, admin, [{ type: 'order.created', time: 1773576000 }]), 400, [
        '/events/0/time',
      ]);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test('times and schedules must stay within what RFC 3339 can write (years 0000-9999)', async () => {
      const admin = await registry(api);
      for (const time of ['9999-12-31T23:59:59-23:59', '0000-01-01T00:00:00+00:01']) {
        assertProblems(await toOrders(api, admin, [{ type: 'order.created', time }]), 400, ['/events/0/time']);
      }
      const latest = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
      assertProblems(await toOrders(api, admin, [{ type: 'order.created', timestamp: latest, delay: 1 }]), 400, [
        '/events/0/delay',
      ]);
      assert.deepEqual(await storedEvents(api, admin), []);

      const edges = await toOrders(api, admin, [
        { type: 'order.created', time: '0000-01-01T00:00:00Z' },
        { type: 'order.created', time: '9999-12-31T23:59:59.999Z', timestamp: latest },
      ]);
      ok(edges, 202);
      const first = await getEvent(api, admin, edges.body.events[0].id);
      assert.equal(first.time, '0000-01-01T00:00:00.000Z');
      const last = await getEvent(api, admin, edges.body.events[1].id);
      assert.equal(last.time, '9999-12-31T23:59:59.999Z');
      assert.equal(last.deliverAt, '9999-12-31T23:59:59.999Z');
    });

    test('negative delay, negative timestamp or non-numbers → 400', async () => {
      const admin = await registry(api);
      assertProblems(await toOrders(api, admin, [{ type: 'order.created', delay: -1 }]), 400, ['/events/0/delay']);
      assertProblems(await toOrders(api, admin, [{ type: 'order.created', delay: '10' }]), 400, ['/events/0/delay']);
      assertProblems(await toOrders(api, admin, [{ type: 'order.created', timestamp: -5 }]), 400, [
        '/events/0/timestamp',
      ]);
      assertProblems(await toOrders(api, admin, [{ type: 'order.created', timestamp: '1773576000' }]), 400, [
        '/events/0/timestamp',
      ]);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test('unknown extra field → 400 at /events/i/<field>; unknown top-level field → 400', async () => {
      const admin = await registry(api);
      assertProblems(
        await toOrders(api, admin, [{ type: 'order.created' }, { type: 'order.created', payload: {} }]),
        400,
        ['/events/1/payload'],
      );
      const top = await api().call('POST', '/v1/topics/orders/events/publish', {
        as: admin,
        body: { events: [{ type: 'order.created' }], extra: true },
      });
      assertProblems(top, 400, ['/extra']);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test('missing type → 400 at /events/i/type', async () => {
      const admin = await registry(api);
      assertProblems(await toOrders(api, admin, [{ type: 'order.created' }, { data: { a: 1 } }]), 400, [
        '/events/1/type',
      ]);
      assertProblems(await toOrders(api, admin, [{ type: 'bad type!' }]), 400, ['/events/0/type']);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test('structural and semantic problems in one batch are all listed', async () => {
      const admin = await registry(api);
      const answer = await toOrders(api, admin, [
        { type: 'order.created' },
        { type: 'order.created', id: 'bad id' },
        { type: 'no.such.type' },
        { type: 'order.created', delay: -3 },
        { type: 'user.signup', data: { email: 'nope' } },
      ]);
      assertProblems(answer, 400, ['/events/1/id', '/events/2/type', '/events/3/delay', '/events/4/data/email']);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test('missing, empty or non-array events → 400 at /events', async () => {
      const admin = await registry(api);
      for (const body of [{ events: [] }, {}, { events: {} }, { events: null }]) {
        const answer = await api().call('POST', '/v1/topics/orders/events/publish', { as: admin, body });
        assertProblems(answer, 400, ['/events']);
      }
      for (const body of [[], 'events', null]) {
        const answer = await api().call('POST', '/v1/events/publish', {
          as: admin,
          body,
        });
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
      }
      assertProblems(await toOrders(api, admin, ['order.created']), 400, ['/events/0']);
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test('more events than maxEventsPerPublish → 400 at /events; exactly the maximum is fine', async () => {
      const admin = await registry(api);
      const many = (n: number) => Array.from({ length: n }, () => ({ type: 'order.created' }));
      assertProblems(await toOrders(api, admin, many(LIMITS.maxEventsPerPublish + 1)), 400, ['/events']);
      assertProblems(await toAll(api, admin, many(LIMITS.maxEventsPerPublish + 1)), 400, ['/events']);
      assert.deepEqual(await storedEvents(api, admin), []);
      const full = await toOrders(api, admin, many(LIMITS.maxEventsPerPublish));
      ok(full, 202);
      assert.equal(full.body.events.length, LIMITS.maxEventsPerPublish);
      assert.equal((await storedEvents(api, admin)).length, LIMITS.maxEventsPerPublish);
    });

    test('U+0000 in source or subject is refused with 400 (never a 500)', async () => {
      const admin = await registry(api);
      for (const field of ['source', 'subject']) {
        const answer = await toOrders(api, admin, [{ type: 'order.created', [field]: 'a\u0000b' }]);
        assertProblems(answer, 400, [`/events/0/${field}`]);
      }
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    // ── topics and environments ──────────────────────────────────────────────

    test('unknown topic in the path → 404 problem, nothing stored', async () => {
      const admin = await registry(api);
      const answer = await api().call('POST', '/v1/topics/no-such-topic/events/publish', {
        as: admin,
        body: { events: [{ type: 'order.created' }] },
      });
      assert.equal(answer.status, 404, JSON.stringify(answer.body));
      assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
      // A path that cannot be a topic name is a 400 about the path, even with bad events in the body.
      const badName = await api().call('POST', '/v1/topics/bad%20name/events/publish', {
        as: admin,
        body: { events: [{ type: 'order.created', id: 'bad id' }] },
      });
      assert.equal(badName.status, 400, JSON.stringify(badName.body));
      assert.deepEqual(
        badName.body.errors.map((e: { path: string }) => e.path),
        ['params:/topic'],
      );
      assert.deepEqual(await storedEvents(api, admin), []);
    });

    test("another environment's topic → 404, nothing stored in either", async () => {
      const owner = await registry(api);
      const other = await api().environment('other');
      ok(
        await api().call('POST', '/v1/event-types', {
          as: other,
          body: { name: 'order.created' },
        }),
        201,
      );
      const answer = await toOrders(api, other, [{ type: 'order.created' }]);
      assert.equal(answer.status, 404, JSON.stringify(answer.body));
      assert.deepEqual(await storedEvents(api, other), []);
      assert.deepEqual(await storedEvents(api, owner), []);
      // Nor do the owner's types leak into the other environment's global publish.
      assertProblems(await toAll(api, other, [{ type: 'order.created' }]), 400, ['/events/0/type']);
    });

    // ── scheduling ───────────────────────────────────────────────────────────

    test('timestamp and delay set deliverAt = timestamp + delay; neither → now', async () => {
      const admin = await registry(api);
      const now = api().clock.now();
      const at = Date.UTC(2026, 2, 20, 8, 30, 0);
      const cases: [Record<string, number>, number][] = [
        [{}, now],
        [{ timestamp: at }, at], // milliseconds
        [{ timestamp: at / 1000 }, at], // seconds (below 100000000000)
        [{ timestamp: 99_999_999_999 }, 99_999_999_999_000], // the largest value taken as seconds
        [{ timestamp: 100_000_000_000 }, 100_000_000_000], // the smallest taken as milliseconds
        [{ timestamp: at / 1000 + 0.25 }, at + 250], // fractional seconds
        [{ delay: 90 }, now + 90_000], // delay alone counts from now
        [{ delay: 1.5 }, now + 1_500],
        [{ delay: 0 }, now],
        [{ timestamp: at, delay: 60 }, at + 60_000],
        [{ timestamp: at / 1000, delay: 3600 }, at + 3_600_000],
        [{ timestamp: 0 }, 0],
      ];
      // Two calls: there are more cases than maxEventsPerPublish.
      for (const part of [cases.slice(0, 6), cases.slice(6)]) {
        const answer = await toOrders(
          api,
          admin,
          part.map(([fields]) => ({ type: 'order.created', ...fields })),
        );
        ok(answer, 202);
        for (const [i, [fields, expected]] of part.entries()) {
          const stored = await getEvent(api, admin, answer.body.events[i].id);
          assert.equal(stored.deliverAt, new Date(expected).toISOString(), JSON.stringify(fields));
          assert.equal(stored.createdAt, new Date(now).toISOString());
          assert.equal(stored.time, new Date(now).toISOString(), 'time is not the schedule');
        }
      }
    });

    test('scheduling works on the global endpoint too', async () => {
      const admin = await registry(api);
      const answer = await toAll(api, admin, [{ type: 'invoice.paid', timestamp: TEST_EPOCH / 1000, delay: 30 }]);
      ok(answer, 202);
      const stored = await getEvent(api, admin, answer.body.events[0].id);
      assert.equal(stored.deliverAt, '2026-03-15T12:00:30.000Z');
    });

    // ── who may publish ──────────────────────────────────────────────────────

    test('roles: subscriber 403, publisher and admin 202, no or unknown key 401', async () => {
      const admin = await registry(api);
      const publisher = await api().key(admin, 'publisher');
      const subscriber = await api().key(admin, 'subscriber');
      const event = [{ type: 'order.created' }];

      for (const send of [toOrders, toAll]) {
        const refused = await send(api, subscriber, event);
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
        ok(await send(api, publisher, event), 202);
        ok(await send(api, admin, event), 202);
        const anonymous = await api().call('POST', '/v1/events/publish', {
          body: { events: event },
        });
        assert.equal(anonymous.status, 401);
        const wrong = await send(api, { environmentId: admin.environmentId, key: 'not-a-key' }, event);
        assert.equal(wrong.status, 401);
      }
      // The bearer form of the key works too.
      const bearer = await api().call('POST', '/v1/topics/orders/events/publish', {
        headers: {
          'x-environment-id': publisher.environmentId,
          authorization: `Bearer ${publisher.key}`,
        },
        body: { events: event },
      });
      ok(bearer, 202);
      assert.equal((await storedEvents(api, admin)).length, 5);
    });

    // ── malformed requests ───────────────────────────────────────────────────

    test('invalid JSON → 400, wrong content-type → 415, body over the limit → 413; nothing stored', async () => {
      const admin = await registry(api);
      const url = '/v1/topics/orders/events/publish';
      const json = { 'content-type': 'application/json' };

      const broken = await api().call('POST', url, {
        as: admin,
        payload: '{"events": [{"type": "order.created"}',
        headers: json,
      });
      assert.equal(broken.status, 400, JSON.stringify(broken.body));
      assert.match(String(broken.headers['content-type']), /^application\/problem\+json/);

      const empty = await api().call('POST', url, {
        as: admin,
        payload: '',
        headers: json,
      });
      assert.equal(empty.status, 400, JSON.stringify(empty.body));

      const text = await api().call('POST', url, {
        as: admin,
        payload: JSON.stringify({ events: [{ type: 'order.created' }] }),
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(text.status, 415, JSON.stringify(text.body));
      assert.match(String(text.headers['content-type']), /^application\/problem\+json/);

      const form = await api().call('POST', '/v1/events/publish', {
        as: admin,
        payload: 'events=1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(form.status, 415);

      // Each event fits maxEventDataBytes, but the body is over maxBodyBytes.
      const events = Array.from({ length: LIMITS.maxEventsPerPublish }, () => ({
        type: 'order.created',
        data: 'x'.repeat(150),
        source: 's'.repeat(900),
      }));
      const big = await toOrders(api, admin, events);
      assert.equal(big.status, 413, JSON.stringify(big.body));
      assert.match(String(big.headers['content-type']), /^application\/problem\+json/);

      assert.deepEqual(await storedEvents(api, admin), []);
      const usage = await api().call('GET', '/v1/usage', { as: admin });
      assert.equal(usage.body.published, 0);
    });
  },
  LIMITS,
);

describeApi('publishing: Herald\'s own events', (api) => {
  test('nobody else may publish herald.* events, to the built-in topic or through /v1/events/publish', async () => {
    const admin = await api().environment();
    for (const url of ['/v1/topics/herald.operational/events/publish', '/v1/events/publish']) {
      const answer = await api().call('POST', url, {
        as: admin,
        body: { events: [{ type: 'herald.delivery.failed', data: { deliveryId: 'x' } }] },
      });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.errors[0].path, '/events/0/type');
    }
    const listed = await api().call('GET', '/v1/events', { as: admin });
    assert.deepEqual(listed.body.data, []);
  });

  test('the built-in event types cannot be changed, archived or put in a user topic', async () => {
    const admin = await api().environment();
    const patched = await api().call('PATCH', '/v1/event-types/herald.delivery.failed', { as: admin, body: { description: 'x' } });
    assert.equal(patched.status, 400);
    assert.equal((await api().call('DELETE', '/v1/event-types/herald.delivery.failed', { as: admin })).status, 400);
    const topic = await api().call('POST', '/v1/topics', { as: admin, body: { name: 'mine', eventTypes: ['herald.delivery.failed'] } });
    assert.equal(topic.status, 400);
    assert.equal(topic.body.errors[0].path, '/eventTypes/0');
    const shown = await api().call('GET', '/v1/event-types/herald.delivery.failed', { as: admin });
    assert.equal(shown.body.archived, false);
    assert.equal(shown.body.description, 'A delivery exhausted its retries.');
  });
});
