/**
 * Authentication and authorisation of environment-scoped calls (SPEC §3, §1 roles):
 * who is calling (401), whether the role may do it (403), and isolation between environments (404).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, ROOT_TOKEN, type TestApi, describeApi } from '../../src/testing/test-app.ts';

function assertProblem(answer: Answer, status: number, label = ''): void {
  assert.equal(answer.status, status, `${label} ${JSON.stringify(answer.body)}`);
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/, label);
  assert.equal(typeof answer.body.type, 'string', label);
  assert.ok(answer.body.type.length > 0, label);
  assert.equal(typeof answer.body.title, 'string', label);
  assert.equal(answer.body.status, status, label);
  assert.equal(typeof answer.body.detail, 'string', label);
}

async function ok(answer: Promise<Answer>, status = 201): Promise<Answer> {
  const done = await answer;
  assert.equal(done.status, status, JSON.stringify(done.body));
  return done;
}

interface World {
  admin: Caller;
  publisher: Caller;
  subscriber: Caller;
  appId: string;
  keyId: string;
}

/** An environment with one of everything: category, event type, app, topic (owned by the app), keys. */
async function world(api: TestApi): Promise<World> {
  const admin = await api.environment();
  await ok(
    api.call('POST', '/v1/categories', {
      as: admin,
      body: { name: 'customer', description: 'people' },
    }),
  );
  await ok(
    api.call('POST', '/v1/event-types', {
      as: admin,
      body: {
        name: 'customer.created',
        category: 'customer',
        schema: { type: 'object' },
      },
    }),
  );
  const app = await ok(
    api.call('POST', '/v1/apps', {
      as: admin,
      body: { name: 'shop', permissions: ['read:orders'] },
    }),
  );
  await ok(
    api.call('POST', '/v1/topics', {
      as: admin,
      body: {
        name: 'orders',
        eventTypes: ['customer.created'],
        appId: app.body.id,
      },
    }),
  );
  await ok(
    api.call('POST', '/v1/topics', {
      as: admin,
      body: { name: 'open', eventTypes: ['customer.created'] },
    }),
  );
  const spare = await ok(
    api.call('POST', '/v1/api-keys', {
      as: admin,
      body: { name: 'spare', role: 'admin' },
    }),
  );
  const publisher = await api.key(admin, 'publisher');
  const subscriber = await api.key(admin, 'subscriber', ['read:orders']);
  return {
    admin,
    publisher,
    subscriber,
    appId: app.body.id,
    keyId: spare.body.id,
  };
}

/** Everything an admin can read about the environment, to prove a refused call changed nothing. */
async function snapshot(api: TestApi, admin: Caller): Promise<unknown> {
  const urls = [
    '/v1/api-keys?limit=250',
    '/v1/categories?limit=250',
    '/v1/event-types?limit=250&includeArchived=true',
    '/v1/topics?limit=250',
    '/v1/apps?limit=250',
    '/v1/events?limit=250',
  ];
  const out: Record<string, unknown> = {};
  for (const url of urls) out[url] = (await ok(api.call('GET', url, { as: admin }), 200)).body;
  return out;
}

const headersOf = (caller: Caller, how: 'x-auth-token' | 'bearer'): Record<string, string> =>
  how === 'bearer'
    ? {
        'x-environment-id': caller.environmentId,
        authorization: `Bearer ${caller.key}`,
      }
    : { 'x-environment-id': caller.environmentId, 'x-auth-token': caller.key };

