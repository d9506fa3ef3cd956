/**
 * Registry: categories (SPEC §4 "Registry", §3 conventions), on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';

/** Asserts an RFC 9457 answer: status, content-type and {type, title, status, detail}. */
function assertProblem(answer: Answer, status: number): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  const body = answer.body;
  assert.equal(typeof body, 'object', `problem body is JSON: ${String(body)}`);
  assert.equal(typeof body.type, 'string');
  assert.ok(body.type.length > 0);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(body.status, status);
  assert.equal(typeof body.detail, 'string');
  assert.ok(body.detail.length > 0);
  if (body.errors !== undefined) assertFieldProblems(body.errors);
}

function assertFieldProblems(errors: unknown): void {
  assert.ok(Array.isArray(errors) && errors.length > 0, `errors is a non-empty list: ${JSON.stringify(errors)}`);
  for (const e of errors as { path: unknown; message: unknown }[]) {
    assert.equal(typeof e.path, 'string', JSON.stringify(e));
    assert.equal(typeof e.message, 'string', JSON.stringify(e));
    assert.ok((e.message as string).length > 0);
  }
}

/** A 400 validation answer with errors[], one of whose paths starts with `pathPrefix` (if given). */
function assertInvalid(answer: Answer, pathPrefix?: string): void {
  assertProblem(answer, 400);
  assertFieldProblems(answer.body.errors);
  if (pathPrefix !== undefined) {
    const paths = (answer.body.errors as { path: string }[]).map((e) => e.path);
    assert.ok(
      paths.some((p) => p.startsWith(pathPrefix)),
      `an error path starts with ${pathPrefix}: ${JSON.stringify(answer.body.errors)}`,
    );
  }
}

