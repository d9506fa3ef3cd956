/**
 * Apps (SPEC §4 "Apps and publisher events", the apps part): a display name and the permissions a
 * subscriber key must hold (one of) to see the topics the app owns.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';
import { assertProblem } from '../../src/testing/assertions.ts';


interface AppJson {
  id: string;
  name: string;
  permissions: string[];
  createdAt: string;
  updatedAt: string;
}

async function createApp(api: TestApi, admin: Caller, body: unknown): Promise<AppJson> {
  const answer = await api.call('POST', '/v1/apps', { as: admin, body });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body;
}

async function allApps(api: TestApi, admin: Caller): Promise<AppJson[]> {
  const list = await api.call('GET', '/v1/apps?limit=250', { as: admin });
  assert.equal(list.status, 200, JSON.stringify(list.body));
  return list.body.data;
}

async function eventType(api: TestApi, admin: Caller, name: string): Promise<void> {
  const answer = await api.call('POST', '/v1/event-types', {
    as: admin,
    body: { name },
  });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
}

describeApi('apps', (api) => {
  test('POST creates an app', async () => {
    const admin = await api().environment();
    const answer = await api().call('POST', '/v1/apps', {
      as: admin,
      body: {
        name: 'Order Service',
        permissions: ['read:orders', 'admin:orders'],
      },
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.match(answer.body.id, /^app_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(answer.body.name, 'Order Service');
    assert.deepEqual(answer.body.permissions, ['read:orders', 'admin:orders']);
    assert.equal(typeof answer.body.createdAt, 'string');
    assert.equal(typeof answer.body.updatedAt, 'string');

    const got = await api().call('GET', `/v1/apps/${answer.body.id}`, {
      as: admin,
    });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, answer.body);
  });

  test('permissions are kept once each; an empty list is allowed; names need not be unique', async () => {
    const admin = await api().environment();
    const repeated = await createApp(api(), admin, {
      name: 'dup',
      permissions: ['a', 'b', 'a'],
    });
    assert.deepEqual(repeated.permissions, ['a', 'b']);
    const none = await createApp(api(), admin, {
      name: 'dup',
      permissions: [],
    });
    assert.deepEqual(none.permissions, []);
    assert.notEqual(none.id, repeated.id);
    const got = await api().call('GET', `/v1/apps/${repeated.id}`, {
      as: admin,
    });
    assert.deepEqual(got.body.permissions, ['a', 'b']);
  });

  test('GET list is paginated and holds only this environment’s apps', async () => {
    const admin = await api().environment();
    const other = await api().environment('other');
    await createApp(api(), other, { name: 'not mine', permissions: [] });
    const made: string[] = [];
    for (let i = 0; i < 5; i++)
      made.push(
        (
          await createApp(api(), admin, {
            name: `app ${i}`,
            permissions: [`p${i}`],
          })
        ).id,
      );

    const seen: AppJson[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/apps?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api().call('GET', url, { as: admin });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.data.length <= 2);
      assert.equal(page.body.meta.hasNextPage, page.body.meta.nextCursor !== null);
      seen.push(...page.body.data);
      cursor = page.body.meta.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen.map((a) => a.id),
      made,
      'all five, in creation (id) order, once each',
    );
    assert.deepEqual(
      seen.map((a) => a.permissions),
      [['p0'], ['p1'], ['p2'], ['p3'], ['p4']],
    );
    for (const query of ['limit=0', 'limit=251', 'cursor=bad', 'nope=1']) {
      assertProblem(await api().call('GET', `/v1/apps?${query}`, { as: admin }), 400, query);
    }
  });

  test('any role may read apps; only admins may write them', async () => {
    const admin = await api().environment();
    const app = await createApp(api(), admin, {
      name: 'shop',
      permissions: ['read:orders'],
    });
    for (const role of ['publisher', 'subscriber'] as const) {
      const key = await api().key(admin, role);
      assert.equal((await api().call('GET', '/v1/apps', { as: key })).status, 200);
      assert.equal((await api().call('GET', `/v1/apps/${app.id}`, { as: key })).status, 200);
      assertProblem(
        await api().call('POST', '/v1/apps', {
          as: key,
          body: { name: 'x', permissions: [] },
        }),
        403,
      );
      assertProblem(
        await api().call('PATCH', `/v1/apps/${app.id}`, {
          as: key,
          body: { name: 'x' },
        }),
        403,
      );
      assertProblem(await api().call('DELETE', `/v1/apps/${app.id}`, { as: key }), 403);
    }
    assert.deepEqual(await allApps(api(), admin), [app]);
  });

  test('PATCH changes the name and replaces the permissions', async () => {
    const admin = await api().environment();
    const app = await createApp(api(), admin, {
      name: 'before',
      permissions: ['a', 'b'],
    });
    const url = `/v1/apps/${app.id}`;
    api().clock.advance(1000);

    const renamed = await api().call('PATCH', url, {
      as: admin,
      body: { name: 'after' },
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.id, app.id);
    assert.equal(renamed.body.name, 'after');
    assert.deepEqual(renamed.body.permissions, ['a', 'b'], 'untouched when not sent');
    assert.equal(renamed.body.createdAt, app.createdAt);
    assert.notEqual(renamed.body.updatedAt, app.updatedAt);

    const replaced = await api().call('PATCH', url, {
      as: admin,
      body: { permissions: ['c', 'c', 'd'] },
    });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.name, 'after');
    assert.deepEqual(replaced.body.permissions, ['c', 'd']);

    const emptied = await api().call('PATCH', url, {
      as: admin,
      body: { permissions: [] },
    });
    assert.equal(emptied.status, 200);
    assert.deepEqual(emptied.body.permissions, []);

    const nothing = await api().call('PATCH', url, { as: admin, body: {} });
    assert.equal(nothing.status, 200);
    assert.deepEqual([nothing.body.name, nothing.body.permissions], ['after', []]);

    const got = await api().call('GET', url, { as: admin });
    assert.deepEqual([got.body.name, got.body.permissions], ['after', []]);
  });

  test('DELETE is refused with 409 while a topic names the app, then succeeds', async () => {
    const admin = await api().environment();
    await eventType(api(), admin, 'order.created');
    const app = await createApp(api(), admin, {
      name: 'shop',
      permissions: ['read:orders'],
    });
    const url = `/v1/apps/${app.id}`;
    for (const name of ['orders', 'refunds']) {
      const topic = await api().call('POST', '/v1/topics', {
        as: admin,
        body: { name, eventTypes: ['order.created'], appId: app.id },
      });
      assert.equal(topic.status, 201, JSON.stringify(topic.body));
    }

    assertProblem(await api().call('DELETE', url, { as: admin }), 409);
    assert.equal((await api().call('GET', url, { as: admin })).status, 200, 'still there');

    // Moving one topic away is not enough.
    const moved = await api().call('PATCH', '/v1/topics/orders', {
      as: admin,
      body: { appId: null },
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assertProblem(await api().call('DELETE', url, { as: admin }), 409);

    // Deleting the other one is.
    assert.equal((await api().call('DELETE', '/v1/topics/refunds', { as: admin })).status, 204);
    const deleted = await api().call('DELETE', url, { as: admin });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, '');

    assertProblem(await api().call('GET', url, { as: admin }), 404);
    assertProblem(await api().call('PATCH', url, { as: admin, body: { name: 'x' } }), 404);
    assertProblem(await api().call('DELETE', url, { as: admin }), 404);
    assert.deepEqual(await allApps(api(), admin), []);
    // The topic that was moved away is untouched.
    const orders = await api().call('GET', '/v1/topics/orders', { as: admin });
    assert.equal(orders.status, 200);
    assert.equal(orders.body.appId, null);
  });

  test('a topic taking the app while it is deleted: one wins, never a topic of a missing app', async () => {
    const admin = await api().environment();
    await eventType(api(), admin, 'order.created');
    await api().call('POST', '/v1/topics', { as: admin, body: { name: 'spare', eventTypes: ['order.created'] } });
    const outcomes = new Set<string>();
    for (let round = 0; round < 20; round++) {
      const app = await createApp(api(), admin, { name: `app ${round}`, permissions: ['read:orders'] });
      const byPatch = round % 2 === 1;
      const [claimed, deleted] = await Promise.all([
        byPatch
          ? api().call('PATCH', '/v1/topics/spare', { as: admin, body: { appId: app.id } })
          : api().call('POST', '/v1/topics', {
              as: admin,
              body: { name: `t${round}`, eventTypes: ['order.created'], appId: app.id },
            }),
        api().call('DELETE', `/v1/apps/${app.id}`, { as: admin }),
      ]);
      const outcome = `${claimed.status}/${deleted.status}`;
      outcomes.add(outcome);
      const won = byPatch ? '200/409' : '201/409';
      const detail = JSON.stringify([claimed.body, deleted.body]);
      assert.ok([won, '400/204'].includes(outcome), `round ${round}: ${outcome} ${detail}`);
      const appExists = (await api().call('GET', `/v1/apps/${app.id}`, { as: admin })).status === 200;
      assert.equal(appExists, outcome === won);
      const topic = await api().call('GET', `/v1/topics/${byPatch ? 'spare' : `t${round}`}`, { as: admin });
      if (topic.status === 200 && topic.body.appId !== null) {
        assert.equal(topic.body.appId, app.id);
        assert.ok(appExists, `round ${round}: the topic names app ${app.id}, which is gone`);
      }
      if (appExists) {
        // Release the app for the next round.
        if (byPatch) await api().call('PATCH', '/v1/topics/spare', { as: admin, body: { appId: null } });
        else assert.equal((await api().call('DELETE', `/v1/topics/t${round}`, { as: admin })).status, 204);
      }
    }
  });

  test('POST with bad input is 400 and creates nothing', async () => {
    const admin = await api().environment();
    await createApp(api(), admin, { name: 'existing', permissions: ['x'] });
    const before = await allApps(api(), admin);
    const bodies: [string, unknown][] = [
      ['missing name', { permissions: [] }],
      ['missing permissions', { name: 'x' }],
      ['empty name', { name: '', permissions: [] }],
      ['name too long', { name: 'n'.repeat(129), permissions: [] }],
      ['name with U+0000', { name: 'a\u0000b', permissions: [] }],
      ['name null', { name: null, permissions: [] }],
      ['name number', { name: 3, permissions: [] }],
      ['permissions a string', { name: 'x', permissions: 'read:orders' }],
      ['permissions null', { name: 'x', permissions: null }],
      ['permissions an object', { name: 'x', permissions: { a: true } }],
      ['empty permission', { name: 'x', permissions: [''] }],
      ['permission not a string', { name: 'x', permissions: ['ok', 7] }],
      ['permission too long', { name: 'x', permissions: ['p'.repeat(129)] }],
      [
        'too many permissions',
        {
          name: 'x',
          permissions: Array.from({ length: 101 }, (_, i) => `p${i}`),
        },
      ],
      ['unknown field', { name: 'x', permissions: [], color: 'red' }],
      ['id given', { name: 'x', permissions: [], id: 'app_01ARZ3NDEKTSV4RRFFQ69G5FAV' }],
      ['array body', [{ name: 'x', permissions: [] }]],
      ['null body', null],
    ];
    for (const [label, body] of bodies) {
      assertProblem(await api().call('POST', '/v1/apps', { as: admin, body }), 400, label);
    }
    const invalidJson = await api().call('POST', '/v1/apps', {
      as: admin,
      headers: { 'content-type': 'application/json' },
      payload: '{"name": "x", "permissions": [}',
    });
    assertProblem(invalidJson, 400);
    const missing = await api().call('POST', '/v1/apps', {
      as: admin,
      body: { name: 'x' },
    });
    assert.ok(
      missing.body.errors.some((e: { path: string }) => e.path === '/permissions'),
      JSON.stringify(missing.body),
    );
    assert.deepEqual(await allApps(api(), admin), before);
  });

  test('PATCH with bad input is 400 and changes nothing', async () => {
    const admin = await api().environment();
    const app = await createApp(api(), admin, {
      name: 'stable',
      permissions: ['keep'],
    });
    const url = `/v1/apps/${app.id}`;
    const bodies: [string, unknown][] = [
      ['empty name', { name: '' }],
      ['name too long', { name: 'n'.repeat(129) }],
      ['name with U+0000', { name: 'a\u0000b' }],
      ['name null', { name: null }],
      ['permissions null', { permissions: null }],
      ['permissions a string', { permissions: 'a' }],
      ['empty permission', { permissions: ['ok', ''] }],
      ['valid name, bad permissions', { name: 'changed', permissions: [1] }],
      ['unknown field', { name: 'changed', owner: 'me' }],
      ['id change', { id: 'app_01ARZ3NDEKTSV4RRFFQ69G5FAV' }],
      ['array body', []],
    ];
    for (const [label, body] of bodies) {
      assertProblem(await api().call('PATCH', url, { as: admin, body }), 400, label);
    }
    const got = await api().call('GET', url, { as: admin });
    assert.deepEqual(got.body, app);
  });

  test('unknown ids and other environments’ apps are 404', async () => {
    const a = await api().environment('a');
    const b = await api().environment('b');
    const app = await createApp(api(), a, {
      name: 'a-app',
      permissions: ['read'],
    });
    for (const [as, id] of [
      [a, 'app_00000000000000000000000000'],
      [a, 'nope'],
      [b, app.id],
    ] as const) {
      assertProblem(await api().call('GET', `/v1/apps/${id}`, { as }), 404, id);
      assertProblem(
        await api().call('PATCH', `/v1/apps/${id}`, {
          as,
          body: { name: 'stolen' },
        }),
        404,
        id,
      );
      assertProblem(await api().call('DELETE', `/v1/apps/${id}`, { as }), 404, id);
    }
    assert.deepEqual(await allApps(api(), b), []);
    assert.deepEqual(await allApps(api(), a), [app]);
  });

  test('an id holding U+0000 is a 4xx, never a 500', async () => {
    const admin = await api().environment();
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const answer = await api().call(method, '/v1/apps/app_%00x', {
        as: admin,
        ...(method === 'PATCH' ? { body: { name: 'x' } } : {}),
      });
      assert.ok(answer.status === 400 || answer.status === 404, `${method}: ${answer.status}`);
      assertProblem(answer, answer.status);
    }
  });
});
