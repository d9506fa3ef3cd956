/**
 * Registry: event types (SPEC §4 "Registry", §3 conventions), on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';

/** Every environment has the built-in `herald.*` operational types; these tests look past them. */
const withoutBuiltIns = <T extends { name: string }>(items: T[]): T[] => items.filter((t) => !t.name.startsWith('herald.'));

function assertProblem(answer: Answer, status: number): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  const body = answer.body;
  assert.equal(typeof body, 'object', `problem body is JSON: ${String(body)}`);
  assert.equal(typeof body.type, 'string');
  assert.equal(typeof body.title, 'string');
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
  }
}

function errorPaths(answer: Answer): string[] {
  return ((answer.body.errors ?? []) as { path: string }[]).map((e) => e.path);
}

/** A 400 with errors[]; when `pathPrefix` is given, one error's path starts with it. */
function assertInvalid(answer: Answer, pathPrefix?: string): void {
  assertProblem(answer, 400);
  assertFieldProblems(answer.body.errors);
  if (pathPrefix !== undefined) {
    assert.ok(
      errorPaths(answer).some((p) => p.startsWith(pathPrefix)),
      `an error path starts with ${pathPrefix}: ${JSON.stringify(answer.body.errors)}`,
    );
  }
}

const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const ORDER_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    orderId: { type: 'string', format: 'uuid' },
    total: { type: 'number', minimum: 0 },
    placedAt: { type: 'string', format: 'date-time' },
    lines: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          sku: { type: 'string' },
          qty: { type: 'integer', minimum: 1 },
        },
        required: ['sku', 'qty'],
      },
    },
  },
  required: ['orderId', 'total'],
  additionalProperties: false,
};
const ORDER_EXAMPLE = {
  orderId: '3f1c2a9e-8b1d-4c55-9a7e-2d4b6f0e1a23',
  total: 42.5,
  placedAt: '2024-04-30T08:45:00Z',
  lines: [{ sku: 'A-1', qty: 2 }],
};

