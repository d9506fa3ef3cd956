/**
 * Topics (SPEC §4 "Topics", §1, and the visibility rule of §4 "Subscriptions"): named sets of
 * registered event types, optionally owned by an app whose permissions gate subscriber keys.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';
import { assertProblem } from '../../src/testing/assertions.ts';


const pathsOf = (answer: Answer): string[] =>
  ((answer.body.errors ?? []) as { path: string }[]).map((e) => e.path).sort();

interface TopicJson {
  name: string;
  description: string | null;
  eventTypes: string[];
  appId: string | null;
  createdAt: string;
  updatedAt: string;
}

async function created(answer: Promise<Answer>): Promise<Answer> {
  const done = await answer;
  assert.equal(done.status, 201, JSON.stringify(done.body));
  return done;
}

/** An environment with event types a, b, c (c archived later if asked) and the given apps. */
async function registry(api: TestApi, types = ['a.created', 'b.created', 'c.created']): Promise<Caller> {
  const admin = await api.environment();
  for (const name of types) await created(api.call('POST', '/v1/event-types', { as: admin, body: { name } }));
  return admin;
}

async function archive(api: TestApi, admin: Caller, name: string): Promise<void> {
  const answer = await api.call('DELETE', `/v1/event-types/${name}`, {
    as: admin,
  });
  assert.equal(answer.status, 204, JSON.stringify(answer.body));
}

async function createApp(api: TestApi, admin: Caller, permissions: string[]): Promise<string> {
  return (
    await created(
      api.call('POST', '/v1/apps', {
        as: admin,
        body: { name: 'app', permissions },
      }),
    )
  ).body.id;
}

async function createTopic(api: TestApi, admin: Caller, body: Record<string, unknown>): Promise<TopicJson> {
  return (await created(api.call('POST', '/v1/topics', { as: admin, body }))).body;
}

/** The topic every environment has (SPEC §6); listed like any other, and left out of most comparisons here. */
const BUILT_IN_TOPIC = 'herald.operational';

/** Every topic `as` can list, walking pages of `limit`; the built-in topic is checked, then left out. */
async function listedNames(api: TestApi, as: Caller, limit = 250): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/v1/topics?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await api.call('GET', url, { as });
    assert.equal(page.status, 200, JSON.stringify(page.body));
    assert.ok(page.body.data.length <= limit);
    assert.equal(page.body.meta.hasNextPage, page.body.meta.nextCursor !== null);
    if (page.body.meta.hasNextPage) assert.equal(page.body.data.length, limit, 'only the last page is short');
    names.push(...page.body.data.map((t: TopicJson) => t.name));
    cursor = page.body.meta.nextCursor;
    pages++;
  } while (cursor && pages < 1000);
  assert.ok(names.includes(BUILT_IN_TOPIC), `${BUILT_IN_TOPIC} is listed`);
  return names.filter((name) => name !== BUILT_IN_TOPIC);
}

async function snapshot(api: TestApi, admin: Caller): Promise<unknown> {
  const list = await api.call('GET', '/v1/topics?limit=250', { as: admin });
  assert.equal(list.status, 200);
  return list.body;
}