const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describeApi('registry: categories', (api: () => TestApi) => {
  const create = (as: Caller, body: unknown) => api().call('POST', '/v1/categories', { as, body });
  const list = async (as: Caller, query = '') => {
    const answer = await api().call('GET', `/v1/categories${query}`, { as });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body;
  };
  const names = async (as: Caller) => ((await list(as, '?limit=250')).data as { name: string }[]).map((c) => c.name);

  test('POST creates a category; GET one and GET list show it', async () => {
    const admin = await api().environment();
    const created = await create(admin, {
      name: 'customer',
      description: 'Customer lifecycle',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(String(created.headers['content-type']), /^application\/json/);
    assert.equal(created.body.name, 'customer');
    assert.equal(created.body.description, 'Customer lifecycle');
    assert.match(created.body.createdAt, isoTime);
    assert.match(created.body.updatedAt, isoTime);

    const one = await api().call('GET', '/v1/categories/customer', {
      as: admin,
    });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.deepEqual(one.body, created.body);

    const all = await list(admin);
    assert.deepEqual(all, {
      data: [created.body],
      meta: { nextCursor: null, hasNextPage: false },
    });
  });

  test('description is optional (null when absent) and may be null', async () => {
    const admin = await api().environment();
    const bare = await create(admin, { name: 'transactional' });
    assert.equal(bare.status, 201, JSON.stringify(bare.body));
    assert.equal(bare.body.description, null);
    const explicit = await create(admin, {
      name: 'marketing',
      description: null,
    });
    assert.equal(explicit.status, 201, JSON.stringify(explicit.body));
    assert.equal(explicit.body.description, null);
  });

  test('names may use every allowed character, up to 128 of them, and are addressable in the path', async () => {
    const admin = await api().environment();
    const longest = `A${'b'.repeat(127)}`;
    for (const name of ['entity:employees', 'sent-email', 'a.b_c-d:e', '0', 'Z9', longest]) {
      const created = await create(admin, { name });
      assert.equal(created.status, 201, `${name}: ${JSON.stringify(created.body)}`);
      const one = await api().call('GET', `/v1/categories/${encodeURIComponent(name)}`, { as: admin });
      assert.equal(one.status, 200, `${name}: ${JSON.stringify(one.body)}`);
      assert.equal(one.body.name, name);
    }
    assert.equal((await names(admin)).length, 6);
  });

  test('description of exactly 1024 characters is accepted', async () => {
    const admin = await api().environment();
    const created = await create(admin, {
      name: 'long',
      description: 'd'.repeat(1024),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.description.length, 1024);
  });

  test('names are case-sensitive and list sorted by name', async () => {
    const admin = await api().environment();
    for (const name of ['beta', 'Alpha', 'alpha', 'gamma', '1st']) {
      assert.equal((await create(admin, { name })).status, 201);
    }
    const listed = await names(admin);
    assert.deepEqual(listed, ['1st', 'Alpha', 'alpha', 'beta', 'gamma']);
  });

  test('pagination: limit, cursor, meta.nextCursor and hasNextPage over 5 items with limit 2', async () => {
    const admin = await api().environment();
    const all = ['c1', 'c2', 'c3', 'c4', 'c5'];
    for (const name of [...all].reverse()) assert.equal((await create(admin, { name })).status, 201);

    const seen: string[] = [];
    const pages: {
      data: { name: string }[];
      meta: { nextCursor: string | null; hasNextPage: boolean };
    }[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await list(admin, query);
      pages.push(page);
      seen.push(...page.data.map((c: { name: string }) => c.name));
      cursor = page.meta.nextCursor;
      assert.ok(pages.length <= 5, 'pagination terminates');
    } while (cursor !== null);

    assert.deepEqual(seen, all);
    assert.deepEqual(
      pages.map((p) => p.data.length),
      [2, 2, 1],
    );
    assert.deepEqual(
      pages.map((p) => p.meta.hasNextPage),
      [true, true, false],
    );
    for (const p of pages.slice(0, 2)) assert.equal(typeof p.meta.nextCursor, 'string');
    assert.equal(pages[2]?.meta.nextCursor, null);

    // Exactly one full page: no next page.
    const exact = await list(admin, '?limit=5');
    assert.equal(exact.data.length, 5);
    assert.deepEqual(exact.meta, { nextCursor: null, hasNextPage: false });

    // The default limit (50) returns everything here; 250 is the maximum.
    assert.equal((await list(admin)).data.length, 5);
    assert.equal((await list(admin, '?limit=250')).data.length, 5);
    assert.equal((await list(admin, '?limit=1')).data.length, 1);
  });

  test('pagination: a cursor keeps working after the item it points at is deleted', async () => {
    const admin = await api().environment();
    for (const name of ['p1', 'p2', 'p3', 'p4']) assert.equal((await create(admin, { name })).status, 201);
    const first = await list(admin, '?limit=2');
    assert.deepEqual(
      first.data.map((c: { name: string }) => c.name),
      ['p1', 'p2'],
    );
    assert.equal((await api().call('DELETE', '/v1/categories/p2', { as: admin })).status, 204);
    const second = await list(admin, `?limit=2&cursor=${encodeURIComponent(first.meta.nextCursor)}`);
    assert.deepEqual(
      second.data.map((c: { name: string }) => c.name),
      ['p3', 'p4'],
    );
    assert.deepEqual(second.meta, { nextCursor: null, hasNextPage: false });
  });

  test('pagination: bad limit or cursor is a 400', async () => {
    const admin = await api().environment();
    await create(admin, { name: 'only' });
    for (const query of ['?limit=0', '?limit=251', '?limit=-1', '?limit=abc', '?limit=1.5']) {
      const answer = await api().call('GET', `/v1/categories${query}`, {
        as: admin,
      });
      assertInvalid(answer);
    }
    const bogusCursors = [
      'not-a-cursor',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('[1]').toString('base64url'), // a number where a name is expected
      Buffer.from('[]').toString('base64url'),
    ];
    for (const cursor of bogusCursors) {
      const answer = await api().call('GET', `/v1/categories?cursor=${cursor}`, { as: admin });
      assertInvalid(answer, 'querystring:/cursor');
    }
    const unknownParam = await api().call('GET', '/v1/categories?sort=name', {
      as: admin,
    });
    assertInvalid(unknownParam);
  });

  test('409 on a duplicate name; the original stays as it was', async () => {
    const admin = await api().environment();
    const first = await create(admin, {
      name: 'customer',
      description: 'first',
    });
    assert.equal(first.status, 201);
    const again = await create(admin, {
      name: 'customer',
      description: 'second',
    });
    assertProblem(again, 409);
    const one = await api().call('GET', '/v1/categories/customer', {
      as: admin,
    });
    assert.deepEqual(one.body, first.body);
    assert.deepEqual(await names(admin), ['customer']);
  });

  test('the same name may exist in two environments', async () => {
    const a = await api().environment('a');
    const b = await api().environment('b');
    assert.equal((await create(a, { name: 'shared', description: 'in a' })).status, 201);
    assert.equal((await create(b, { name: 'shared', description: 'in b' })).status, 201);
    assert.equal((await api().call('GET', '/v1/categories/shared', { as: a })).body.description, 'in a');
    assert.equal((await api().call('GET', '/v1/categories/shared', { as: b })).body.description, 'in b');
  });

  test('PATCH changes the description and updatedAt; null clears it', async () => {
    const admin = await api().environment();
    const created = await create(admin, {
      name: 'customer',
      description: 'old',
    });
    api().clock.advance(60_000);
    const patched = await api().call('PATCH', '/v1/categories/customer', {
      as: admin,
      body: { description: 'new' },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.name, 'customer');
    assert.equal(patched.body.description, 'new');
    assert.equal(patched.body.createdAt, created.body.createdAt);
    assert.equal(Date.parse(patched.body.updatedAt) - Date.parse(created.body.updatedAt), 60_000);
    assert.deepEqual((await api().call('GET', '/v1/categories/customer', { as: admin })).body, patched.body);

    const emptyPatch = await api().call('PATCH', '/v1/categories/customer', {
      as: admin,
      body: {},
    });
    assert.equal(emptyPatch.status, 200, JSON.stringify(emptyPatch.body));
    assert.equal(emptyPatch.body.description, 'new');

    const cleared = await api().call('PATCH', '/v1/categories/customer', {
      as: admin,
      body: { description: null },
    });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.equal(cleared.body.description, null);
    assert.equal((await api().call('GET', '/v1/categories/customer', { as: admin })).body.description, null);
  });

  test('PATCH refuses bad bodies with 400 and changes nothing', async () => {
    const admin = await api().environment();
    await create(admin, { name: 'customer', description: 'kept' });
    const before = (await api().call('GET', '/v1/categories/customer', { as: admin })).body;
    const bad: [string, unknown][] = [
      ['/description', { description: 'x'.repeat(1025) }],
      ['/description', { description: 42 }],
      ['/name', { name: 'renamed' }],
      ['/extra', { description: 'ok', extra: true }],
      ['/', ['description']],
      ['/', 'description'],
    ];
    for (const [path, body] of bad) {
      const answer = await api().call('PATCH', '/v1/categories/customer', {
        as: admin,
        body,
      });
      assertInvalid(answer, path);
    }
    const notJson = await api().call('PATCH', '/v1/categories/customer', {
      as: admin,
      payload: '{"description":',
      headers: { 'content-type': 'application/json' },
    });
    assertProblem(notJson, 400);
    const text = await api().call('PATCH', '/v1/categories/customer', {
      as: admin,
      payload: 'description=x',
      headers: { 'content-type': 'text/plain' },
    });
    assertProblem(text, 415);
    assert.deepEqual((await api().call('GET', '/v1/categories/customer', { as: admin })).body, before);
    assert.deepEqual(await names(admin), ['customer']);
  });

  test('DELETE removes a category (204), then it is gone', async () => {
    const admin = await api().environment();
    await create(admin, { name: 'keep' });
    await create(admin, { name: 'gone' });
    const deleted = await api().call('DELETE', '/v1/categories/gone', {
      as: admin,
    });
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    assert.equal(deleted.body, '');
    assertProblem(await api().call('GET', '/v1/categories/gone', { as: admin }), 404);
    assert.deepEqual(await names(admin), ['keep']);
    assertProblem(await api().call('DELETE', '/v1/categories/gone', { as: admin }), 404);
    // The name is free again.
    assert.equal((await create(admin, { name: 'gone' })).status, 201);
  });

  test('DELETE is refused with 409 while an event type uses the category, and works after', async () => {
    const admin = await api().environment();
    await create(admin, { name: 'customer' });
    await create(admin, { name: 'other' });
    const type = await api().call('POST', '/v1/event-types', {
      as: admin,
      body: { name: 'customer.created', category: 'customer' },
    });
    assert.equal(type.status, 201, JSON.stringify(type.body));

    assertProblem(await api().call('DELETE', '/v1/categories/customer', { as: admin }), 409);
    assert.equal((await api().call('GET', '/v1/categories/customer', { as: admin })).status, 200);
    assert.deepEqual(await names(admin), ['customer', 'other']);

    // An archived type still belongs to its category (it can be restored): still refused.
    assert.equal(
      (
        await api().call('DELETE', '/v1/event-types/customer.created', {
          as: admin,
        })
      ).status,
      204,
    );
    assertProblem(await api().call('DELETE', '/v1/categories/customer', { as: admin }), 409);

    // Moving the type to another category frees it.
    const moved = await api().call('PATCH', '/v1/event-types/customer.created', {
      as: admin,
      body: { category: 'other' },
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal((await api().call('DELETE', '/v1/categories/customer', { as: admin })).status, 204);
    assertProblem(await api().call('DELETE', '/v1/categories/other', { as: admin }), 409);

    // Clearing the category frees the other one too.
    const cleared = await api().call('PATCH', '/v1/event-types/customer.created', {
      as: admin,
      body: { category: null },
    });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.equal((await api().call('DELETE', '/v1/categories/other', { as: admin })).status, 204);
    assert.deepEqual(await names(admin), []);
  });

  test('a category used only in another environment can be deleted', async () => {
    const a = await api().environment('a');
    const b = await api().environment('b');
    await create(a, { name: 'customer' });
    await create(b, { name: 'customer' });
    const type = await api().call('POST', '/v1/event-types', {
      as: b,
      body: { name: 'x', category: 'customer' },
    });
    assert.equal(type.status, 201, JSON.stringify(type.body));
    assert.equal((await api().call('DELETE', '/v1/categories/customer', { as: a })).status, 204);
    assertProblem(await api().call('DELETE', '/v1/categories/customer', { as: b }), 409);
  });

  test('names in the path that no category can have are a 400 problem, however long or malformed', async () => {
    const admin = await api().environment();
    await create(admin, { name: 'customer' });
    const bad = [
      'has%20space',
      `a${'b'.repeat(128)}`, // 129 characters
      'x'.repeat(300), // longer than the router's parameter limit
      '%E0%A4%A', // broken percent-encoding
    ];
    for (const segment of bad) {
      for (const method of ['GET', 'PATCH', 'DELETE']) {
        const answer = await api().call(method, `/v1/categories/${segment}`, {
          as: admin,
          ...(method === 'PATCH' ? { body: { description: 'x' } } : {}),
        });
        assertProblem(answer, 400);
      }
    }
    assert.deepEqual(await names(admin), ['customer']);
    assert.equal((await api().call('GET', '/v1/categories/customer', { as: admin })).body.description, null);
  });

  test('404 for unknown names', async () => {
    const admin = await api().environment();
    assertProblem(await api().call('GET', '/v1/categories/nope', { as: admin }), 404);
    assertProblem(
      await api().call('PATCH', '/v1/categories/nope', {
        as: admin,
        body: { description: 'x' },
      }),
      404,
    );
    assertProblem(await api().call('DELETE', '/v1/categories/nope', { as: admin }), 404);
    assert.deepEqual(await names(admin), []);
  });

  test("404 for another environment's category; nothing leaks or changes across environments", async () => {
    const mine = await api().environment('mine');
    const theirs = await api().environment('theirs');
    const created = await create(theirs, {
      name: 'secret',
      description: 'theirs',
    });
    assert.equal(created.status, 201);

    assertProblem(await api().call('GET', '/v1/categories/secret', { as: mine }), 404);
    assertProblem(
      await api().call('PATCH', '/v1/categories/secret', {
        as: mine,
        body: { description: 'x' },
      }),
      404,
    );
    assertProblem(await api().call('DELETE', '/v1/categories/secret', { as: mine }), 404);
    assert.deepEqual(await names(mine), []);

    const publisher = await api().key(mine, 'publisher');
    assertProblem(await api().call('GET', '/v1/categories/secret', { as: publisher }), 404);

    // A key of one environment cannot act in another by naming it.
    const forged = await api().call('GET', '/v1/categories/secret', {
      as: { environmentId: theirs.environmentId, key: mine.key },
    });
    assertProblem(forged, 401);

    assert.deepEqual((await api().call('GET', '/v1/categories/secret', { as: theirs })).body, created.body);
  });

  test('bad POST bodies are each answered 400 and nothing is created', async () => {
    const admin = await api().environment();
    await create(admin, { name: 'existing' });
    const before = await list(admin);

    const bad: [string, string, unknown][] = [
      ['missing name', '/name', { description: 'no name' }],
      ['name is a number', '/name', { name: 42 }],
      ['name is null', '/name', { name: null }],
      ['name is an array', '/name', { name: ['a'] }],
      ['name is an object', '/name', { name: { a: 1 } }],
      ['name is empty', '/name', { name: '' }],
      ['name starts with a dot', '/name', { name: '.customer' }],
      ['name starts with a dash', '/name', { name: '-customer' }],
      ['name starts with an underscore', '/name', { name: '_customer' }],
      ['name has a space', '/name', { name: 'has space' }],
      ['name has a slash', '/name', { name: 'a/b' }],
      ['name has a non-ASCII letter', '/name', { name: 'café' }],
      ['name has a trailing newline', '/name', { name: 'customer\n' }],
      ['name is 129 characters', '/name', { name: `a${'b'.repeat(128)}` }],
      ['description is 1025 characters', '/description', { name: 'ok', description: 'd'.repeat(1025) }],
      ['description is a number', '/description', { name: 'ok', description: 5 }],
      ['unknown extra field', '/color', { name: 'ok', color: 'red' }],
      ['body is an array', '/', [{ name: 'ok' }]],
      ['body is a string', '/', 'ok'],
      ['body is null', '/', null],
    ];
    for (const [label, path, body] of bad) {
      const answer = await create(admin, body);
      assert.equal(answer.status, 400, `${label}: ${answer.status} ${JSON.stringify(answer.body)}`);
      assertInvalid(answer, path);
      assert.deepEqual(await list(admin), before, `${label}: nothing changed`);
    }
  });

  test('invalid JSON, an empty body and a non-JSON content-type are refused and change nothing', async () => {
    const admin = await api().environment();
    const before = await list(admin);
    const post = (payload: string, contentType?: string) =>
      api().call('POST', '/v1/categories', {
        as: admin,
        payload,
        headers: contentType ? { 'content-type': contentType } : {},
      });

    const refused: [string, string | undefined, number][] = [
      ['{"name": "broken"', 'application/json', 400],
      ["{name: 'unquoted'}", 'application/json', 400],
      ['{"name":"a"} trailing', 'application/json', 400],
      ['', 'application/json', 400],
      ['{"name":"proto","__proto__":{"x":1}}', 'application/json', 400],
      ['{"name":"as-text"}', 'text/plain', 415],
      ['name=form', 'application/x-www-form-urlencoded', 415],
      ['<name>xml</name>', 'application/xml', 415],
      ['{"name":"none"}', undefined, 415],
    ];
    for (const [payload, contentType, status] of refused) {
      assertProblem(await post(payload, contentType), status);
      assert.deepEqual(await list(admin), before, `${payload} as ${contentType}: nothing changed`);
    }

    // JSON with a charset parameter is still JSON.
    const withCharset = await post('{"name":"charset"}', 'application/json; charset=utf-8');
    assert.equal(withCharset.status, 201, JSON.stringify(withCharset.body));
    assert.deepEqual(
      (await list(admin)).data.map((c: { name: string }) => c.name),
      [...before.data.map((c: { name: string }) => c.name), 'charset'],
    );
  });

  test('publisher and subscriber keys may read but get 403 on POST, PATCH and DELETE', async () => {
    const admin = await api().environment();
    const created = await create(admin, { name: 'customer', description: 'd' });
    assert.equal(created.status, 201);
    for (const role of ['publisher', 'subscriber'] as const) {
      const key = await api().key(admin, role);
      const listed = await api().call('GET', '/v1/categories', { as: key });
      assert.equal(listed.status, 200, `${role}: ${JSON.stringify(listed.body)}`);
      assert.deepEqual(listed.body.data, [created.body]);
      const one = await api().call('GET', '/v1/categories/customer', {
        as: key,
      });
      assert.equal(one.status, 200, `${role}: ${JSON.stringify(one.body)}`);
      assert.deepEqual(one.body, created.body);

      assertProblem(
        await api().call('POST', '/v1/categories', {
          as: key,
          body: { name: `by-${role}` },
        }),
        403,
      );
      assertProblem(
        await api().call('PATCH', '/v1/categories/customer', {
          as: key,
          body: { description: role },
        }),
        403,
      );
      assertProblem(await api().call('DELETE', '/v1/categories/customer', { as: key }), 403);
      // Even an invalid body from a key without the role is a 403, not a 400.
      assertProblem(
        await api().call('POST', '/v1/categories', {
          as: key,
          body: { name: 42 },
        }),
        403,
      );
    }
    assert.deepEqual((await list(admin)).data, [created.body], 'nothing changed');
  });

  test('missing or unknown credentials get 401', async () => {
    const admin = await api().environment();
    await create(admin, { name: 'customer' });
    assertProblem(await api().call('GET', '/v1/categories'), 401);
    assertProblem(await api().call('POST', '/v1/categories', { body: { name: 'anon' } }), 401);
    assertProblem(
      await api().call('GET', '/v1/categories', {
        as: { environmentId: admin.environmentId, key: 'hk_wrong' },
      }),
      401,
    );
    assertProblem(
      await api().call('DELETE', '/v1/categories/customer', {
        as: { environmentId: 'env_nope', key: admin.key },
      }),
      401,
    );
    // Bearer works in place of x-auth-token.
    const bearer = await api().call('GET', '/v1/categories', {
      headers: {
        'x-environment-id': admin.environmentId,
        authorization: `Bearer ${admin.key}`,
      },
    });
    assert.equal(bearer.status, 200, JSON.stringify(bearer.body));
    assert.deepEqual(await names(admin), ['customer']);
  });
});
