/**
 * API keys (SPEC §4 "Keys", §7): created by admins, shown once, stored hashed, revocable.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';
import { assertProblem } from '../../src/testing/assertions.ts';


interface KeyJson {
  id: string;
  name: string;
  role: string;
  permissions: string[];
  createdAt: string;
  key?: string;
}

async function createKey(api: TestApi, admin: Caller, body: unknown): Promise<KeyJson & { key: string }> {
  const answer = await api.call('POST', '/v1/api-keys', { as: admin, body });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body;
}

async function allKeys(api: TestApi, admin: Caller): Promise<KeyJson[]> {
  const list = await api.call('GET', '/v1/api-keys?limit=250', { as: admin });
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.equal(list.body.meta.hasNextPage, false);
  return list.body.data;
}

/** No secret, no hash, under any plausible name. */
function assertNoSecret(json: unknown, token: string): void {
  const text = JSON.stringify(json);
  assert.ok(!text.includes(token), 'the key itself');
  assert.ok(!text.includes(token.slice(-43)), 'the secret part');
  const digest = createHash('sha256').update(token).digest();
  for (const encoding of ['hex', 'base64', 'base64url'] as const) {
    assert.ok(!text.includes(digest.toString(encoding)), `the hash (${encoding})`);
  }
  for (const field of ['"key"', '"secret', '"hash', '"secretHash"', '"secret_hash"', '"token"', '"apiKey"']) {
    assert.ok(!text.includes(field), `field ${field}`);
  }
}

const as = (admin: Caller, key: string): Caller => ({
  environmentId: admin.environmentId,
  key,
});

