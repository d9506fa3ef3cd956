/**
 * POST /v1/event-types/generate-schema (SPEC §4 "Registry"): a draft 2020-12 schema inferred from
 * a sample, which POST /v1/event-types accepts together with that same sample.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';

function assertProblem(answer: Answer, status: number): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  assert.equal(typeof answer.body.type, 'string');
  assert.equal(typeof answer.body.title, 'string');
  assert.equal(answer.body.status, status);
  assert.equal(typeof answer.body.detail, 'string');
}

function assertInvalid(answer: Answer, pathPrefix: string): void {
  assertProblem(answer, 400);
  const errors = answer.body.errors as { path: string; message: string }[];
  assert.ok(Array.isArray(errors) && errors.length > 0, JSON.stringify(answer.body));
  for (const e of errors) {
    assert.equal(typeof e.path, 'string');
    assert.equal(typeof e.message, 'string');
  }
  assert.ok(
    errors.some((e) => e.path.startsWith(pathPrefix)),
    `an error path starts with ${pathPrefix}: ${JSON.stringify(errors)}`,
  );
}

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

/** A webhook payload as a SaaS product would send it. */
const ORDER_EXAMPLE = {
  id: '3f1c2a9e-8b1d-4c55-9a7e-2d4b6f0e1a23',
  type: 'order',
  occurredAt: '2024-04-30T08:45:00Z',
  localTime: '2024-04-30T08:45:00',
  deliveryDate: '2024-05-02',
  customer: {
    id: 1042,
    email: 'ada@example.com',
    website: 'https://example.com/x',
    name: { first: 'Ada', last: 'Lovelace' },
    vip: true,
    referrer: null,
  },
  lines: [
    { sku: 'A-1', qty: 2, unitPrice: 9.99, options: ['gift'] },
    { sku: 'B-2', qty: 1, unitPrice: 20, options: [], note: 'leave at door' },
  ],
  coupons: [],
  totals: { net: 39.98, tax: 7.6, gross: 47.58, currency: 'EUR' },
  flags: { test: false },
};

