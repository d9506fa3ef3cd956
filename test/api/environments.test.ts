/**
 * Operator API (SPEC §4 "Operator"): environments are managed with the root token only.
 * Every test makes its own environments; the database is shared by the whole file, so lists are
 * checked for what a test made, never for their exact content.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, ROOT_TOKEN, type TestApi, describeApi } from '../../src/testing/test-app.ts';

const root = { authorization: `Bearer ${ROOT_TOKEN}` };
const MISSING_ENV = 'env_00000000000000000000000000';

function assertProblem(answer: Answer, status: number): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  assert.equal(typeof answer.body.type, 'string');
  assert.equal(typeof answer.body.title, 'string');
  assert.equal(answer.body.status, status);
  assert.equal(typeof answer.body.detail, 'string');
}

interface EnvJson {
  id: string;
  name: string;
  monthlyEventQuota: number | null;
}

async function createEnv(api: TestApi, body: unknown): Promise<EnvJson & { apiKey: string }> {
  const answer = await api.call('POST', '/v1/environments', {
    headers: root,
    body,
  });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body;
}

/** Every environment, walking all pages. */
async function allEnvironments(api: TestApi): Promise<EnvJson[]> {
  const all: EnvJson[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/v1/environments?limit=250${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await api.call('GET', url, { headers: root });
    assert.equal(page.status, 200, JSON.stringify(page.body));
    all.push(...page.body.data);
    cursor = page.body.meta.nextCursor;
  } while (cursor);
  return all;
}

const callerOf = (env: { id: string; apiKey: string }): Caller => ({
  environmentId: env.id,
  key: env.apiKey,
});

describeApi('operator: environments', (api) => {
  test('POST creates an environment with a working admin key, shown once', async () => {
    const created = await api().call('POST', '/v1/environments', {
      headers: root,
      body: { name: 'acme', monthlyEventQuota: 1000 },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.id, /^env_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(created.body.name, 'acme');
    assert.equal(created.body.monthlyEventQuota, 1000);
    assert.equal(typeof created.body.apiKey, 'string');
    assert.ok(created.body.apiKey.length > 20);

    const as = callerOf(created.body);
    const categories = await api().call('GET', '/v1/categories', { as });
    assert.equal(categories.status, 200, JSON.stringify(categories.body));
    assert.deepEqual(categories.body.data, []);

    // It is an admin key: it may create keys, and it is listed (without its secret).
    const keys = await api().call('GET', '/v1/api-keys', { as });
    assert.equal(keys.status, 200);
    assert.equal(keys.body.data.length, 1);
    assert.equal(keys.body.data[0].role, 'admin');
    assert.ok(!JSON.stringify(keys.body).includes(created.body.apiKey));

    // Shown once: reading the environment never gives the key again.
    const again = await api().call('GET', `/v1/environments/${created.body.id}`, { headers: root });
    assert.equal(again.status, 200);
    assert.equal(again.body.apiKey, undefined);
    assert.ok(!JSON.stringify(again.body).includes(created.body.apiKey));
  });

  test('quota is optional (default: unlimited here) and 0 is allowed', async () => {
    const unlimited = await createEnv(api(), { name: 'no-quota' });
    assert.equal(unlimited.monthlyEventQuota, null);
    const explicitNull = await createEnv(api(), {
      name: 'null-quota',
      monthlyEventQuota: null,
    });
    assert.equal(explicitNull.monthlyEventQuota, null);
    const zero = await createEnv(api(), {
      name: 'zero-quota',
      monthlyEventQuota: 0,
    });
    assert.equal(zero.monthlyEventQuota, 0);
    const name128 = 'n'.repeat(128);
    const long = await createEnv(api(), { name: name128 });
    assert.equal(long.name, name128);
  });

  test('each environment gets its own key; keys do not cross environments', async () => {
    const a = await createEnv(api(), { name: 'a' });
    const b = await createEnv(api(), { name: 'b' });
    assert.notEqual(a.id, b.id);
    assert.notEqual(a.apiKey, b.apiKey);
    const crossed = await api().call('GET', '/v1/categories', {
      as: { environmentId: b.id, key: a.apiKey },
    });
    assertProblem(crossed, 401);
  });

  test('GET one answers the environment', async () => {
    const created = await createEnv(api(), {
      name: 'get-me',
      monthlyEventQuota: 7,
    });
    const got = await api().call('GET', `/v1/environments/${created.id}`, {
      headers: root,
    });
    assert.equal(got.status, 200);
    assert.equal(got.body.id, created.id);
    assert.equal(got.body.name, 'get-me');
    assert.equal(got.body.monthlyEventQuota, 7);
    assert.equal(typeof got.body.createdAt, 'string');
    assert.equal(typeof got.body.updatedAt, 'string');
  });

  test('GET list is paginated with limit and cursor', async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await createEnv(api(), { name: `page-${i}` })).id);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    for (;;) {
      const url: string = `/v1/environments?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await api().call('GET', url, { headers: root });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.data.length <= 2);
      assert.equal(typeof page.body.meta.hasNextPage, 'boolean');
      assert.equal(page.body.meta.hasNextPage, page.body.meta.nextCursor !== null);
      seen.push(...page.body.data.map((e: EnvJson) => e.id));
      pages++;
      if (!page.body.meta.hasNextPage) break;
      assert.equal(page.body.data.length, 2);
      cursor = page.body.meta.nextCursor;
      assert.ok(pages < 1000);
    }
    assert.ok(pages >= 3);
    assert.equal(new Set(seen).size, seen.length, 'no environment twice');
    for (const id of made) assert.ok(seen.includes(id), `${id} listed`);
    assert.deepEqual(seen, [...seen].sort(), 'a stable order');

    const all = await allEnvironments(api());
    assert.deepEqual(
      all.map((e) => e.id),
      seen,
    );
    const defaultPage = await api().call('GET', '/v1/environments', {
      headers: root,
    });
    assert.equal(defaultPage.status, 200);
    assert.equal(defaultPage.body.data.length, Math.min(50, all.length));
  });

  test('list rejects a bad limit or cursor with 400', async () => {
    for (const query of [
      'limit=0',
      'limit=251',
      'limit=abc',
      'limit=1.5',
      'cursor=not-a-cursor',
      'cursor=',
      'other=1',
    ]) {
      const answer = await api().call('GET', `/v1/environments?${query}`, {
        headers: root,
      });
      assertProblem(answer, 400);
    }
  });

  test('PATCH renames, changes the quota and clears it with null', async () => {
    const created = await createEnv(api(), {
      name: 'before',
      monthlyEventQuota: 10,
    });
    const url = `/v1/environments/${created.id}`;

    const renamed = await api().call('PATCH', url, {
      headers: root,
      body: { name: 'after' },
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.name, 'after');
    assert.equal(renamed.body.monthlyEventQuota, 10, 'quota untouched when not sent');

    const quota = await api().call('PATCH', url, {
      headers: root,
      body: { monthlyEventQuota: 500 },
    });
    assert.equal(quota.status, 200);
    assert.equal(quota.body.name, 'after', 'name untouched when not sent');
    assert.equal(quota.body.monthlyEventQuota, 500);

    const cleared = await api().call('PATCH', url, {
      headers: root,
      body: { monthlyEventQuota: null },
    });
    assert.equal(cleared.status, 200);
    assert.equal(cleared.body.monthlyEventQuota, null);

    const both = await api().call('PATCH', url, {
      headers: root,
      body: { name: 'both', monthlyEventQuota: 0 },
    });
    assert.equal(both.status, 200);
    assert.deepEqual([both.body.name, both.body.monthlyEventQuota], ['both', 0]);

    const empty = await api().call('PATCH', url, { headers: root, body: {} });
    assert.equal(empty.status, 200);
    assert.deepEqual([empty.body.name, empty.body.monthlyEventQuota], ['both', 0]);

    const got = await api().call('GET', url, { headers: root });
    assert.deepEqual([got.body.name, got.body.monthlyEventQuota], ['both', 0]);

    // The admin key still works after the changes.
    const categories = await api().call('GET', '/v1/categories', {
      as: callerOf(created),
    });
    assert.equal(categories.status, 200);
  });

  test('DELETE removes the environment and its keys; others are untouched', async () => {
    const doomed = await createEnv(api(), { name: 'doomed' });
    const kept = await createEnv(api(), { name: 'kept', monthlyEventQuota: 3 });
    const doomedAdmin = callerOf(doomed);
    const keptAdmin = callerOf(kept);
    const doomedPublisher = await api().key(doomedAdmin, 'publisher');
    for (const as of [doomedAdmin, keptAdmin]) {
      const made = await api().call('POST', '/v1/categories', {
        as,
        body: { name: 'customer' },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    // The doomed environment also gets an event type, an app and a topic of the same names as the kept one's.
    const appIds: string[] = [];
    for (const as of [doomedAdmin, keptAdmin]) {
      const type = await api().call('POST', '/v1/event-types', { as, body: { name: 'customer.created' } });
      assert.equal(type.status, 201, JSON.stringify(type.body));
      const app = await api().call('POST', '/v1/apps', { as, body: { name: 'shop', permissions: ['p'] } });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      appIds.push(app.body.id);
      const topic = await api().call('POST', '/v1/topics', {
        as,
        body: { name: 'orders', eventTypes: ['customer.created'], appId: app.body.id },
      });
      assert.equal(topic.status, 201, JSON.stringify(topic.body));
    }

    const deleted = await api().call('DELETE', `/v1/environments/${doomed.id}`, { headers: root });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, '');

    for (const as of [doomedAdmin, doomedPublisher]) {
      assertProblem(await api().call('GET', '/v1/categories', { as }), 401);
      // Bearer as well as x-auth-token.
      const bearer = await api().call('GET', '/v1/categories', {
        headers: {
          'x-environment-id': as.environmentId,
          authorization: `Bearer ${as.key}`,
        },
      });
      assertProblem(bearer, 401);
    }
    assertProblem(
      await api().call('GET', `/v1/environments/${doomed.id}`, {
        headers: root,
      }),
      404,
    );
    assertProblem(
      await api().call('DELETE', `/v1/environments/${doomed.id}`, {
        headers: root,
      }),
      404,
    );
    assertProblem(
      await api().call('PATCH', `/v1/environments/${doomed.id}`, {
        headers: root,
        body: { name: 'x' },
      }),
      404,
    );
    const all = await allEnvironments(api());
    assert.ok(!all.some((e) => e.id === doomed.id), 'not listed');

    // The other environment: still there, its key works, its data is intact.
    const stillThere = await api().call('GET', `/v1/environments/${kept.id}`, {
      headers: root,
    });
    assert.equal(stillThere.status, 200);
    assert.deepEqual([stillThere.body.name, stillThere.body.monthlyEventQuota], ['kept', 3]);
    const categories = await api().call('GET', '/v1/categories', {
      as: keptAdmin,
    });
    assert.equal(categories.status, 200);
    assert.deepEqual(
      categories.body.data.map((c: { name: string }) => c.name),
      ['customer'],
    );

    // A store-level check: nothing of the deleted environment is left behind.
    const store = api().deps.store;
    assert.equal(await store.getEnvironment(doomed.id), null);
    assert.equal((await store.listApiKeys(doomed.id, { limit: 10, after: null })).data.length, 0);
    assert.equal((await store.listCategories(doomed.id, { limit: 10, after: null })).data.length, 0);
    assert.equal(await store.getEventType(doomed.id, 'customer.created'), null);
    assert.equal(await store.getApp(doomed.id, appIds[0] as string), null);
    assert.equal(await store.getTopic(doomed.id, 'orders'), null);
    assert.equal((await store.topicsContaining(doomed.id, ['customer.created'])).get('customer.created')?.length, 0);

    // The kept environment's registry of the same names is whole.
    const keptTopic = await api().call('GET', '/v1/topics/orders', { as: keptAdmin });
    assert.equal(keptTopic.status, 200);
    assert.deepEqual([keptTopic.body.eventTypes, keptTopic.body.appId], [['customer.created'], appIds[1]]);
    assert.equal((await api().call('GET', `/v1/apps/${appIds[1]}`, { as: keptAdmin })).status, 200);
    assert.equal((await api().call('GET', '/v1/event-types/customer.created', { as: keptAdmin })).status, 200);
  });

  test('without the root token every operator call is 401 and changes nothing', async () => {
    const existing = await createEnv(api(), {
      name: 'guarded',
      monthlyEventQuota: 1,
    });
    const envAdmin = callerOf(existing);
    const otherPublisher = await api().key(envAdmin, 'publisher');
    const badAuth: {
      label: string;
      headers: Record<string, string>;
      as?: Caller;
    }[] = [
      { label: 'no credentials', headers: {} },
      {
        label: 'wrong root token',
        headers: { authorization: `Bearer ${ROOT_TOKEN}x` },
      },
      {
        label: 'root token prefix',
        headers: { authorization: `Bearer ${ROOT_TOKEN.slice(0, -1)}` },
      },
      { label: 'empty bearer', headers: { authorization: 'Bearer ' } },
      {
        label: 'basic scheme',
        headers: {
          authorization: `Basic ${Buffer.from(`x:${ROOT_TOKEN}`).toString('base64')}`,
        },
      },
      {
        label: 'root token without scheme',
        headers: { authorization: ROOT_TOKEN },
      },
      {
        label: 'root token as x-auth-token',
        headers: { 'x-auth-token': ROOT_TOKEN },
      },
      {
        label: 'env admin key as bearer',
        headers: { authorization: `Bearer ${existing.apiKey}` },
      },
      {
        label: 'env admin key as bearer with its environment',
        headers: {
          authorization: `Bearer ${existing.apiKey}`,
          'x-environment-id': existing.id,
        },
      },
      { label: 'env admin key as x-auth-token', headers: {}, as: envAdmin },
      { label: 'env publisher key', headers: {}, as: otherPublisher },
    ];
    const before = await allEnvironments(api());

    for (const { label, headers, as } of badAuth) {
      const options = { headers, ...(as ? { as } : {}) };
      const calls: [string, string, unknown][] = [
        ['POST', '/v1/environments', { name: 'intruder' }],
        ['GET', '/v1/environments', undefined],
        ['GET', `/v1/environments/${existing.id}`, undefined],
        ['PATCH', `/v1/environments/${existing.id}`, { name: 'hijacked', monthlyEventQuota: null }],
        ['DELETE', `/v1/environments/${existing.id}`, undefined],
        ['GET', `/v1/environments/${MISSING_ENV}`, undefined],
      ];
      for (const [method, url, body] of calls) {
        const answer = await api().call(method, url, {
          ...options,
          ...(body !== undefined ? { body } : {}),
        });
        assert.equal(answer.status, 401, `${label}: ${method} ${url} → ${answer.status}`);
        assertProblem(answer, 401);
      }
    }

    const after = await allEnvironments(api());
    assert.deepEqual(after, before, 'nothing created, changed or deleted');
    const got = await api().call('GET', `/v1/environments/${existing.id}`, {
      headers: root,
    });
    assert.deepEqual([got.body.name, got.body.monthlyEventQuota], ['guarded', 1]);
    assert.equal((await api().call('GET', '/v1/categories', { as: envAdmin })).status, 200);
  });

  test('POST with bad input is 400 and creates nothing', async () => {
    const bodies: [string, unknown][] = [
      ['missing name', {}],
      ['missing name with quota', { monthlyEventQuota: 5 }],
      ['empty name', { name: '' }],
      ['name too long', { name: 'n'.repeat(129) }],
      ['name not a string', { name: 42 }],
      ['name null', { name: null }],
      ['name with U+0000', { name: 'a\u0000b' }],
      ['negative quota', { name: 'bad', monthlyEventQuota: -1 }],
      ['fractional quota', { name: 'bad', monthlyEventQuota: 1.5 }],
      ['string quota', { name: 'bad', monthlyEventQuota: '10' }],
      ['boolean quota', { name: 'bad', monthlyEventQuota: true }],
      ['quota beyond exact integers', { name: 'bad', monthlyEventQuota: 1e20 }],
      ['unknown field', { name: 'bad', color: 'red' }],
      ['unknown field apiKey', { name: 'bad', apiKey: 'hk_mine' }],
      ['array body', [{ name: 'bad' }]],
      ['string body', 'bad'],
      ['null body', null],
    ];
    const before = await allEnvironments(api());
    for (const [label, body] of bodies) {
      const answer = await api().call('POST', '/v1/environments', {
        headers: root,
        body,
      });
      assert.equal(answer.status, 400, `${label}: ${answer.status} ${JSON.stringify(answer.body)}`);
      assertProblem(answer, 400);
    }
    // Not JSON at all, and a huge quota written as a literal.
    for (const payload of ['{"name":', '{"name":"bad","monthlyEventQuota":9223372036854775808}']) {
      const answer = await api().call('POST', '/v1/environments', {
        headers: { ...root, 'content-type': 'application/json' },
        payload,
      });
      assertProblem(answer, 400);
    }
    const notJson = await api().call('POST', '/v1/environments', {
      headers: { ...root, 'content-type': 'text/plain' },
      payload: 'name=bad',
    });
    assertProblem(notJson, 415);
    const after = await allEnvironments(api());
    assert.deepEqual(after, before);
  });

  test('the validation problem names the field', async () => {
    const missing = await api().call('POST', '/v1/environments', {
      headers: root,
      body: {},
    });
    assertProblem(missing, 400);
    assert.ok(
      missing.body.errors.some((e: { path: string }) => e.path === '/name'),
      JSON.stringify(missing.body),
    );
    const quota = await api().call('POST', '/v1/environments', {
      headers: root,
      body: { name: 'x', monthlyEventQuota: -3 },
    });
    assertProblem(quota, 400);
    assert.ok(
      quota.body.errors.some((e: { path: string }) => e.path.startsWith('/monthlyEventQuota')),
      JSON.stringify(quota.body),
    );
  });

  test('PATCH with bad input is 400 and changes nothing', async () => {
    const created = await createEnv(api(), {
      name: 'stable',
      monthlyEventQuota: 42,
    });
    const url = `/v1/environments/${created.id}`;
    const before = (await api().call('GET', url, { headers: root })).body;
    const bodies: [string, unknown][] = [
      ['empty name', { name: '' }],
      ['name too long', { name: 'n'.repeat(129) }],
      ['name null', { name: null }],
      ['name number', { name: 1 }],
      ['name with U+0000', { name: 'a\u0000b' }],
      ['negative quota', { monthlyEventQuota: -1 }],
      ['fractional quota', { monthlyEventQuota: 0.5 }],
      ['string quota', { monthlyEventQuota: '100' }],
      ['quota beyond exact integers', { monthlyEventQuota: 1e20 }],
      ['valid name with bad quota', { name: 'changed', monthlyEventQuota: -5 }],
      ['valid quota with unknown field', { monthlyEventQuota: 1, id: 'env_other' }],
      ['unknown field', { apiKey: 'x' }],
      ['array body', []],
    ];
    for (const [label, body] of bodies) {
      const answer = await api().call('PATCH', url, { headers: root, body });
      assert.equal(answer.status, 400, `${label}: ${answer.status} ${JSON.stringify(answer.body)}`);
      assertProblem(answer, 400);
    }
    const noBody = await api().call('PATCH', url, { headers: root });
    assertProblem(noBody, 400);
    const after = (await api().call('GET', url, { headers: root })).body;
    assert.deepEqual(after, before);
  });

  test('an unknown id is 404 on GET, PATCH and DELETE', async () => {
    const other = await createEnv(api(), { name: 'bystander' });
    for (const id of [MISSING_ENV, 'nope', `${other.id}x`, other.id.toLowerCase()]) {
      assertProblem(await api().call('GET', `/v1/environments/${id}`, { headers: root }), 404);
      assertProblem(
        await api().call('PATCH', `/v1/environments/${id}`, {
          headers: root,
          body: { name: 'x' },
        }),
        404,
      );
      assertProblem(await api().call('DELETE', `/v1/environments/${id}`, { headers: root }), 404);
    }
    const got = await api().call('GET', `/v1/environments/${other.id}`, {
      headers: root,
    });
    assert.equal(got.body.name, 'bystander');
  });

  test('an id holding U+0000 is a 4xx, never a 500', async () => {
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      const answer = await api().call(method, '/v1/environments/env_%00x', {
        headers: root,
        ...(method === 'PATCH' ? { body: { name: 'x' } } : {}),
      });
      assert.ok(answer.status === 400 || answer.status === 404, `${method}: ${answer.status}`);
      assertProblem(answer, answer.status);
    }
  });
});