describeApi('topics', (api) => {
  test('POST creates a topic; GET answers it', async () => {
    const admin = await registry(api());
    const app = await createApp(api(), admin, ['read:orders']);
    const answer = await api().call('POST', '/v1/topics', {
      as: admin,
      body: {
        name: 'orders',
        description: 'all about orders',
        eventTypes: ['b.created', 'a.created'],
        appId: app,
      },
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.body.name, 'orders');
    assert.equal(answer.body.description, 'all about orders');
    assert.deepEqual([...answer.body.eventTypes].sort(), ['a.created', 'b.created']);
    assert.equal(answer.body.appId, app);
    assert.equal(typeof answer.body.createdAt, 'string');
    assert.equal(typeof answer.body.updatedAt, 'string');

    const got = await api().call('GET', '/v1/topics/orders', { as: admin });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, answer.body);
  });

  test('description and appId are optional; repeated event types are kept once', async () => {
    const admin = await registry(api());
    const plain = await createTopic(api(), admin, {
      name: 'plain',
      eventTypes: ['a.created', 'a.created', 'c.created'],
    });
    assert.equal(plain.description, null);
    assert.equal(plain.appId, null);
    assert.deepEqual(plain.eventTypes, ['a.created', 'c.created']);
    const explicit = await createTopic(api(), admin, {
      name: 'explicit',
      eventTypes: ['b.created'],
      description: null,
      appId: null,
    });
    assert.deepEqual([explicit.description, explicit.appId], [null, null]);
    const got = await api().call('GET', '/v1/topics/plain', { as: admin });
    assert.deepEqual(got.body.eventTypes, ['a.created', 'c.created']);
  });

  test('names follow the name rule, are case-sensitive, and may use _ . : -', async () => {
    const admin = await registry(api());
    for (const name of ['entity:employees', 'per-customer_42', 'Orders', 'orders', 'x', 'n'.repeat(128)]) {
      await createTopic(api(), admin, { name, eventTypes: ['a.created'] });
      const got = await api().call('GET', `/v1/topics/${encodeURIComponent(name)}`, { as: admin });
      assert.equal(got.status, 200, name);
      assert.equal(got.body.name, name);
    }
    assert.equal((await api().call('GET', '/v1/topics/ORDERS', { as: admin })).status, 404);
  });

  test('every event type must be registered and not archived: 400 at /eventTypes/<i>, nothing created', async () => {
    const admin = await registry(api());
    await archive(api(), admin, 'c.created');
    const other = await registry(api(), ['z.created']);
    const before = await snapshot(api(), admin);

    const unknown = await api().call('POST', '/v1/topics', {
      as: admin,
      body: { name: 't1', eventTypes: ['a.created', 'nope.created'] },
    });
    assertProblem(unknown, 400);
    assert.deepEqual(pathsOf(unknown), ['/eventTypes/1']);

    const archived = await api().call('POST', '/v1/topics', {
      as: admin,
      body: { name: 't2', eventTypes: ['c.created'] },
    });
    assertProblem(archived, 400);
    assert.deepEqual(pathsOf(archived), ['/eventTypes/0']);

    const mixed = await api().call('POST', '/v1/topics', {
      as: admin,
      body: {
        name: 't3',
        eventTypes: ['x.created', 'a.created', 'c.created', 'z.created'],
      },
    });
    assertProblem(mixed, 400);
    assert.deepEqual(
      pathsOf(mixed),
      ['/eventTypes/0', '/eventTypes/2', '/eventTypes/3'],
      'z.created is another environment’s',
    );
    for (const e of mixed.body.errors as { path: string; message: string }[]) assert.ok(e.message.length > 0);

    const badName = await api().call('POST', '/v1/topics', {
      as: admin,
      body: { name: 't4', eventTypes: ['bad name'] },
    });
    assertProblem(badName, 400);
    assert.ok(
      pathsOf(badName).every((p) => p.startsWith('/eventTypes/0')),
      JSON.stringify(badName.body),
    );

    assert.deepEqual(await snapshot(api(), admin), before);
    for (const name of ['t1', 't2', 't3', 't4']) {
      assertProblem(await api().call('GET', `/v1/topics/${name}`, { as: admin }), 404, name);
    }
    assert.deepEqual(await listedNames(api(), other), []);
  });

  test('an unknown appId is 400 at /appId (with event type problems listed too)', async () => {
    const admin = await registry(api());
    const other = await api().environment('other');
    const foreignApp = await createApp(api(), other, ['x']);
    const before = await snapshot(api(), admin);
    for (const appId of ['app_00000000000000000000000000', foreignApp, 'garbage']) {
      const answer = await api().call('POST', '/v1/topics', {
        as: admin,
        body: { name: 't', eventTypes: ['a.created'], appId },
      });
      assertProblem(answer, 400, appId);
      assert.deepEqual(pathsOf(answer), ['/appId']);
    }
    const both = await api().call('POST', '/v1/topics', {
      as: admin,
      body: {
        name: 't',
        eventTypes: ['missing'],
        appId: 'app_00000000000000000000000000',
      },
    });
    assertProblem(both, 400);
    assert.deepEqual(pathsOf(both), ['/appId', '/eventTypes/0']);
    assert.deepEqual(await snapshot(api(), admin), before);
  });

  test('a duplicate name is 409 and leaves the first topic as it was', async () => {
    const admin = await registry(api());
    const first = await createTopic(api(), admin, {
      name: 'orders',
      description: 'first',
      eventTypes: ['a.created'],
    });
    const again = await api().call('POST', '/v1/topics', {
      as: admin,
      body: {
        name: 'orders',
        description: 'second',
        eventTypes: ['b.created', 'c.created'],
      },
    });
    assertProblem(again, 409);
    const got = await api().call('GET', '/v1/topics/orders', { as: admin });
    assert.deepEqual(got.body, first);
    // The same name in another environment is fine.
    const other = await registry(api());
    await createTopic(api(), other, {
      name: 'orders',
      eventTypes: ['b.created'],
    });
    assert.deepEqual((await api().call('GET', '/v1/topics/orders', { as: admin })).body, first);
  });

  test('names starting with "herald." are reserved', async () => {
    const admin = await registry(api());
    for (const name of ['herald.operational', 'herald.custom', 'herald.x.y']) {
      const answer = await api().call('POST', '/v1/topics', {
        as: admin,
        body: { name, eventTypes: ['a.created'] },
      });
      assertProblem(answer, 400, name);
      assert.deepEqual(pathsOf(answer), ['/name']);
    }
    // "herald" alone, or a name merely containing it, is not reserved.
    await createTopic(api(), admin, {
      name: 'herald',
      eventTypes: ['a.created'],
    });
    await createTopic(api(), admin, {
      name: 'my.herald.topic',
      eventTypes: ['a.created'],
    });
    assert.deepEqual(await listedNames(api(), admin), ['herald', 'my.herald.topic']);
  });

  test('POST with bad input is 400 and creates nothing', async () => {
    const admin = await registry(api());
    const before = await snapshot(api(), admin);
    const bodies: [string, unknown][] = [
      ['missing name', { eventTypes: ['a.created'] }],
      ['missing eventTypes', { name: 't' }],
      ['empty name', { name: '', eventTypes: [] }],
      ['name with a space', { name: 'a b', eventTypes: [] }],
      ['name starting with a dot', { name: '.t', eventTypes: [] }],
      ['name starting with a dash', { name: '-t', eventTypes: [] }],
      ['name with a slash', { name: 'a/b', eventTypes: [] }],
      ['name too long', { name: 'n'.repeat(129), eventTypes: [] }],
      ['name not a string', { name: 5, eventTypes: [] }],
      ['eventTypes a string', { name: 't', eventTypes: 'a.created' }],
      ['eventTypes null', { name: 't', eventTypes: null }],
      ['eventTypes with a number', { name: 't', eventTypes: [1] }],
      ['description too long', { name: 't', eventTypes: [], description: 'd'.repeat(1025) }],
      ['description a number', { name: 't', eventTypes: [], description: 1 }],
      ['appId empty', { name: 't', eventTypes: [], appId: '' }],
      ['description with U+0000', { name: 't', eventTypes: [], description: 'a\u0000b' }],
      ['appId with U+0000', { name: 't', eventTypes: [], appId: 'app_\u0000' }],
      ['appId a number', { name: 't', eventTypes: [], appId: 1 }],
      ['unknown field', { name: 't', eventTypes: [], subscriptions: [] }],
      ['array body', [{ name: 't', eventTypes: [] }]],
      ['null body', null],
    ];
    for (const [label, body] of bodies) {
      assertProblem(await api().call('POST', '/v1/topics', { as: admin, body }), 400, label);
    }
    assert.deepEqual(await snapshot(api(), admin), before);
  });

  test('GET list is paginated by name', async () => {
    const admin = await registry(api());
    const names = ['delta', 'alpha', 'Echo', 'charlie', 'bravo'];
    for (const name of names) await createTopic(api(), admin, { name, eventTypes: ['a.created'] });
    const expected = [...names].sort();
    assert.deepEqual(await listedNames(api(), admin, 2), expected);
    assert.deepEqual(await listedNames(api(), admin, 1), expected);
    assert.deepEqual(await listedNames(api(), admin, 5), expected);
    const first = await api().call('GET', '/v1/topics?limit=2', { as: admin });
    assert.deepEqual(
      first.body.data.map((t: TopicJson) => t.eventTypes),
      [['a.created'], ['a.created']],
      'list entries carry their event types',
    );
    for (const query of ['limit=0', 'limit=251', 'cursor=x', 'foo=bar']) {
      assertProblem(await api().call('GET', `/v1/topics?${query}`, { as: admin }), 400, query);
    }
  });

  test('PATCH replaces the event types, and sets or clears description and appId', async () => {
    const admin = await registry(api());
    const app = await createApp(api(), admin, ['read:orders']);
    const topic = await createTopic(api(), admin, {
      name: 'orders',
      description: 'd',
      eventTypes: ['a.created', 'b.created'],
    });
    api().clock.advance(1000);

    const replaced = await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { eventTypes: ['c.created', 'b.created'] },
    });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.deepEqual(replaced.body.eventTypes, ['b.created', 'c.created']);
    assert.equal(replaced.body.description, 'd', 'untouched');
    assert.equal(replaced.body.appId, null, 'untouched');
    assert.equal(replaced.body.createdAt, topic.createdAt);
    assert.notEqual(replaced.body.updatedAt, topic.updatedAt);
    assert.deepEqual((await api().call('GET', '/v1/topics/orders', { as: admin })).body, replaced.body);

    // The replaced set is what publishing sees: a.created is no longer in the topic.
    const publisher = await api().key(admin, 'publisher');
    const removed = await api().call('POST', '/v1/topics/orders/events/publish', {
      as: publisher,
      body: { events: [{ type: 'a.created' }] },
    });
    assertProblem(removed, 400);
    const kept = await api().call('POST', '/v1/topics/orders/events/publish', {
      as: publisher,
      body: { events: [{ type: 'c.created' }] },
    });
    assert.equal(kept.status, 202, JSON.stringify(kept.body));

    const described = await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { description: 'new' },
    });
    assert.equal(described.body.description, 'new');
    assert.deepEqual(described.body.eventTypes, ['b.created', 'c.created']);
    const cleared = await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { description: null },
    });
    assert.equal(cleared.body.description, null);

    const owned = await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { appId: app },
    });
    assert.equal(owned.status, 200);
    assert.equal(owned.body.appId, app);
    const unowned = await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { appId: null },
    });
    assert.equal(unowned.body.appId, null);

    const emptied = await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { eventTypes: [] },
    });
    assert.equal(emptied.status, 200);
    assert.deepEqual(emptied.body.eventTypes, []);

    const all = await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { eventTypes: ['a.created'], description: 'all', appId: app },
    });
    assert.deepEqual([all.body.eventTypes, all.body.description, all.body.appId], [['a.created'], 'all', app]);
    const nothing = await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: {},
    });
    assert.equal(nothing.status, 200);
    assert.deepEqual(
      [nothing.body.eventTypes, nothing.body.description, nothing.body.appId],
      [['a.created'], 'all', app],
    );
    assert.deepEqual((await api().call('GET', '/v1/topics/orders', { as: admin })).body, nothing.body);
  });

  test('PATCH with bad input is 400 and changes nothing', async () => {
    const admin = await registry(api());
    await archive(api(), admin, 'c.created');
    const app = await createApp(api(), admin, ['p']);
    await createTopic(api(), admin, {
      name: 'orders',
      description: 'd',
      eventTypes: ['a.created'],
      appId: app,
    });
    const before = (await api().call('GET', '/v1/topics/orders', { as: admin })).body;
    const cases: [string, unknown, string[] | null][] = [
      ['unknown event type', { eventTypes: ['b.created', 'nope'] }, ['/eventTypes/1']],
      ['archived event type', { eventTypes: ['c.created'] }, ['/eventTypes/0']],
      ['unknown app', { appId: 'app_00000000000000000000000000' }, ['/appId']],
      ['good description, bad event type', { description: 'changed', eventTypes: ['nope'] }, ['/eventTypes/0']],
      ['good types, bad app', { eventTypes: ['b.created'], appId: 'app_nope' }, ['/appId']],
      ['rename', { name: 'renamed' }, null],
      ['eventTypes null', { eventTypes: null }, null],
      ['eventTypes a string', { eventTypes: 'b.created' }, null],
      ['description too long', { description: 'x'.repeat(1025) }, null],
      ['appId empty', { appId: '' }, null],
      ['description with U+0000', { description: 'a\u0000b' }, null],
      ['appId with U+0000', { appId: 'app_\u0000' }, null],
      ['unknown field', { description: 'changed', owner: 'me' }, null],
      ['array body', [], null],
    ];
    for (const [label, body, paths] of cases) {
      const answer = await api().call('PATCH', '/v1/topics/orders', {
        as: admin,
        body,
      });
      assertProblem(answer, 400, label);
      if (paths) assert.deepEqual(pathsOf(answer), paths, label);
    }
    assert.deepEqual((await api().call('GET', '/v1/topics/orders', { as: admin })).body, before);
    assertProblem(await api().call('GET', '/v1/topics/renamed', { as: admin }), 404);
  });

  test('DELETE answers 204; the topic is then gone and its name free again', async () => {
    const admin = await registry(api());
    await createTopic(api(), admin, {
      name: 'orders',
      eventTypes: ['a.created', 'b.created'],
    });
    await createTopic(api(), admin, {
      name: 'kept',
      eventTypes: ['a.created'],
    });
    const deleted = await api().call('DELETE', '/v1/topics/orders', {
      as: admin,
    });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, '');
    assertProblem(await api().call('GET', '/v1/topics/orders', { as: admin }), 404);
    assertProblem(
      await api().call('PATCH', '/v1/topics/orders', {
        as: admin,
        body: { description: 'x' },
      }),
      404,
    );
    assertProblem(await api().call('DELETE', '/v1/topics/orders', { as: admin }), 404);
    assert.deepEqual(await listedNames(api(), admin), ['kept']);
    assert.deepEqual((await api().call('GET', '/v1/topics/kept', { as: admin })).body.eventTypes, ['a.created']);

    // Re-created with the same name: only the new event types, nothing left from before.
    const again = await createTopic(api(), admin, {
      name: 'orders',
      eventTypes: ['c.created'],
    });
    assert.deepEqual(again.eventTypes, ['c.created']);
    assert.deepEqual((await api().call('GET', '/v1/topics/orders', { as: admin })).body.eventTypes, ['c.created']);
    const list = await api().call('GET', '/v1/topics', { as: admin });
    assert.deepEqual(
      list.body.data.filter((t: TopicJson) => t.name !== BUILT_IN_TOPIC).map((t: TopicJson) => [t.name, t.eventTypes]),
      [
        ['kept', ['a.created']],
        ['orders', ['c.created']],
      ],
    );
  });

  test('unknown names and other environments’ topics are 404', async () => {
    const a = await registry(api());
    const b = await registry(api());
    await createTopic(api(), a, { name: 'orders', eventTypes: ['a.created'] });
    for (const [as, name] of [
      [a, 'missing'],
      [b, 'orders'],
    ] as const) {
      assertProblem(await api().call('GET', `/v1/topics/${name}`, { as }), 404, name);
      assertProblem(
        await api().call('PATCH', `/v1/topics/${name}`, {
          as,
          body: { description: 'x' },
        }),
        404,
        name,
      );
      assertProblem(
        await api().call('PATCH', `/v1/topics/${name}`, {
          as,
          body: { eventTypes: ['b.created'] },
        }),
        404,
        name,
      );
      assertProblem(await api().call('DELETE', `/v1/topics/${name}`, { as }), 404, name);
    }
    assert.deepEqual(await listedNames(api(), b), []);
    assert.deepEqual((await api().call('GET', '/v1/topics/orders', { as: a })).body.eventTypes, ['a.created']);
  });

  test('a subscriber sees app-owned topics only with one of the app’s permissions; others always', async () => {
    const admin = await registry(api());
    const ordersApp = await createApp(api(), admin, ['read:orders', 'admin:orders']);
    const billingApp = await createApp(api(), admin, ['read:billing']);
    await createTopic(api(), admin, {
      name: 'orders',
      eventTypes: ['a.created'],
      appId: ordersApp,
    });
    await createTopic(api(), admin, {
      name: 'invoices',
      eventTypes: ['b.created'],
      appId: billingApp,
    });
    await createTopic(api(), admin, {
      name: 'public',
      eventTypes: ['c.created'],
    });

    const keys = {
      admin,
      publisher: await api().key(admin, 'publisher'),
      publisherNoPerms: await api().key(admin, 'publisher', []),
      readOrders: await api().key(admin, 'subscriber', ['read:orders']),
      adminOrders: await api().key(admin, 'subscriber', ['admin:orders', 'unrelated']),
      readBilling: await api().key(admin, 'subscriber', ['read:billing']),
      both: await api().key(admin, 'subscriber', ['read:billing', 'read:orders']),
      none: await api().key(admin, 'subscriber'),
      unrelated: await api().key(admin, 'subscriber', ['read:order', 'READ:ORDERS']),
    };
    const expected: Record<keyof typeof keys, string[]> = {
      admin: ['invoices', 'orders', 'public'],
      publisher: ['invoices', 'orders', 'public'],
      publisherNoPerms: ['invoices', 'orders', 'public'],
      readOrders: ['orders', 'public'],
      adminOrders: ['orders', 'public'],
      readBilling: ['invoices', 'public'],
      both: ['invoices', 'orders', 'public'],
      none: ['public'],
      unrelated: ['public'],
    };
    for (const [label, key] of Object.entries(keys) as [keyof typeof keys, Caller][]) {
      assert.deepEqual(await listedNames(api(), key), expected[label], `${label} lists`);
      assert.deepEqual(await listedNames(api(), key, 1), expected[label], `${label} lists page by page`);
      for (const name of ['invoices', 'orders', 'public']) {
        const got = await api().call('GET', `/v1/topics/${name}`, { as: key });
        if (expected[label].includes(name)) assert.equal(got.status, 200, `${label} sees ${name}`);
        else assertProblem(got, 404, `${label} must not see ${name}`);
      }
    }
  });

  test('visibility follows changes to the app’s permissions and to the topic’s owner', async () => {
    const admin = await registry(api());
    const app = await createApp(api(), admin, ['read:orders']);
    await createTopic(api(), admin, {
      name: 'orders',
      eventTypes: ['a.created'],
    });
    const holder = await api().key(admin, 'subscriber', ['read:orders']);
    const outsider = await api().key(admin, 'subscriber', ['other']);

    const visible = async (key: Caller): Promise<boolean> => {
      const got = await api().call('GET', '/v1/topics/orders', { as: key });
      const listed = (await listedNames(api(), key)).includes('orders');
      assert.equal(got.status === 200, listed, 'GET and list agree');
      if (got.status !== 200) assertProblem(got, 404);
      return listed;
    };

    assert.deepEqual([await visible(holder), await visible(outsider)], [true, true], 'no app: visible to all');

    await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { appId: app },
    });
    assert.deepEqual([await visible(holder), await visible(outsider)], [true, false], 'owned by the app');

    await api().call('PATCH', `/v1/apps/${app}`, {
      as: admin,
      body: { permissions: ['other'] },
    });
    assert.deepEqual([await visible(holder), await visible(outsider)], [false, true], 'app permissions changed');

    await api().call('PATCH', `/v1/apps/${app}`, {
      as: admin,
      body: { permissions: [] },
    });
    assert.deepEqual([await visible(holder), await visible(outsider)], [false, false], 'an app with no permissions');
    assert.equal((await api().call('GET', '/v1/topics/orders', { as: admin })).status, 200, 'admins still see it');

    await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { appId: null },
    });
    assert.deepEqual([await visible(holder), await visible(outsider)], [true, true], 'owner removed');
  });

  test('listing for a subscriber pages correctly past many hidden topics', async () => {
    const admin = await registry(api());
    const app = await createApp(api(), admin, ['secret']);
    const visibleNames: string[] = [];
    for (let i = 0; i < 12; i++) {
      const name = `t${String(i).padStart(2, '0')}`;
      const hidden = i % 3 !== 0;
      await createTopic(api(), admin, {
        name,
        eventTypes: ['a.created'],
        ...(hidden ? { appId: app } : {}),
      });
      if (!hidden) visibleNames.push(name);
    }
    const subscriber = await api().key(admin, 'subscriber', ['public-only']);
    assert.deepEqual(await listedNames(api(), subscriber, 1), visibleNames);
    assert.deepEqual(await listedNames(api(), subscriber, 3), visibleNames);
    assert.equal((await listedNames(api(), admin, 5)).length, 12);
  });

  test('the built-in topic is in every environment, visible to all, and cannot be changed or deleted', async () => {
    const admin = await registry(api());
    const app = await createApp(api(), admin, ['p']);
    const url = `/v1/topics/${BUILT_IN_TOPIC}`;
    const before = await api().call('GET', url, { as: admin });
    assert.equal(before.status, 200, JSON.stringify(before.body));
    assert.equal(before.body.name, BUILT_IN_TOPIC);
    assert.equal(before.body.appId, null);
    assert.ok(before.body.eventTypes.length > 0);
    for (const role of ['publisher', 'subscriber'] as const) {
      const key = await api().key(admin, role);
      assert.equal((await api().call('GET', url, { as: key })).status, 200, role);
      await listedNames(api(), key); // asserts that the built-in topic is listed
    }

    const changes = [{ description: 'mine now' }, { eventTypes: ['a.created'] }, { eventTypes: [] }, { appId: app }];
    for (const body of changes) {
      assertProblem(await api().call('PATCH', url, { as: admin, body }), 400, JSON.stringify(body));
    }
    assertProblem(await api().call('DELETE', url, { as: admin }), 400);
    assertProblem(
      await api().call('POST', '/v1/topics', { as: admin, body: { name: BUILT_IN_TOPIC, eventTypes: [] } }),
      400,
    );
    assert.deepEqual((await api().call('GET', url, { as: admin })).body, before.body);
    // Any other reserved name simply does not exist.
    assertProblem(await api().call('PATCH', '/v1/topics/herald.other', { as: admin, body: {} }), 404);
    assertProblem(await api().call('DELETE', '/v1/topics/herald.other', { as: admin }), 404);
  });

  test('a PATCH racing a DELETE leaves no event types behind (and answers 200 or 404)', async () => {
    const admin = await registry(api());
    const store = api().deps.store;
    for (let round = 0; round < 20; round++) {
      const name = `race${round}`;
      await createTopic(api(), admin, { name, eventTypes: ['a.created'] });
      const [patched, deleted] = await Promise.all([
        api().call('PATCH', `/v1/topics/${name}`, { as: admin, body: { eventTypes: ['b.created'] } }),
        api().call('DELETE', `/v1/topics/${name}`, { as: admin }),
      ]);
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      assert.ok([200, 404].includes(patched.status), `PATCH: ${patched.status} ${JSON.stringify(patched.body)}`);
      assertProblem(await api().call('GET', `/v1/topics/${name}`, { as: admin }), 404);
      const links = await store.topicsContaining(admin.environmentId, ['a.created', 'b.created']);
      for (const [type, topics] of links) assert.ok(!topics.includes(name), `${type} still links deleted ${name}`);
    }
    // The names are free and whole again.
    const again = await createTopic(api(), admin, { name: 'race0', eventTypes: ['c.created'] });
    assert.deepEqual(again.eventTypes, ['c.created']);
    assert.deepEqual((await api().call('GET', '/v1/topics/race0', { as: admin })).body.eventTypes, ['c.created']);
  });

  test('only admins may create, change or delete topics', async () => {
    const admin = await registry(api());
    await createTopic(api(), admin, {
      name: 'orders',
      eventTypes: ['a.created'],
    });
    const before = await snapshot(api(), admin);
    for (const role of ['publisher', 'subscriber'] as const) {
      const key = await api().key(admin, role);
      assertProblem(
        await api().call('POST', '/v1/topics', {
          as: key,
          body: { name: 'x', eventTypes: [] },
        }),
        403,
      );
      assertProblem(
        await api().call('PATCH', '/v1/topics/orders', {
          as: key,
          body: { eventTypes: [] },
        }),
        403,
      );
      assertProblem(await api().call('DELETE', '/v1/topics/orders', { as: key }), 403);
    }
    assert.deepEqual(await snapshot(api(), admin), before);
  });
});
