/**
 * The event log (SPEC §4 Logs): GET /v1/events (newest first, filters, pagination) and
 * GET /v1/events/{id}. Acceptance times come from the manual clock, moved between publishes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';

type Api = () => TestApi;

interface ListedEvent {
  id: string;
  type: string;
  topic: string | null;
  createdAt: string;
}

function ok(answer: Answer, status: number): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
}

const cursorOf = (key: unknown): string => Buffer.from(JSON.stringify(key)).toString('base64url');

/** Topics `orders` = [order.created, user.signup] and `billing` = [invoice.paid, user.signup]. */
async function registry(api: Api): Promise<Caller> {
  const admin = await api().environment('events');
  const post = async (url: string, body: unknown) => ok(await api().call('POST', url, { as: admin, body }), 201);
  for (const name of ['order.created', 'user.signup', 'invoice.paid', 'shipment.sent']) {
    await post('/v1/event-types', { name });
  }
  await post('/v1/topics', {
    name: 'orders',
    eventTypes: ['order.created', 'user.signup'],
  });
  await post('/v1/topics', {
    name: 'billing',
    eventTypes: ['invoice.paid', 'user.signup'],
  });
  await post('/v1/topics', { name: 'shipping', eventTypes: ['shipment.sent'] });
  return admin;
}

/** Publishes and returns the ids, in the order given. */
async function publish(api: Api, as: Caller, topic: string | null, events: unknown[]): Promise<string[]> {
  const url = topic === null ? '/v1/events/publish' : `/v1/topics/${topic}/events/publish`;
  const answer = await api().call('POST', url, { as, body: { events } });
  ok(answer, 202);
  return answer.body.events.map((e: { id: string }) => e.id);
}

async function list(
  api: Api,
  as: Caller,
  query = '',
): Promise<{
  data: ListedEvent[];
  meta: { nextCursor: string | null; hasNextPage: boolean };
}> {
  const answer = await api().call('GET', `/v1/events${query}`, { as });
  ok(answer, 200);
  return answer.body;
}

const ids = (page: { data: { id: string }[] }): string[] => page.data.map((e) => e.id);

/** Every page of `query` (which must not carry a cursor), following nextCursor. */
async function allPages(api: Api, as: Caller, query: string): Promise<{ pages: string[][]; flags: boolean[] }> {
  const pages: string[][] = [];
  const flags: boolean[] = [];
  let cursor: string | null = null;
  do {
    const sep = query.includes('?') ? '&' : '?';
    const page = await list(api, as, cursor === null ? query : `${query}${sep}cursor=${encodeURIComponent(cursor)}`);
    pages.push(ids(page));
    flags.push(page.meta.hasNextPage);
    assert.equal(page.meta.hasNextPage, page.meta.nextCursor !== null);
    cursor = page.meta.nextCursor;
    assert.ok(pages.length < 50, 'pagination does not end');
  } while (cursor !== null);
  return { pages, flags };
}

const at = (iso: string): number => Date.parse(iso);