describeApi('registry: generate-schema', (api: () => TestApi) => {
  const generate = (as: Caller, example: unknown) =>
    api().call('POST', '/v1/event-types/generate-schema', { as, body: { example } });
  const schemaOf = async (as: Caller, example: unknown) => {
    const answer = await generate(as, example);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.match(String(answer.headers['content-type']), /^application\/json/);
    assert.deepEqual(Object.keys(answer.body), ['schema']);
    return answer.body.schema;
  };

  test('answers {schema}: draft 2020-12, types, required keys, nested objects', async () => {
    const admin = await api().environment();
    const schema = await schemaOf(admin, { id: 7, price: 7.5, name: 'x', on: true, gone: null, nested: { deep: { n: 1 } } });
    assert.deepEqual(schema, {
      $schema: DRAFT,
      type: 'object',
      properties: {
        id: { type: 'integer' },
        price: { type: 'number' },
        name: { type: 'string' },
        on: { type: 'boolean' },
        gone: { type: 'null' },
        nested: {
          type: 'object',
          properties: { deep: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } },
          required: ['deep'],
        },
      },
      required: ['id', 'price', 'name', 'on', 'gone', 'nested'],
    });
  });

  test('arrays: of objects (keys in every item required, others optional), of scalars, empty', async () => {
    const admin = await api().environment();
    const schema = await schemaOf(admin, {
      people: [
        { name: 'a', age: 1, nick: 'x' },
        { name: 'b', age: 2.5 },
      ],
      tags: ['a', 'b'],
      counts: [1, 2],
      none: [],
    });
    assert.deepEqual(schema.properties.people, {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, age: { type: 'number' }, nick: { type: 'string' } },
        required: ['name', 'age'],
      },
    });
    assert.deepEqual(schema.properties.tags, { type: 'array', items: { type: 'string' } });
    assert.deepEqual(schema.properties.counts, { type: 'array', items: { type: 'integer' } });
    assert.equal(schema.properties.none.type, 'array');
    assert.deepEqual(schema.required, ['people', 'tags', 'counts', 'none']);
  });

  test('formats: date-time, email, uri, date, uuid; no date-time without a zone', async () => {
    const admin = await api().environment();
    const schema = await schemaOf(admin, {
      at: '2024-04-30T08:45:00Z',
      atOffset: '2024-04-30T08:45:00.5+02:00',
      local: '2024-04-30T08:45:00',
      email: 'ada@example.com',
      link: 'https://example.com/x',
      day: '2024-04-30',
      id: '3f1c2a9e-8b1d-4c55-9a7e-2d4b6f0e1a23',
      text: 'plain words',
      notADay: '2024-02-30',
    });
    const formats = Object.fromEntries(
      Object.entries(schema.properties as Record<string, { type: string; format?: string }>).map(([k, v]) => {
        assert.equal(v.type, 'string', k);
        return [k, v.format ?? null];
      }),
    );
    assert.deepEqual(formats, {
      at: 'date-time',
      atOffset: 'date-time',
      local: null,
      email: 'email',
      link: 'uri',
      day: 'date',
      id: 'uuid',
      text: null,
      notADay: null,
    });
  });

  test('scalar, array and null examples at the top level', async () => {
    const admin = await api().environment();
    assert.deepEqual(await schemaOf(admin, 'text'), { $schema: DRAFT, type: 'string' });
    assert.deepEqual(await schemaOf(admin, 3), { $schema: DRAFT, type: 'integer' });
    assert.deepEqual(await schemaOf(admin, 3.5), { $schema: DRAFT, type: 'number' });
    assert.deepEqual(await schemaOf(admin, false), { $schema: DRAFT, type: 'boolean' });
    assert.deepEqual(await schemaOf(admin, null), { $schema: DRAFT, type: 'null' });
    assert.deepEqual(await schemaOf(admin, []), { $schema: DRAFT, type: 'array', items: {} });
    assert.deepEqual(await schemaOf(admin, {}), { $schema: DRAFT, type: 'object', properties: {}, required: [] });
  });

  test('round trip: the generated schema is accepted by POST /v1/event-types with the same example, and publishing checks it', async () => {
    const admin = await api().environment();
    const schema = await schemaOf(admin, ORDER_EXAMPLE);
    assert.equal(schema.$schema, DRAFT);
    assert.equal(schema.properties.occurredAt.format, 'date-time');
    assert.equal(schema.properties.localTime.format, undefined);
    assert.equal(schema.properties.deliveryDate.format, 'date');
    assert.equal(schema.properties.id.format, 'uuid');
    assert.equal(schema.properties.customer.properties.email.format, 'email');
    assert.equal(schema.properties.customer.properties.website.format, 'uri');
    assert.deepEqual(schema.properties.customer.properties.referrer, { type: 'null' });
    assert.deepEqual(schema.properties.customer.properties.id, { type: 'integer' });
    assert.deepEqual(schema.properties.lines.items.required, ['sku', 'qty', 'unitPrice', 'options']);
    assert.deepEqual(schema.properties.lines.items.properties.unitPrice, { type: 'number' });
    assert.deepEqual(schema.properties.lines.items.properties.note, { type: 'string' });

    const created = await api().call('POST', '/v1/event-types', {
      as: admin,
      body: { name: 'order.placed', schema, example: ORDER_EXAMPLE },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.schema, schema);
    assert.deepEqual(created.body.example, ORDER_EXAMPLE);

    // Publishing validates against it: the example passes, a broken copy does not.
    const topic = await api().call('POST', '/v1/topics', { as: admin, body: { name: 'orders', eventTypes: ['order.placed'] } });
    assert.equal(topic.status, 201, JSON.stringify(topic.body));
    const publish = (data: unknown) =>
      api().call('POST', '/v1/topics/orders/events/publish', { as: admin, body: { events: [{ type: 'order.placed', data }] } });
    assert.equal((await publish(ORDER_EXAMPLE)).status, 202);
    const { totals: _dropped, ...withoutTotals } = ORDER_EXAMPLE;
    assertInvalid(await publish(withoutTotals), '/events/0/data');
    assertInvalid(await publish({ ...ORDER_EXAMPLE, occurredAt: 'yesterday' }), '/events/0/data/occurredAt');
  });

  test('round trip holds for samples with tricky strings and keys', async () => {
    const admin = await api().environment();
    const samples: unknown[] = [
      { when: '2024-02-30T10:00:00Z', day: '2023-02-29', link: 'https://example.com/%zz' },
      { leap: '2016-12-31T23:59:60Z', spaced: '2024-04-30 08:45:00Z' },
      [{ toString: 'x' }, { constructor: 1 }, { valueOf: null }],
      [{ a: 1 }, 'mixed', 2.5, null, [[]]],
      { list: [[{ x: 1 }], [{ x: 2, y: [] }], []] },
    ];
    let i = 0;
    for (const example of samples) {
      const schema = await schemaOf(admin, example);
      const created = await api().call('POST', '/v1/event-types', {
        as: admin,
        body: { name: `sample.${i++}`, schema, example },
      });
      assert.equal(created.status, 201, `${JSON.stringify(example)} → ${JSON.stringify(schema)}: ${JSON.stringify(created.body)}`);
    }
  });

  test('a deeply nested sample within the body nesting limit works', async () => {
    const admin = await api().environment();
    let example: unknown = { leaf: 1 };
    for (let i = 0; i < 50; i++) example = { child: example };
    const schema = await schemaOf(admin, example);
    let node = schema;
    for (let i = 0; i < 50; i++) node = node.properties.child;
    assert.deepEqual(node.properties.leaf, { type: 'integer' });
  });

  test('bad requests: missing example → 400, unknown fields → 400, not JSON → 400/415; nothing is stored', async () => {
    const admin = await api().environment();
    const call = (options: Parameters<TestApi['call']>[2]) =>
      api().call('POST', '/v1/event-types/generate-schema', { as: admin, ...options });
    assertInvalid(await call({ body: {} }), '/example');
    assertInvalid(await call({ body: { sample: { a: 1 } } }), '/');
    assertInvalid(await call({ body: { example: { a: 1 }, name: 'x' } }), '/name');
    assertInvalid(await call({ body: [{ example: 1 }] }), '/');
    assertProblem(await call({ payload: '{"example":', headers: { 'content-type': 'application/json' } }), 400);
    assertProblem(await call({ payload: '', headers: { 'content-type': 'application/json' } }), 400);
    assertProblem(await call({ payload: '{"example":1}', headers: { 'content-type': 'text/plain' } }), 415);
    const types = await api().call('GET', '/v1/event-types?includeArchived=true', { as: admin });
    // Only the built-in operational types every environment has (SPEC §6).
    assert.deepEqual(
      types.body.data.filter((t: { name: string }) => !t.name.startsWith('herald.')),
      [],
    );
  });

  test('admin and publisher keys may call it; a subscriber gets 403; no key gets 401', async () => {
    const admin = await api().environment();
    const publisher = await api().key(admin, 'publisher');
    const subscriber = await api().key(admin, 'subscriber');
    const example = { a: 1 };
    const byAdmin = await schemaOf(admin, example);
    assert.deepEqual(await schemaOf(publisher, example), byAdmin);
    assertProblem(await generate(subscriber, example), 403);
    assertProblem(await api().call('POST', '/v1/event-types/generate-schema', { body: { example } }), 401);
  });
});