describeApi('auth', (api) => {
  test('a valid key with its environment id is accepted, via x-auth-token or Bearer', async () => {
    const admin = await api().environment();
    for (const headers of [
      headersOf(admin, 'x-auth-token'),
      headersOf(admin, 'bearer'),
      {
        'x-environment-id': admin.environmentId,
        authorization: `bearer ${admin.key}`,
      },
    ]) {
      const answer = await api().call('GET', '/v1/categories', { headers });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
    // Bearer works for writes too.
    const created = await api().call('POST', '/v1/categories', {
      headers: headersOf(admin, 'bearer'),
      body: { name: 'via-bearer' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });

  test('missing or unknown credentials are 401 problems', async () => {
    const admin = await api().environment();
    const other = await api().environment('other');
    const [, idPart] = /^hk_([0-9A-Z]{26})_/.exec(admin.key) ?? [];
    assert.ok(idPart);
    const forged = `hk_${idPart}_${'A'.repeat(43)}`;
    const cases: [string, Record<string, string>][] = [
      ['no headers', {}],
      ['missing x-environment-id', { 'x-auth-token': admin.key }],
      ['missing x-environment-id (bearer)', { authorization: `Bearer ${admin.key}` }],
      ['missing token', { 'x-environment-id': admin.environmentId }],
      ['empty token', { 'x-environment-id': admin.environmentId, 'x-auth-token': '' }],
      ['empty environment id', { 'x-environment-id': '', 'x-auth-token': admin.key }],
      ['garbage token', { 'x-environment-id': admin.environmentId, 'x-auth-token': 'garbage' }],
      [
        'garbage bearer',
        {
          'x-environment-id': admin.environmentId,
          authorization: 'Bearer garbage',
        },
      ],
      ['right id, wrong secret', { 'x-environment-id': admin.environmentId, 'x-auth-token': forged }],
      [
        'key with a character changed',
        {
          'x-environment-id': admin.environmentId,
          'x-auth-token': flipLast(admin.key),
        },
      ],
      [
        'key with a suffix',
        {
          'x-environment-id': admin.environmentId,
          'x-auth-token': `${admin.key}x`,
        },
      ],
      ['valid key, other environment', { 'x-environment-id': other.environmentId, 'x-auth-token': admin.key }],
      [
        'valid key, other environment (bearer)',
        {
          'x-environment-id': other.environmentId,
          authorization: `Bearer ${admin.key}`,
        },
      ],
      [
        'valid key, unknown environment',
        {
          'x-environment-id': 'env_00000000000000000000000000',
          'x-auth-token': admin.key,
        },
      ],
      ['root token as a key', { 'x-environment-id': admin.environmentId, 'x-auth-token': ROOT_TOKEN }],
      [
        'root token as bearer',
        {
          'x-environment-id': admin.environmentId,
          authorization: `Bearer ${ROOT_TOKEN}`,
        },
      ],
      [
        'basic scheme',
        {
          'x-environment-id': admin.environmentId,
          authorization: `Basic ${admin.key}`,
        },
      ],
      ['key without scheme', { 'x-environment-id': admin.environmentId, authorization: admin.key }],
      ['environment id with U+0000', { 'x-environment-id': `${admin.environmentId}\u0000`, 'x-auth-token': admin.key }],
    ];
    for (const [label, headers] of cases) {
      for (const [method, url, body] of [
        ['GET', '/v1/categories', undefined],
        ['POST', '/v1/categories', { name: 'intruder' }],
        ['GET', '/v1/topics', undefined],
      ] as const) {
        const answer = await api().call(method, url, {
          headers,
          ...(body ? { body } : {}),
        });
        assertProblem(answer, 401, `${label}: ${method} ${url}`);
      }
    }
    for (const env of [admin, other]) {
      const list = await ok(api().call('GET', '/v1/categories', { as: env }), 200);
      assert.deepEqual(list.body.data, [], 'nothing was created');
    }
  });

  test('401 comes before body validation: a bad body with no key is still 401', async () => {
    const answer = await api().call('POST', '/v1/topics', {
      body: { nonsense: true },
    });
    assertProblem(answer, 401);
  });

  test('publisher and subscriber keys get 403 on every admin write, and nothing changes', async () => {
    const w = await world(api());
    const before = await snapshot(api(), w.admin);
    const writes: [string, string, unknown][] = [
      ['POST', '/v1/api-keys', { name: 'escalate', role: 'admin' }],
      ['GET', '/v1/api-keys', undefined],
      ['GET', `/v1/api-keys/${w.keyId}`, undefined],
      ['DELETE', `/v1/api-keys/${w.keyId}`, undefined],
      ['POST', '/v1/categories', { name: 'new-category' }],
      ['PATCH', '/v1/categories/customer', { description: 'changed' }],
      ['DELETE', '/v1/categories/customer', undefined],
      ['POST', '/v1/event-types', { name: 'customer.deleted' }],
      ['PATCH', '/v1/event-types/customer.created', { description: 'changed' }],
      ['DELETE', '/v1/event-types/customer.created', undefined],
      ['POST', '/v1/topics', { name: 'new-topic', eventTypes: ['customer.created'] }],
      ['PATCH', '/v1/topics/orders', { description: 'changed', appId: null }],
      ['PATCH', '/v1/topics/open', { eventTypes: [] }],
      ['DELETE', '/v1/topics/orders', undefined],
      ['DELETE', '/v1/topics/open', undefined],
      ['POST', '/v1/apps', { name: 'new-app', permissions: ['x'] }],
      ['PATCH', `/v1/apps/${w.appId}`, { permissions: ['read:orders', 'anyone'] }],
      ['DELETE', `/v1/apps/${w.appId}`, undefined],
    ];
    for (const [role, as] of [
      ['publisher', w.publisher],
      ['subscriber', w.subscriber],
    ] as const) {
      for (const [method, url, body] of writes) {
        const answer = await api().call(method, url, {
          as,
          ...(body !== undefined ? { body } : {}),
        });
        assertProblem(answer, 403, `${role}: ${method} ${url}`);
      }
      // Also with a body that would not validate: the role is checked first.
      assertProblem(await api().call('POST', '/v1/topics', { as, body: { bad: 1 } }), 403, `${role} bad body`);
    }
    assert.deepEqual(await snapshot(api(), w.admin), before);
  });

  test('publisher and subscriber keys may read the registry', async () => {
    const w = await world(api());
    for (const as of [w.publisher, w.subscriber]) {
      for (const url of [
        '/v1/categories',
        '/v1/categories/customer',
        '/v1/event-types',
        '/v1/event-types/customer.created',
        '/v1/topics',
        '/v1/topics/open',
        '/v1/apps',
        `/v1/apps/${w.appId}`,
      ]) {
        const answer = await api().call('GET', url, { as });
        assert.equal(answer.status, 200, `${url}: ${JSON.stringify(answer.body)}`);
      }
    }
  });

  test('publishers may publish; subscribers get 403 and nothing is stored', async () => {
    const w = await world(api());
    const event = { events: [{ type: 'customer.created', data: {} }] };

    const unknownTopic = await api().call('POST', '/v1/topics/nope/events/publish', { as: w.publisher, body: event });
    assert.notEqual(unknownTopic.status, 403);
    assert.notEqual(unknownTopic.status, 401);
    const toTopic = await api().call('POST', '/v1/topics/open/events/publish', {
      as: w.publisher,
      body: event,
    });
    assert.ok(![401, 403].includes(toTopic.status), JSON.stringify(toTopic.body));
    const global = await api().call('POST', '/v1/events/publish', {
      as: w.publisher,
      body: event,
    });
    assert.ok(![401, 403].includes(global.status), JSON.stringify(global.body));

    const before = await snapshot(api(), w.admin);
    for (const url of ['/v1/topics/open/events/publish', '/v1/topics/orders/events/publish', '/v1/events/publish']) {
      const answer = await api().call('POST', url, {
        as: w.subscriber,
        body: event,
      });
      assertProblem(answer, 403, url);
    }
    assert.deepEqual(await snapshot(api(), w.admin), before);
  });

  test('admin keys pass every role check', async () => {
    const admin = await api().environment();
    const second = await api().key(admin, 'admin');
    const made = await api().call('POST', '/v1/categories', {
      as: second,
      body: { name: 'by-second-admin' },
    });
    assert.equal(made.status, 201);
    const keys = await api().call('GET', '/v1/api-keys', { as: second });
    assert.equal(keys.status, 200);
    assert.equal(keys.body.data.length, 2);
  });

  test('every error answer is problem+json: 400, 401, 403, 404, 409, 415', async () => {
    const w = await world(api());
    assertProblem(
      await api().call('POST', '/v1/categories', {
        as: w.admin,
        body: { name: '' },
      }),
      400,
    );
    assertProblem(
      await api().call('POST', '/v1/categories', {
        as: w.admin,
        headers: { 'content-type': 'application/json' },
        payload: '{"name":',
      }),
      400,
    );
    assertProblem(await api().call('GET', '/v1/categories'), 401);
    assertProblem(
      await api().call('POST', '/v1/apps', {
        as: w.subscriber,
        body: { name: 'x', permissions: [] },
      }),
      403,
    );
    assertProblem(await api().call('GET', '/v1/topics/missing', { as: w.admin }), 404);
    assertProblem(await api().call('GET', '/v1/no-such-route', { as: w.admin }), 404);
    assertProblem(
      await api().call('POST', '/v1/categories', {
        as: w.admin,
        body: { name: 'customer' },
      }),
      409,
    );
    assertProblem(
      await api().call('POST', '/v1/categories', {
        as: w.admin,
        headers: { 'content-type': 'text/plain' },
        payload: 'name=x',
      }),
      415,
    );
  });

  test('another environment’s resources are 404 to an admin of this one, and stay intact', async () => {
    const a = await world(api());
    const b = await api().environment('b');
    const aKeys = await ok(api().call('GET', '/v1/api-keys', { as: a.admin }), 200);
    const before = await snapshot(api(), a.admin);

    const requests: [string, string, unknown][] = [
      ['GET', '/v1/topics/orders', undefined],
      ['GET', '/v1/topics/open', undefined],
      ['PATCH', '/v1/topics/open', { description: 'stolen' }],
      ['DELETE', '/v1/topics/open', undefined],
      ['GET', `/v1/apps/${a.appId}`, undefined],
      ['PATCH', `/v1/apps/${a.appId}`, { name: 'stolen' }],
      ['DELETE', `/v1/apps/${a.appId}`, undefined],
      ['GET', '/v1/event-types/customer.created', undefined],
      ['PATCH', '/v1/event-types/customer.created', { description: 'stolen' }],
      ['DELETE', '/v1/event-types/customer.created', undefined],
      ['GET', '/v1/categories/customer', undefined],
      ['PATCH', '/v1/categories/customer', { description: 'stolen' }],
      ['DELETE', '/v1/categories/customer', undefined],
      ['POST', '/v1/topics/open/events/publish', { events: [{ type: 'customer.created' }] }],
    ];
    for (const key of aKeys.body.data as { id: string }[]) {
      requests.push(['GET', `/v1/api-keys/${key.id}`, undefined], ['DELETE', `/v1/api-keys/${key.id}`, undefined]);
    }
    for (const [method, url, body] of requests) {
      const answer = await api().call(method, url, {
        as: b,
        ...(body !== undefined ? { body } : {}),
      });
      assertProblem(answer, 404, `${method} ${url}`);
    }

    // Lists in B show nothing of A (only what every environment has built in: `herald.` names).
    for (const url of ['/v1/topics', '/v1/apps', '/v1/event-types', '/v1/categories']) {
      const list = await ok(api().call('GET', url, { as: b }), 200);
      const own = (list.body.data as { name: string }[]).filter((item) => !item.name.startsWith('herald.'));
      assert.deepEqual(own, [], url);
    }
    const bKeys = await ok(api().call('GET', '/v1/api-keys', { as: b }), 200);
    assert.equal(bKeys.body.data.length, 1);

    // References into A are unknown in B.
    const topic = await api().call('POST', '/v1/topics', {
      as: b,
      body: { name: 'mine', eventTypes: ['customer.created'], appId: a.appId },
    });
    assertProblem(topic, 400);
    const paths = (topic.body.errors as { path: string }[]).map((e) => e.path).sort();
    assert.deepEqual(paths, ['/appId', '/eventTypes/0']);

    assert.deepEqual(await snapshot(api(), a.admin), before);
    for (const as of [a.admin, a.publisher, a.subscriber]) {
      assert.equal((await api().call('GET', '/v1/topics', { as })).status, 200);
    }
  });
});

function flipLast(key: string): string {
  const last = key.slice(-1);
  return key.slice(0, -1) + (last === 'A' ? 'B' : 'A');
}