describeApi('event log', (api) => {
  test('lists accepted events newest first, with the same shape as GET /v1/events/{id}', async () => {
    const admin = await registry(api);
    api().clock.set(at('2026-03-15T12:00:00Z'));
    const [first] = await publish(api, admin, 'orders', [{ type: 'order.created', data: { n: 1 } }]);
    api().clock.set(at('2026-03-15T12:00:05Z'));
    const [second] = await publish(api, admin, 'billing', [{ type: 'invoice.paid', data: { n: 2 } }]);
    api().clock.set(at('2026-03-15T12:01:00Z'));
    const [third] = await publish(api, admin, null, [{ type: 'order.created', data: { n: 3 }, subject: 's' }]);

    const page = await list(api, admin);
    assert.deepEqual(ids(page), [third, second, first]);
    assert.deepEqual(page.meta, { nextCursor: null, hasNextPage: false });
    const one = await api().call('GET', `/v1/events/${third}`, { as: admin });
    ok(one, 200);
    // GET one adds the event's deliveries (none here: the topic has no subscriptions).
    const { deliveries, ...event } = one.body;
    assert.deepEqual(deliveries, []);
    assert.deepEqual(page.data[0], event);
    assert.equal(one.body.createdAt, '2026-03-15T12:01:00.000Z');
    assert.equal(one.body.subject, 's');
    assert.deepEqual(one.body.data, { n: 3 });
  });

  test('events of one batch share an acceptance time and are listed newest-last-published first', async () => {
    const admin = await registry(api);
    const batch = await publish(api, admin, 'orders', [
      { type: 'order.created' },
      { type: 'order.created' },
      { type: 'user.signup' },
    ]);
    api().clock.advance(1000);
    const [later] = await publish(api, admin, 'orders', [{ type: 'order.created' }]);
    const page = await list(api, admin);
    assert.deepEqual(ids(page), [later, ...[...batch].reverse()]);
  });

  test('an empty environment lists nothing; another environment never sees these events', async () => {
    const admin = await registry(api);
    const other = await registry(api);
    assert.deepEqual(await list(api, admin), {
      data: [],
      meta: { nextCursor: null, hasNextPage: false },
    });
    const [id] = await publish(api, admin, 'orders', [{ type: 'order.created' }]);
    assert.deepEqual(ids(await list(api, other)), []);
    assert.deepEqual(ids(await list(api, other, '?topic=orders')), []);
    assert.deepEqual(ids(await list(api, admin)), [id]);
  });

  test('?type= keeps only events of that type', async () => {
    const admin = await registry(api);
    const [a] = await publish(api, admin, 'orders', [{ type: 'order.created' }]);
    api().clock.advance(1000);
    const [b] = await publish(api, admin, 'orders', [{ type: 'user.signup' }]);
    api().clock.advance(1000);
    const [c] = await publish(api, admin, null, [{ type: 'order.created' }]);
    assert.deepEqual(ids(await list(api, admin, '?type=order.created')), [c, a]);
    assert.deepEqual(ids(await list(api, admin, '?type=user.signup')), [b]);
    assert.deepEqual(ids(await list(api, admin, '?type=invoice.paid')), []);
    assert.deepEqual(ids(await list(api, admin, '?type=never.registered')), []);
  });

  test('?topic= keeps events published to it and global publishes of a type it contains', async () => {
    const admin = await registry(api);
    const [toOrders] = await publish(api, admin, 'orders', [{ type: 'user.signup' }]);
    api().clock.advance(1000);
    const [toBilling] = await publish(api, admin, 'billing', [{ type: 'user.signup' }]);
    api().clock.advance(1000);
    const [globalOrder] = await publish(api, admin, null, [{ type: 'order.created' }]);
    api().clock.advance(1000);
    const [globalInvoice] = await publish(api, admin, null, [{ type: 'invoice.paid' }]);
    api().clock.advance(1000);
    const [globalBoth] = await publish(api, admin, null, [{ type: 'user.signup' }]);
    api().clock.advance(1000);
    const [shipment] = await publish(api, admin, 'shipping', [{ type: 'shipment.sent' }]);

    // A publish to billing is not an orders event, even though orders contains its type.
    assert.deepEqual(ids(await list(api, admin, '?topic=orders')), [globalBoth, globalOrder, toOrders]);
    assert.deepEqual(ids(await list(api, admin, '?topic=billing')), [globalBoth, globalInvoice, toBilling]);
    assert.deepEqual(ids(await list(api, admin, '?topic=shipping')), [shipment]);
    assert.deepEqual(ids(await list(api, admin, '?topic=no-such-topic')), []);
    // Combined with a type.
    assert.deepEqual(ids(await list(api, admin, '?topic=orders&type=user.signup')), [globalBoth, toOrders]);
    assert.deepEqual(ids(await list(api, admin, '?topic=orders&type=invoice.paid')), []);
  });

  test('?since= (inclusive) and ?until= (exclusive) filter on acceptance time, not on `time`', async () => {
    const admin = await registry(api);
    const times = ['2026-03-15T12:00:00Z', '2026-03-15T13:00:00Z', '2026-03-15T14:00:00Z', '2026-03-16T09:30:00.500Z'];
    const published: string[] = [];
    for (const t of times) {
      api().clock.set(at(t));
      // `time` is far in the past: the filters must not look at it.
      published.push(
        ...(await publish(api, admin, 'orders', [{ type: 'order.created', time: '2020-01-01T00:00:00Z' }])),
      );
    }
    const [e0, e1, e2, e3] = published;
    const q = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;

    assert.deepEqual(ids(await list(api, admin, q({ since: '2026-03-15T12:30:00Z' }))), [e3, e2, e1]);
    assert.deepEqual(ids(await list(api, admin, q({ since: '2026-03-15T13:00:00Z' }))), [e3, e2, e1]);
    assert.deepEqual(ids(await list(api, admin, q({ since: '2026-03-15T13:00:00.001Z' }))), [e3, e2]);
    assert.deepEqual(ids(await list(api, admin, q({ until: '2026-03-15T13:00:00Z' }))), [e0]);
    assert.deepEqual(ids(await list(api, admin, q({ until: '2026-03-15T13:00:00.001Z' }))), [e1, e0]);
    assert.deepEqual(ids(await list(api, admin, q({ since: '2026-03-15T12:00:00Z', until: '2026-03-15T14:00:00Z' }))), [
      e1,
      e0,
    ]);
    // Offsets are honoured: 14:30+01:00 is 13:30Z.
    assert.deepEqual(ids(await list(api, admin, q({ since: '2026-03-15T14:30:00+01:00' }))), [e3, e2]);
    assert.deepEqual(ids(await list(api, admin, q({ until: '2026-03-16T09:30:00.500Z' }))), [e2, e1, e0]);
    assert.deepEqual(ids(await list(api, admin, q({ since: '2026-03-17T00:00:00Z' }))), []);
    // An empty window, and one the wrong way round.
    assert.deepEqual(
      ids(await list(api, admin, q({ since: '2026-03-15T13:00:00Z', until: '2026-03-15T13:00:00Z' }))),
      [],
    );
    assert.deepEqual(
      ids(await list(api, admin, q({ since: '2026-03-16T00:00:00Z', until: '2026-03-15T00:00:00Z' }))),
      [],
    );
    // With a type and a topic.
    assert.deepEqual(
      ids(
        await list(
          api,
          admin,
          q({
            since: '2026-03-15T13:00:00Z',
            type: 'order.created',
            topic: 'orders',
          }),
        ),
      ),
      [e3, e2, e1],
    );
  });

  test('bad filters → 400 problem (never a 500)', async () => {
    const admin = await registry(api);
    await publish(api, admin, 'orders', [{ type: 'order.created' }]);
    for (const query of [
      '?since=yesterday',
      '?since=2026-03-15',
      '?until=2026-03-15T12:00:00', // no offset
      '?until=2026-13-01T00:00:00Z',
      '?since=2026-06-30T23:59:60Z', // a leap second: valid RFC 3339, but not an instant we can compare
      '?until=2016-12-31T23:59:60Z',
      '?type=bad%20type',
      '?topic=%00',
      '?unknown=1',
    ]) {
      const answer = await api().call('GET', `/v1/events${query}`, {
        as: admin,
      });
      assert.equal(answer.status, 400, `${query}: ${JSON.stringify(answer.body)}`);
      assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
    }
  });

  test('pagination: 7 events, limit 3 → 3 + 3 + 1, each exactly once, newest first', async () => {
    const admin = await registry(api);
    const published: string[] = [];
    // Batches share acceptance times, so the cursor must break ties.
    for (const size of [2, 3, 1, 1]) {
      api().clock.advance(1000);
      published.push(
        ...(await publish(
          api,
          admin,
          'orders',
          Array.from({ length: size }, () => ({ type: 'order.created' })),
        )),
      );
    }
    const newestFirst = ids(await list(api, admin));
    assert.equal(newestFirst.length, 7);
    assert.deepEqual([...newestFirst].sort(), [...published].sort());

    const { pages, flags } = await allPages(api, admin, '?limit=3');
    assert.deepEqual(
      pages.map((p) => p.length),
      [3, 3, 1],
    );
    assert.deepEqual(flags, [true, true, false]);
    assert.deepEqual(pages.flat(), newestFirst);

    // A page size that divides the list exactly ends without an empty page.
    const exact = await allPages(api, admin, '?limit=7');
    assert.deepEqual(exact.pages, [newestFirst]);
    assert.deepEqual(exact.flags, [false]);
    const ones = await allPages(api, admin, '?limit=1');
    assert.deepEqual(ones.pages.flat(), newestFirst);
    assert.equal(ones.pages.length, 7);
  });

  test('pagination keeps the filters, and a page published after the cursor does not disturb it', async () => {
    const admin = await registry(api);
    const orderIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      api().clock.advance(1000);
      orderIds.push(...(await publish(api, admin, 'orders', [{ type: 'order.created' }])));
      await publish(api, admin, 'billing', [{ type: 'invoice.paid' }]);
    }
    const first = await list(api, admin, '?limit=2&type=order.created');
    assert.deepEqual(ids(first), [orderIds[4], orderIds[3]]);
    assert.ok(first.meta.nextCursor);

    // Something newer arrives: it belongs before the first page, not in the following ones.
    api().clock.advance(1000);
    await publish(api, admin, 'orders', [{ type: 'order.created' }]);

    const cursor = encodeURIComponent(first.meta.nextCursor ?? '');
    const second = await list(api, admin, `?limit=2&type=order.created&cursor=${cursor}`);
    assert.deepEqual(ids(second), [orderIds[2], orderIds[1]]);
    const third = await list(
      api,
      admin,
      `?limit=2&type=order.created&cursor=${encodeURIComponent(second.meta.nextCursor ?? '')}`,
    );
    assert.deepEqual(ids(third), [orderIds[0]]);
    assert.equal(third.meta.hasNextPage, false);

    const byTopic = await allPages(api, admin, '?limit=4&topic=billing');
    assert.deepEqual(
      byTopic.pages.map((p) => p.length),
      [4, 1],
    );
  });

  test('limit: default 50, 1..250 accepted, 0 / 251 / non-integers → 400', async () => {
    const admin = await registry(api);
    const events = Array.from({ length: 60 }, () => ({
      type: 'order.created',
    }));
    for (let i = 0; i < events.length; i += 30) await publish(api, admin, 'orders', events.slice(i, i + 30));
    const byDefault = await list(api, admin);
    assert.equal(byDefault.data.length, 50);
    assert.equal(byDefault.meta.hasNextPage, true);
    assert.equal((await list(api, admin, '?limit=250')).data.length, 60);
    assert.equal((await list(api, admin, '?limit=1')).data.length, 1);
    for (const limit of ['0', '251', '-1', '2.5', 'ten', '']) {
      const answer = await api().call('GET', `/v1/events?limit=${limit}`, {
        as: admin,
      });
      assert.equal(answer.status, 400, `limit=${limit}: ${JSON.stringify(answer.body)}`);
      assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
    }
  });

  test('a bad cursor → 400 problem (never a 500)', async () => {
    const admin = await registry(api);
    await publish(api, admin, 'orders', [{ type: 'order.created' }, { type: 'order.created' }]);
    const cursors = [
      'not-a-cursor',
      '!!!',
      cursorOf({ a: 1 }),
      cursorOf([]),
      cursorOf(['evt_x']),
      cursorOf([1, 2]),
      cursorOf(['evt_x', 1]),
      cursorOf([1.5, 'evt_x']), // not a whole number of milliseconds
      cursorOf([1e300, 'evt_x']),
      cursorOf([-1e20, 'evt_x']),
      Buffer.from('[1e999,"evt_x"]').toString('base64url'),
      cursorOf([Date.now(), 'evt_\u0000']),
      cursorOf([1, 'a', 2]),
      'x'.repeat(1025),
    ];
    for (const cursor of cursors) {
      const answer = await api().call('GET', `/v1/events?limit=1&cursor=${encodeURIComponent(cursor)}`, { as: admin });
      assert.equal(answer.status, 400, `${cursor}: ${JSON.stringify(answer.body)}`);
      assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
    }
  });

  test('GET /v1/events/{id}: 404 for an unknown id, for odd ids, and for another environment', async () => {
    const admin = await registry(api);
    const other = await registry(api);
    const [id] = await publish(api, admin, 'orders', [{ type: 'order.created', id: 'mine.1' }]);
    const [herald] = await publish(api, admin, 'orders', [{ type: 'order.created' }]);
    ok(await api().call('GET', `/v1/events/${id}`, { as: admin }), 200);
    ok(await api().call('GET', `/v1/events/${herald}`, { as: admin }), 200);

    for (const [as, unknown] of [
      [admin, 'evt_01ARZ3NDEKTSV4RRFFQ69G5FAV'],
      [admin, 'mine.2'],
      [other, id],
      [other, herald],
      [admin, 'a%20b'],
      [admin, encodeURIComponent('ü'.repeat(60))],
    ] as [Caller, string][]) {
      const answer = await api().call('GET', `/v1/events/${unknown}`, { as });
      assert.equal(answer.status, 404, `${unknown}: ${JSON.stringify(answer.body)}`);
      assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
    }
    // U+0000 cannot be in any id (nor in PostgreSQL text): a client error, whether 400 or 404.
    const nul = await api().call('GET', '/v1/events/a%00b', { as: admin });
    assert.ok([400, 404].includes(nul.status), JSON.stringify(nul.body));
    assert.match(String(nul.headers['content-type']), /^application\/problem\+json/);
  });

  test('roles: admin and publisher read the log; a subscriber key may not', async () => {
    const admin = await registry(api);
    const [id] = await publish(api, admin, 'orders', [{ type: 'order.created' }]);
    const publisher = await api().key(admin, 'publisher');
    const subscriber = await api().key(admin, 'subscriber');
    assert.deepEqual(ids(await list(api, publisher)), [id]);
    ok(await api().call('GET', `/v1/events/${id}`, { as: publisher }), 200);
    assert.equal((await api().call('GET', '/v1/events', { as: subscriber })).status, 403);
    assert.equal((await api().call('GET', `/v1/events/${id}`, { as: subscriber })).status, 403);
    assert.equal((await api().call('GET', '/v1/events')).status, 401);
  });
});