describeApi('registry: event types', (api: () => TestApi) => {
  const create = (as: Caller, body: unknown) => api().call('POST', '/v1/event-types', { as, body });
  const get = (as: Caller, name: string) => api().call('GET', `/v1/event-types/${encodeURIComponent(name)}`, { as });
  const patch = (as: Caller, name: string, body: unknown) =>
    api().call('PATCH', `/v1/event-types/${encodeURIComponent(name)}`, {
      as,
      body,
    });
  /** The list without the built-in operational types every environment has (SPEC §6). */
  const list = async (as: Caller, query = '') => {
    const answer = await api().call('GET', `/v1/event-types${query}`, { as });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return { ...answer.body, data: withoutBuiltIns(answer.body.data) };
  };
  const names = async (as: Caller, query = '') => {
    const sep = query ? '&' : '?';
    return ((await list(as, `${query}${sep}limit=250`)).data as { name: string }[]).map((t) => t.name);
  };
  /** Everything an admin can see, to compare before/after a refused call. */
  const snapshot = async (as: Caller) => ({
    all: (await list(as, '?includeArchived=true&limit=250')).data,
    categories: (await api().call('GET', '/v1/categories?limit=250', { as })).body.data,
  });
  const category = async (as: Caller, name: string) => {
    const answer = await api().call('POST', '/v1/categories', {
      as,
      body: { name },
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
  };

  test('POST with only a name: defaults, then GET one and GET list show it', async () => {
    const admin = await api().environment();
    const created = await create(admin, { name: 'customer.created' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { createdAt, updatedAt, ...rest } = created.body;
    assert.deepEqual(rest, {
      name: 'customer.created',
      description: null,
      category: null,
      schema: null,
      example: null,
      schemaVersion: 1,
      archived: false,
      archivedAt: null,
    });
    assert.match(createdAt, isoTime);
    assert.equal(updatedAt, createdAt);

    const one = await get(admin, 'customer.created');
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.deepEqual(one.body, created.body);
    const all = await list(admin);
    assert.deepEqual(all, {
      data: [created.body],
      meta: { nextCursor: null, hasNextPage: false },
    });
  });

  test('POST with description, category, schema and example stores them as given', async () => {
    const admin = await api().environment();
    await category(admin, 'orders');
    const body = {
      name: 'order.placed',
      description: 'An order was placed',
      category: 'orders',
      schema: ORDER_SCHEMA,
      example: ORDER_EXAMPLE,
    };
    const created = await create(admin, body);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.description, body.description);
    assert.equal(created.body.category, 'orders');
    assert.deepEqual(created.body.schema, ORDER_SCHEMA);
    assert.deepEqual(created.body.example, ORDER_EXAMPLE);
    assert.equal(created.body.schemaVersion, 1);
    assert.deepEqual((await get(admin, 'order.placed')).body, created.body);
  });

  test('names of every allowed shape work, in the body and in the path', async () => {
    const admin = await api().environment();
    const longest = `E${'v'.repeat(127)}`;
    for (const name of ['customer.created', 'entity:employees:created', 'sent-email', 'snake_case', 'X', longest]) {
      const created = await create(admin, { name });
      assert.equal(created.status, 201, `${name}: ${JSON.stringify(created.body)}`);
      const one = await get(admin, name);
      assert.equal(one.status, 200, `${name}: ${JSON.stringify(one.body)}`);
      assert.equal(one.body.name, name);
    }
  });

  test('an example without a schema is kept; any JSON value may be an example', async () => {
    const admin = await api().environment();
    const examples: [string, unknown][] = [
      ['obj', { a: [1, 'two', null, { b: true }] }],
      ['arr', [1, 2, 3]],
      ['str', 'just text'],
      ['num', 3.25],
      ['bool', false],
    ];
    for (const [name, example] of examples) {
      const created = await create(admin, { name, example });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(created.body.example, example);
      assert.deepEqual((await get(admin, name)).body.example, example);
    }
  });

  test('boolean-valued and minimal schemas that are valid draft 2020-12 are accepted', async () => {
    const admin = await api().environment();
    const schemas: unknown[] = [
      {},
      // An $id that names the meta-schema itself must not disturb later checks.
      { $id: 'https://json-schema.org/draft/2020-12/schema', type: 'object' },
      { type: 'object' },
      {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: ['string', 'null'],
      },
      {
        $schema: 'https://json-schema.org/draft/2020-12/schema#',
        type: 'string',
      },
      {
        $defs: {
          money: {
            type: 'object',
            properties: { amount: { type: 'integer' } },
            required: ['amount'],
          },
        },
        type: 'object',
        properties: { price: { $ref: '#/$defs/money' } },
        prefixItems: [{ type: 'string' }],
        unevaluatedProperties: false,
      },
      {
        type: 'object',
        properties: { tags: { type: 'array', items: true, uniqueItems: true } },
      },
      {
        $id: 'https://example.com/schemas/thing',
        type: 'object',
        'x-custom-keyword': 'ignored',
      },
    ];
    let i = 0;
    for (const schema of schemas) {
      const created = await create(admin, { name: `s${i++}`, schema });
      assert.equal(created.status, 201, `${JSON.stringify(schema)}: ${JSON.stringify(created.body)}`);
      assert.deepEqual(created.body.schema, schema);
    }
    // The same $id in another type (and another environment) does not collide.
    const again = await create(admin, {
      name: 'same-id',
      schema: { $id: 'https://example.com/schemas/thing', type: 'string' },
    });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const other = await api().environment('other');
    const elsewhere = await create(other, {
      name: 's5',
      schema: { $id: 'https://example.com/schemas/thing', type: 'integer' },
      example: 7,
    });
    assert.equal(elsewhere.status, 201, JSON.stringify(elsewhere.body));
  });

  test('an invalid JSON Schema is a 400 whose error path starts with /schema; nothing is stored', async () => {
    const admin = await api().environment();
    await create(admin, { name: 'existing' });
    const before = await snapshot(admin);
    const bad: unknown[] = [
      { type: 'nope' },
      { type: 5 },
      { type: 'object', properties: { a: { type: 'strin' } } },
      { type: 'object', required: 'a' },
      { type: 'object', properties: 5 },
      { minLength: -1 },
      { type: 'string', pattern: '(' },
      { $ref: '#/$defs/missing' },
      { $ref: 'https://example.com/not-loaded.json' },
      { allOf: [] },
      { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' },
      { $schema: 'https://example.com/my-meta-schema', type: 'object' },
      { $schema: 5 },
    ];
    for (const schema of bad) {
      const answer = await create(admin, { name: 'broken', schema });
      assert.equal(answer.status, 400, `${JSON.stringify(schema)}: ${answer.status} ${JSON.stringify(answer.body)}`);
      assertInvalid(answer, '/schema');
    }
    assert.deepEqual(await snapshot(admin), before);
    assertProblem(await get(admin, 'broken'), 404);
  });

  test('a schema that is not an object is a 400 at /schema', async () => {
    const admin = await api().environment();
    const before = await snapshot(admin);
    for (const schema of ['{"type":"object"}', 5, [{ type: 'object' }], true, false]) {
      const answer = await create(admin, { name: 'broken', schema });
      assertInvalid(answer, '/schema');
    }
    assert.deepEqual(await snapshot(admin), before);
  });

  test('an example that fails its schema is a 400 whose error path starts with /example', async () => {
    const admin = await api().environment();
    const before = await snapshot(admin);
    const cases: [unknown, string][] = [
      [{ ...ORDER_EXAMPLE, total: 'lots' }, '/example/total'],
      [{ ...ORDER_EXAMPLE, orderId: 'not-a-uuid' }, '/example/orderId'],
      [{ ...ORDER_EXAMPLE, placedAt: '2024-04-30T08:45:00' }, '/example/placedAt'],
      [{ ...ORDER_EXAMPLE, unexpected: 1 }, '/example'],
      [{ total: 1 }, '/example'],
      [{ ...ORDER_EXAMPLE, lines: [{ sku: 'A', qty: 0 }] }, '/example/lines/0/qty'],
      ['a string', '/example'],
    ];
    for (const [example, path] of cases) {
      const answer = await create(admin, {
        name: 'order.placed',
        schema: ORDER_SCHEMA,
        example,
      });
      assertInvalid(answer, path);
      for (const p of errorPaths(answer)) assert.ok(p.startsWith('/example'), p);
    }
    assert.deepEqual(await snapshot(admin), before);
  });

  test('an unknown category is a 400 at /category; all problems are listed together', async () => {
    const admin = await api().environment();
    const before = await snapshot(admin);
    const unknown = await create(admin, { name: 'x', category: 'nope' });
    assertInvalid(unknown, '/category');

    const many = await create(admin, {
      name: 'x',
      category: 'nope',
      schema: { type: 'integer' },
      example: 'one',
    });
    assertInvalid(many);
    const paths = errorPaths(many);
    assert.ok(paths.includes('/category'), JSON.stringify(paths));
    assert.ok(
      paths.some((p) => p.startsWith('/example')),
      JSON.stringify(paths),
    );

    // A category of another environment does not count.
    const other = await api().environment('other');
    await category(other, 'theirs');
    assertInvalid(await create(admin, { name: 'x', category: 'theirs' }), '/category');
    assert.deepEqual(await snapshot(admin), before);
  });

  test('409 on a duplicate name, also when the existing type is archived; nothing changes', async () => {
    const admin = await api().environment();
    const first = await create(admin, { name: 'dup', description: 'first' });
    assert.equal(first.status, 201);
    assertProblem(
      await create(admin, {
        name: 'dup',
        description: 'second',
        schema: { type: 'object' },
      }),
      409,
    );
    assert.deepEqual((await get(admin, 'dup')).body, first.body);

    assert.equal((await api().call('DELETE', '/v1/event-types/dup', { as: admin })).status, 204);
    const archived = (await get(admin, 'dup')).body;
    assertProblem(await create(admin, { name: 'dup', description: 'third' }), 409);
    assert.deepEqual((await get(admin, 'dup')).body, archived);
  });

  test('names starting with "herald." are reserved (400)', async () => {
    const admin = await api().environment();
    for (const name of ['herald.delivery.failed', 'herald.subscription.disabled', 'herald.anything']) {
      const answer = await create(admin, { name });
      assertInvalid(answer, '/name');
    }
    assert.deepEqual(await names(admin, '?includeArchived=true'), []);
    // Only the prefix "herald." is reserved.
    assert.equal((await create(admin, { name: 'heraldic.event' })).status, 201);
    assert.equal((await create(admin, { name: 'herald' })).status, 201);
  });

  test('GET list filters by ?category= and hides archived types unless ?includeArchived=true', async () => {
    const admin = await api().environment();
    await category(admin, 'customer');
    await category(admin, 'billing');
    for (const [name, cat] of [
      ['customer.created', 'customer'],
      ['customer.deleted', 'customer'],
      ['invoice.paid', 'billing'],
      ['plain', null],
    ] as const) {
      assert.equal((await create(admin, { name, category: cat })).status, 201);
    }
    assert.equal(
      (
        await api().call('DELETE', '/v1/event-types/customer.deleted', {
          as: admin,
        })
      ).status,
      204,
    );

    assert.deepEqual(await names(admin), ['customer.created', 'invoice.paid', 'plain']);
    assert.deepEqual(await names(admin, '?includeArchived=false'), ['customer.created', 'invoice.paid', 'plain']);
    assert.deepEqual(await names(admin, '?includeArchived=true'), [
      'customer.created',
      'customer.deleted',
      'invoice.paid',
      'plain',
    ]);
    assert.deepEqual(await names(admin, '?category=customer'), ['customer.created']);
    assert.deepEqual(await names(admin, '?category=customer&includeArchived=true'), [
      'customer.created',
      'customer.deleted',
    ]);
    assert.deepEqual(await names(admin, '?category=billing'), ['invoice.paid']);
    assert.deepEqual(await names(admin, '?category=unknown'), []);

    for (const query of ['?includeArchived=maybe', '?category=bad%20name', '?archived=true', '?limit=0']) {
      assertInvalid(await api().call('GET', `/v1/event-types${query}`, { as: admin }));
    }
  });

  test('GET list paginates with limit and cursor, also with filters', async () => {
    const admin = await api().environment();
    await category(admin, 'c');
    for (const name of ['t5', 't4', 't3', 't2', 't1']) {
      assert.equal((await create(admin, { name, category: 'c' })).status, 201);
    }
    assert.equal((await create(admin, { name: 't0' })).status, 201);
    for (const query of ['?category=c&limit=2', '?limit=2&category=c&includeArchived=true']) {
      const seen: string[] = [];
      const flags: boolean[] = [];
      let cursor: string | null = null;
      do {
        const page = await list(admin, `${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        seen.push(...withoutBuiltIns(page.data).map((t: { name: string }) => t.name));
        flags.push(page.meta.hasNextPage);
        assert.equal(page.meta.hasNextPage, page.meta.nextCursor !== null);
        cursor = page.meta.nextCursor;
        assert.ok(flags.length <= 5);
      } while (cursor !== null);
      assert.deepEqual(seen, ['t1', 't2', 't3', 't4', 't5']);
      assert.deepEqual(flags, [true, true, false]);
    }
  });

  test('PATCH changes description, category, schema and example; only a schema change bumps schemaVersion', async () => {
    const admin = await api().environment();
    await category(admin, 'one');
    await category(admin, 'two');
    const created = await create(admin, {
      name: 'thing.happened',
      description: 'before',
      category: 'one',
      schema: { type: 'object', properties: { a: { type: 'string' } } },
      example: { a: 'x' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    api().clock.advance(1000);

    const described = await patch(admin, 'thing.happened', {
      description: 'after',
    });
    assert.equal(described.status, 200, JSON.stringify(described.body));
    assert.equal(described.body.description, 'after');
    assert.equal(described.body.schemaVersion, 1);
    assert.equal(described.body.createdAt, created.body.createdAt);
    assert.notEqual(described.body.updatedAt, created.body.updatedAt);

    const moved = await patch(admin, 'thing.happened', { category: 'two' });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.category, 'two');
    assert.equal(moved.body.schemaVersion, 1);

    const exampled = await patch(admin, 'thing.happened', {
      example: { a: 'y' },
    });
    assert.equal(exampled.status, 200, JSON.stringify(exampled.body));
    assert.deepEqual(exampled.body.example, { a: 'y' });
    assert.equal(exampled.body.schemaVersion, 1);

    // The same schema again is not a change.
    const same = await patch(admin, 'thing.happened', {
      schema: { type: 'object', properties: { a: { type: 'string' } } },
    });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.equal(same.body.schemaVersion, 1);

    const newSchema = {
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'integer' } },
    };
    const reschemed = await patch(admin, 'thing.happened', {
      schema: newSchema,
    });
    assert.equal(reschemed.status, 200, JSON.stringify(reschemed.body));
    assert.deepEqual(reschemed.body.schema, newSchema);
    assert.equal(reschemed.body.schemaVersion, 2);

    const untouched = await patch(admin, 'thing.happened', {
      description: 'again',
      category: null,
    });
    assert.equal(untouched.status, 200, JSON.stringify(untouched.body));
    assert.equal(untouched.body.schemaVersion, 2);
    assert.equal(untouched.body.category, null);

    const both = await patch(admin, 'thing.happened', {
      schema: { type: 'integer' },
      example: 5,
    });
    assert.equal(both.status, 200, JSON.stringify(both.body));
    assert.equal(both.body.schemaVersion, 3);
    assert.deepEqual(both.body.example, 5);

    const removed = await patch(admin, 'thing.happened', { schema: null });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.schema, null);
    assert.equal(removed.body.schemaVersion, 4);

    const final = await get(admin, 'thing.happened');
    assert.deepEqual(final.body, removed.body);
    assert.equal(final.body.description, 'again');
    assert.deepEqual(final.body.example, 5);
  });

  test('PATCH {example: null} clears the example, even when a schema is set', async () => {
    const admin = await api().environment();
    const created = await create(admin, {
      name: 'e',
      schema: { type: 'object' },
      example: { a: 1 },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const cleared = await patch(admin, 'e', { example: null });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    assert.equal(cleared.body.example, null);
    assert.equal(cleared.body.schemaVersion, 1);
    // With no example left, any later schema is accepted.
    const reschemed = await patch(admin, 'e', { schema: { type: 'array' } });
    assert.equal(reschemed.status, 200, JSON.stringify(reschemed.body));
    assert.equal((await get(admin, 'e')).body.example, null);
    // And POST with example: null means "no example" too.
    const posted = await create(admin, {
      name: 'f',
      schema: { type: 'object' },
      example: null,
    });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    assert.equal(posted.body.example, null);
  });

  test('PATCH is checked like POST: bad schema, failing example, unknown category → 400 and nothing changes', async () => {
    const admin = await api().environment();
    await category(admin, 'c');
    const created = await create(admin, {
      name: 'checked',
      category: 'c',
      schema: {
        type: 'object',
        properties: { n: { type: 'integer' } },
        required: ['n'],
      },
      example: { n: 1 },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const before = await snapshot(admin);

    assertInvalid(await patch(admin, 'checked', { schema: { type: 'nope' } }), '/schema');
    assertInvalid(await patch(admin, 'checked', { schema: 'object' }), '/schema');
    assertInvalid(await patch(admin, 'checked', { example: { n: 'one' } }), '/example');
    // A new schema must accept the stored example (or send a new example with it).
    assertInvalid(await patch(admin, 'checked', { schema: { type: 'string' } }), '/example');
    assertInvalid(await patch(admin, 'checked', { schema: { type: 'string' }, example: 5 }), '/example');
    assertInvalid(await patch(admin, 'checked', { category: 'nope' }), '/category');
    assertInvalid(await patch(admin, 'checked', { category: 5 }), '/category');
    assertInvalid(await patch(admin, 'checked', { description: 'd'.repeat(1025) }), '/description');
    assertInvalid(await patch(admin, 'checked', { description: ['x'] }), '/description');
    assertInvalid(await patch(admin, 'checked', { archived: 'no' }), '/archived');
    assertInvalid(await patch(admin, 'checked', { name: 'renamed' }), '/name');
    assertInvalid(await patch(admin, 'checked', { schemaVersion: 7 }), '/schemaVersion');
    assertInvalid(await patch(admin, 'checked', [{ description: 'x' }]));
    assertProblem(
      await api().call('PATCH', '/v1/event-types/checked', {
        as: admin,
        payload: '{"description":"x"',
        headers: { 'content-type': 'application/json' },
      }),
      400,
    );
    assertProblem(
      await api().call('PATCH', '/v1/event-types/checked', {
        as: admin,
        payload: '{"description":"x"}',
        headers: { 'content-type': 'text/plain' },
      }),
      415,
    );
    assert.deepEqual(await snapshot(admin), before);
    assertProblem(await patch(admin, 'missing', { description: 'x' }), 404);
  });

  test('DELETE archives (204): GET shows archived and archivedAt; hidden from the default list; idempotent', async () => {
    const admin = await api().environment();
    const created = await create(admin, {
      name: 'old.event',
      schema: { type: 'object' },
      example: {},
    });
    await create(admin, { name: 'live.event' });
    api().clock.advance(5000);
    const deleted = await api().call('DELETE', '/v1/event-types/old.event', {
      as: admin,
    });
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    assert.equal(deleted.body, '');

    const one = await get(admin, 'old.event');
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.archived, true);
    assert.match(one.body.archivedAt, isoTime);
    assert.equal(Date.parse(one.body.archivedAt) - Date.parse(created.body.createdAt), 5000);
    // Its data stays.
    assert.deepEqual(one.body.schema, { type: 'object' });
    assert.deepEqual(one.body.example, {});
    assert.equal(one.body.schemaVersion, 1);

    assert.deepEqual(await names(admin), ['live.event']);
    const withArchived = await list(admin, '?includeArchived=true');
    assert.deepEqual(
      withArchived.data.map((t: { name: string; archived: boolean }) => [t.name, t.archived]),
      [
        ['live.event', false],
        ['old.event', true],
      ],
    );

    // Archiving again changes nothing.
    api().clock.advance(5000);
    assert.equal((await api().call('DELETE', '/v1/event-types/old.event', { as: admin })).status, 204);
    assert.deepEqual((await get(admin, 'old.event')).body, one.body);

    assertProblem(await api().call('DELETE', '/v1/event-types/never.was', { as: admin }), 404);
  });

  test('PATCH {archived:false} restores an archived type; {archived:true} archives', async () => {
    const admin = await api().environment();
    await create(admin, { name: 'flip' });
    assert.equal((await api().call('DELETE', '/v1/event-types/flip', { as: admin })).status, 204);
    const restored = await patch(admin, 'flip', { archived: false });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(restored.body.archived, false);
    assert.equal(restored.body.archivedAt, null);
    assert.deepEqual(await names(admin), ['flip']);

    const archived = await patch(admin, 'flip', { archived: true });
    assert.equal(archived.status, 200, JSON.stringify(archived.body));
    assert.equal(archived.body.archived, true);
    assert.match(archived.body.archivedAt, isoTime);
    assert.deepEqual(await names(admin), []);

    // An archived type can still be edited, and stays archived.
    const edited = await patch(admin, 'flip', {
      description: 'while archived',
    });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.equal(edited.body.archived, true);
    assert.equal(edited.body.archivedAt, archived.body.archivedAt);
  });

  test('an archived type refuses new publishes with 400 while stored events stay; restoring allows publishing again', async () => {
    const admin = await api().environment();
    const publisher = await api().key(admin, 'publisher');
    await create(admin, {
      name: 'order.placed',
      schema: ORDER_SCHEMA,
      example: ORDER_EXAMPLE,
    });
    const topic = await api().call('POST', '/v1/topics', {
      as: admin,
      body: { name: 'orders', eventTypes: ['order.placed'] },
    });
    assert.equal(topic.status, 201, JSON.stringify(topic.body));
    const publish = (id: string) =>
      api().call('POST', '/v1/topics/orders/events/publish', {
        as: publisher,
        body: { events: [{ id, type: 'order.placed', data: ORDER_EXAMPLE }] },
      });

    const accepted = await publish('evt-before');
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal(
      (
        await api().call('DELETE', '/v1/event-types/order.placed', {
          as: admin,
        })
      ).status,
      204,
    );

    const refused = await publish('evt-after');
    assertInvalid(refused, '/events/0');

    const stored = await api().call('GET', '/v1/events/evt-before', {
      as: admin,
    });
    assert.equal(stored.status, 200, JSON.stringify(stored.body));
    assert.deepEqual(stored.body.data, ORDER_EXAMPLE);
    assert.equal(stored.body.type, 'order.placed');
    assertProblem(await api().call('GET', '/v1/events/evt-after', { as: admin }), 404);

    assert.equal((await patch(admin, 'order.placed', { archived: false })).status, 200);
    const again = await publish('evt-restored');
    assert.equal(again.status, 202, JSON.stringify(again.body));
  });

  test('a schema change applies to the next publish (the new schemaVersion is used)', async () => {
    const admin = await api().environment();
    const schemaA = {
      type: 'object',
      properties: { v: { type: 'string' } },
      required: ['v'],
    };
    const schemaB = {
      type: 'object',
      properties: { v: { type: 'integer' } },
      required: ['v'],
    };
    await create(admin, { name: 'changing', schema: schemaA });
    assert.equal(
      (
        await api().call('POST', '/v1/topics', {
          as: admin,
          body: { name: 'tp', eventTypes: ['changing'] },
        })
      ).status,
      201,
    );
    const publish = (v: unknown) =>
      api().call('POST', '/v1/topics/tp/events/publish', {
        as: admin,
        body: { events: [{ type: 'changing', data: { v } }] },
      });

    assert.equal((await publish('text')).status, 202);
    assertInvalid(await publish(1), '/events/0/data');

    assert.equal((await patch(admin, 'changing', { schema: schemaB })).body.schemaVersion, 2);
    assertInvalid(await publish('text'), '/events/0/data');
    assert.equal((await publish(1)).status, 202);

    assert.equal((await patch(admin, 'changing', { schema: schemaA })).body.schemaVersion, 3);
    assert.equal((await publish('text')).status, 202);
    assertInvalid(await publish(1), '/events/0/data');

    // Another environment with the same type name and schemaVersion has its own schema.
    const other = await api().environment('other');
    await create(other, { name: 'changing', schema: schemaB });
    await api().call('POST', '/v1/topics', {
      as: other,
      body: { name: 'tp', eventTypes: ['changing'] },
    });
    const otherPublish = (v: unknown) =>
      api().call('POST', '/v1/topics/tp/events/publish', {
        as: other,
        body: { events: [{ type: 'changing', data: { v } }] },
      });
    assert.equal((await otherPublish(1)).status, 202);
    assertInvalid(await otherPublish('text'), '/events/0/data');
  });

  test('schema properties named like Object.prototype members are checked only when present', async () => {
    const admin = await api().environment();
    const schema = {
      type: 'object',
      properties: { constructor: { type: 'string' }, toString: { type: 'integer' }, id: { type: 'integer' } },
      required: ['id'],
    };
    const created = await create(admin, { name: 'odd.keys', schema, example: { id: 1 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assertInvalid(await patch(admin, 'odd.keys', { example: { id: 1, constructor: 5 } }), '/example/constructor');
    assert.equal((await patch(admin, 'odd.keys', { example: { id: 1, constructor: 'c', toString: 2 } })).status, 200);
    await api().call('POST', '/v1/topics', { as: admin, body: { name: 'odd', eventTypes: ['odd.keys'] } });
    const publish = (data: unknown) =>
      api().call('POST', '/v1/topics/odd/events/publish', { as: admin, body: { events: [{ type: 'odd.keys', data }] } });
    assert.equal((await publish({ id: 2 })).status, 202);
    assertInvalid(await publish({ id: 3, toString: 'x' }), '/events/0/data/toString');
  });

  test('bad POST bodies are each answered 400 and nothing changes', async () => {
    const admin = await api().environment();
    await category(admin, 'c');
    await create(admin, { name: 'existing', category: 'c' });
    const before = await snapshot(admin);
    const bad: [string, string, unknown][] = [
      ['missing name', '/name', { description: 'x' }],
      ['name is a number', '/name', { name: 1 }],
      ['name is null', '/name', { name: null }],
      ['name is empty', '/name', { name: '' }],
      ['name has a space', '/name', { name: 'order placed' }],
      ['name starts with a colon', '/name', { name: ':x' }],
      ['name has a slash', '/name', { name: 'a/b' }],
      ['name is 129 characters', '/name', { name: `a${'b'.repeat(128)}` }],
      ['description is a number', '/description', { name: 'ok', description: 1 }],
      ['description too long', '/description', { name: 'ok', description: 'd'.repeat(1025) }],
      ['category is a number', '/category', { name: 'ok', category: 1 }],
      ['category is not a name', '/category', { name: 'ok', category: 'not a name' }],
      ['category too long', '/category', { name: 'ok', category: 'c'.repeat(129) }],
      ['schema is a string', '/schema', { name: 'ok', schema: 'object' }],
      ['schema is an array', '/schema', { name: 'ok', schema: [] }],
      ['unknown field', '/version', { name: 'ok', version: 2 }],
      ['read-only field', '/schemaVersion', { name: 'ok', schemaVersion: 2 }],
      ['read-only field', '/archived', { name: 'ok', archived: true }],
      ['body is an array', '/', [{ name: 'ok' }]],
      ['body is a number', '/', 5],
    ];
    for (const [label, path, body] of bad) {
      const answer = await create(admin, body);
      assert.equal(answer.status, 400, `${label}: ${answer.status} ${JSON.stringify(answer.body)}`);
      assertInvalid(answer, path);
      assert.deepEqual(await snapshot(admin), before, `${label}: nothing changed`);
    }
    const post = (payload: string, contentType: string) =>
      api().call('POST', '/v1/event-types', {
        as: admin,
        payload,
        headers: { 'content-type': contentType },
      });
    assertProblem(await post('{"name":"ok",', 'application/json'), 400);
    assertProblem(await post('', 'application/json'), 400);
    assertProblem(await post('{"name":"ok"}', 'text/plain'), 415);
    assert.deepEqual(await snapshot(admin), before);
  });

  test('publisher and subscriber keys may read but get 403 on POST, PATCH and DELETE', async () => {
    const admin = await api().environment();
    const created = await create(admin, {
      name: 'visible',
      schema: { type: 'object' },
    });
    assert.equal(created.status, 201);
    for (const role of ['publisher', 'subscriber'] as const) {
      const key = await api().key(admin, role);
      const listed = await list(key);
      assert.deepEqual(listed.data, [created.body]);
      const one = await get(key, 'visible');
      assert.equal(one.status, 200, `${role}: ${JSON.stringify(one.body)}`);
      assert.deepEqual(one.body, created.body);

      assertProblem(await create(key, { name: `by-${role}` }), 403);
      assertProblem(await patch(key, 'visible', { description: role }), 403);
      assertProblem(await patch(key, 'visible', { archived: true }), 403);
      assertProblem(await api().call('DELETE', '/v1/event-types/visible', { as: key }), 403);
    }
    assertProblem(await api().call('GET', '/v1/event-types'), 401);
    assertProblem(await api().call('POST', '/v1/event-types', { body: { name: 'anon' } }), 401);
    assert.deepEqual((await list(admin, '?includeArchived=true')).data, [created.body], 'nothing changed');
  });

  test("404 for another environment's event type; nothing leaks or changes", async () => {
    const mine = await api().environment('mine');
    const theirs = await api().environment('theirs');
    const created = await create(theirs, {
      name: 'private.event',
      description: 'theirs',
    });
    assert.equal(created.status, 201);

    assertProblem(await get(mine, 'private.event'), 404);
    assertProblem(await patch(mine, 'private.event', { description: 'mine now' }), 404);
    assertProblem(await patch(mine, 'private.event', { archived: true }), 404);
    assertProblem(await api().call('DELETE', '/v1/event-types/private.event', { as: mine }), 404);
    assert.deepEqual(await names(mine, '?includeArchived=true'), []);
    const subscriber = await api().key(mine, 'subscriber');
    assertProblem(await get(subscriber, 'private.event'), 404);

    // The name is free in my environment.
    assert.equal((await create(mine, { name: 'private.event', description: 'mine' })).status, 201);
    assert.deepEqual((await get(theirs, 'private.event')).body, created.body);
  });
});