describeApi('api keys', (api) => {
  test('POST creates a key of each role, shown once in the answer', async () => {
    const admin = await api().environment();
    for (const role of ['admin', 'publisher', 'subscriber'] as const) {
      const answer = await api().call('POST', '/v1/api-keys', {
        as: admin,
        body: {
          name: `${role} key`,
          role,
          permissions: ['read:orders', 'read:invoices'],
        },
      });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      const created = answer.body as KeyJson & { key: string };
      assert.match(created.id, /^key_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.equal(created.name, `${role} key`);
      assert.equal(created.role, role);
      assert.deepEqual(created.permissions, ['read:orders', 'read:invoices']);
      assert.equal(typeof created.key, 'string');
      assert.ok(created.key.length >= 40);
      assert.equal(typeof created.createdAt, 'string');
      assert.deepEqual(Object.keys(created).sort(), ['createdAt', 'id', 'key', 'name', 'permissions', 'role']);

      // It works, with its role.
      const read = await api().call('GET', '/v1/categories', {
        as: as(admin, created.key),
      });
      assert.equal(read.status, 200);
      const adminOnly = await api().call('GET', '/v1/api-keys', {
        as: as(admin, created.key),
      });
      assert.equal(adminOnly.status, role === 'admin' ? 200 : 403);
    }
  });

  test('permissions default to none', async () => {
    const admin = await api().environment();
    const created = await createKey(api(), admin, {
      name: 'plain',
      role: 'subscriber',
    });
    assert.deepEqual(created.permissions, []);
    const got = await api().call('GET', `/v1/api-keys/${created.id}`, {
      as: admin,
    });
    assert.deepEqual(got.body.permissions, []);
  });

  test('keys are distinct and ids are time-sortable', async () => {
    const admin = await api().environment();
    const a = await createKey(api(), admin, { name: 'a', role: 'publisher' });
    const b = await createKey(api(), admin, { name: 'b', role: 'publisher' });
    assert.notEqual(a.key, b.key);
    assert.ok(a.id < b.id);
  });

  test('GET one and GET list never show the secret or its hash', async () => {
    const admin = await api().environment();
    const created = await createKey(api(), admin, {
      name: 'hidden',
      role: 'publisher',
      permissions: ['p'],
    });

    const got = await api().call('GET', `/v1/api-keys/${created.id}`, {
      as: admin,
    });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, {
      id: created.id,
      name: 'hidden',
      role: 'publisher',
      permissions: ['p'],
      createdAt: created.createdAt,
    });
    assertNoSecret(got.body, created.key);

    const list = await api().call('GET', '/v1/api-keys', { as: admin });
    assert.equal(list.status, 200);
    assertNoSecret(list.body, created.key);
    assertNoSecret(list.body, admin.key);
    const ids = list.body.data.map((k: KeyJson) => k.id);
    assert.equal(ids.length, 2);
    assert.ok(ids.includes(created.id));
  });

  test('the key is stored as its SHA-256 hash, never in clear', async () => {
    const admin = await api().environment();
    const created = await createKey(api(), admin, {
      name: 'stored',
      role: 'publisher',
    });
    const stored = await api().deps.store.getApiKey(admin.environmentId, created.id);
    assert.ok(stored);
    assert.equal(stored.secretHash.length, 32);
    assert.deepEqual(stored.secretHash, createHash('sha256').update(created.key).digest());
    assert.ok(!JSON.stringify(stored).includes(created.key.slice(-43)));
  });

  test('GET list is paginated', async () => {
    const admin = await api().environment();
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await createKey(api(), admin, { name: `k${i}`, role: 'subscriber' })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/api-keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api().call('GET', url, { as: admin });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.data.length <= 2);
      assert.equal(page.body.meta.hasNextPage, page.body.meta.nextCursor !== null);
      seen.push(...page.body.data.map((k: KeyJson) => k.id));
      cursor = page.body.meta.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    assert.equal(pages, 3);
    assert.equal(seen.length, 6, 'the five and the environment admin key');
    assert.equal(new Set(seen).size, 6);
    for (const id of made) assert.ok(seen.includes(id));
    for (const query of ['limit=0', 'limit=251', 'cursor=%%%']) {
      assertProblem(await api().call('GET', `/v1/api-keys?${query}`, { as: admin }), 400, query);
    }
  });

  test('DELETE revokes: the key gets 401 at once, others keep working', async () => {
    const admin = await api().environment();
    const doomed = await createKey(api(), admin, {
      name: 'doomed',
      role: 'publisher',
    });
    const kept = await createKey(api(), admin, {
      name: 'kept',
      role: 'publisher',
    });
    assert.equal((await api().call('GET', '/v1/categories', { as: as(admin, doomed.key) })).status, 200);

    const deleted = await api().call('DELETE', `/v1/api-keys/${doomed.id}`, {
      as: admin,
    });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, '');

    assertProblem(await api().call('GET', '/v1/categories', { as: as(admin, doomed.key) }), 401);
    assertProblem(
      await api().call('GET', '/v1/categories', {
        headers: {
          'x-environment-id': admin.environmentId,
          authorization: `Bearer ${doomed.key}`,
        },
      }),
      401,
    );
    assertProblem(await api().call('GET', `/v1/api-keys/${doomed.id}`, { as: admin }), 404);
    assertProblem(await api().call('DELETE', `/v1/api-keys/${doomed.id}`, { as: admin }), 404);
    assert.ok(!(await allKeys(api(), admin)).some((k) => k.id === doomed.id));

    assert.equal((await api().call('GET', '/v1/categories', { as: as(admin, kept.key) })).status, 200);
    assert.equal((await api().call('GET', '/v1/categories', { as: admin })).status, 200);
  });

  test('an admin key can revoke itself; it then gets 401', async () => {
    const admin = await api().environment();
    const second = await createKey(api(), admin, {
      name: 'second',
      role: 'admin',
    });
    const self = await api().call('DELETE', `/v1/api-keys/${second.id}`, {
      as: as(admin, second.key),
    });
    assert.equal(self.status, 204);
    assertProblem(await api().call('GET', '/v1/api-keys', { as: as(admin, second.key) }), 401);
    assert.equal((await allKeys(api(), admin)).length, 1);
  });

  test('bad input is 400 and creates nothing', async () => {
    const admin = await api().environment();
    const before = await allKeys(api(), admin);
    const bodies: [string, unknown][] = [
      ['unknown role', { name: 'x', role: 'owner' }],
      ['role in capitals', { name: 'x', role: 'Admin' }],
      ['role missing', { name: 'x' }],
      ['role null', { name: 'x', role: null }],
      ['role not a string', { name: 'x', role: 1 }],
      ['name missing', { role: 'admin' }],
      ['name empty', { name: '', role: 'admin' }],
      ['name too long', { name: 'n'.repeat(129), role: 'admin' }],
      ['name with U+0000', { name: 'a\u0000b', role: 'admin' }],
      ['name not a string', { name: ['x'], role: 'admin' }],
      ['permissions not an array', { name: 'x', role: 'subscriber', permissions: 'read:orders' }],
      ['permissions null', { name: 'x', role: 'subscriber', permissions: null }],
      ['permission empty', { name: 'x', role: 'subscriber', permissions: [''] }],
      ['permission not a string', { name: 'x', role: 'subscriber', permissions: [1] }],
      ['permission too long', { name: 'x', role: 'subscriber', permissions: ['p'.repeat(129)] }],
      [
        'too many permissions',
        {
          name: 'x',
          role: 'subscriber',
          permissions: Array.from({ length: 101 }, (_, i) => `p${i}`),
        },
      ],
      ['unknown field', { name: 'x', role: 'admin', key: 'hk_chosen' }],
      ['id given', { name: 'x', role: 'admin', id: 'key_01ARZ3NDEKTSV4RRFFQ69G5FAV' }],
      ['array body', [{ name: 'x', role: 'admin' }]],
      ['null body', null],
    ];
    for (const [label, body] of bodies) {
      const answer = await api().call('POST', '/v1/api-keys', {
        as: admin,
        body,
      });
      assertProblem(answer, 400, label);
    }
    const roleProblem = await api().call('POST', '/v1/api-keys', {
      as: admin,
      body: { name: 'x', role: 'root' },
    });
    assert.ok(
      roleProblem.body.errors.some((e: { path: string }) => e.path.startsWith('/role')),
      JSON.stringify(roleProblem.body),
    );
    assert.deepEqual(await allKeys(api(), admin), before);
  });

  test('unknown key ids are 404', async () => {
    const admin = await api().environment();
    for (const id of ['key_00000000000000000000000000', 'nope', 'app_00000000000000000000000000']) {
      assertProblem(await api().call('GET', `/v1/api-keys/${id}`, { as: admin }), 404, id);
      assertProblem(await api().call('DELETE', `/v1/api-keys/${id}`, { as: admin }), 404, id);
    }
  });

  test('an id holding U+0000 is a 4xx, never a 500', async () => {
    const admin = await api().environment();
    for (const method of ['GET', 'DELETE']) {
      const answer = await api().call(method, '/v1/api-keys/key_%00x', { as: admin });
      assert.ok(answer.status === 400 || answer.status === 404, `${method}: ${answer.status}`);
      assertProblem(answer, answer.status);
    }
  });

  test('another environment’s keys are 404 and cannot be revoked from here', async () => {
    const a = await api().environment('a');
    const b = await api().environment('b');
    const aKey = await createKey(api(), a, { name: 'mine', role: 'publisher' });
    for (const id of [aKey.id, ...(await allKeys(api(), a)).map((k) => k.id)]) {
      assertProblem(await api().call('GET', `/v1/api-keys/${id}`, { as: b }), 404);
      assertProblem(await api().call('DELETE', `/v1/api-keys/${id}`, { as: b }), 404);
    }
    assert.equal((await allKeys(api(), b)).length, 1);
    assert.equal((await allKeys(api(), a)).length, 2);
    assert.equal((await api().call('GET', '/v1/categories', { as: as(a, aKey.key) })).status, 200);
    assert.equal((await api().call('GET', '/v1/categories', { as: a })).status, 200);
  });
});
