/** inferSchema: a draft 2020-12 JSON Schema from one sample, which the sample always satisfies. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SchemaEngine } from '../core/schemas/schema-engine.ts';
import type { FieldProblem } from '../errors.ts';
import { DRAFT_2020_12, inferSchema } from './schema-inference.ts';
import type { JsonObject, JsonValue } from './types.ts';

const engine = new SchemaEngine();
const checkSchema = (schema: JsonObject): FieldProblem[] => engine.check(schema, undefined);
/** Problems of `value` against `schema`, with paths under `path`. */
const validateOnce = (schema: JsonObject, value: JsonValue, path: string): FieldProblem[] =>
  engine.check(schema, value).map((p) => ({ ...p, path: p.path.replace(/^\/example/, path) }));

/** The schema without its top-level `$schema`, for compact expectations. */
function body(example: JsonValue): JsonObject {
  const { $schema, ...rest } = inferSchema(example);
  assert.equal($schema, DRAFT_2020_12);
  return rest;
}

/** The inferred schema is a valid draft 2020-12 schema and the sample validates against it. */
function assertRoundTrip(example: JsonValue): JsonObject {
  const schema = inferSchema(example);
  assert.deepEqual(checkSchema(schema), [], `valid schema for ${JSON.stringify(example)}`);
  assert.deepEqual(validateOnce(schema, example, '/example'), [], `${JSON.stringify(example)} fits ${JSON.stringify(schema)}`);
  return schema;
}

const formatOf = (value: string): unknown => body(value).format;

describe('inferSchema', () => {
  test('scalars: string, integer vs number, boolean, null', () => {
    assert.deepEqual(body('hello'), { type: 'string' });
    assert.deepEqual(body(''), { type: 'string' });
    assert.deepEqual(body(42), { type: 'integer' });
    assert.deepEqual(body(0), { type: 'integer' });
    assert.deepEqual(body(-7), { type: 'integer' });
    assert.deepEqual(body(1e21), { type: 'integer' });
    assert.deepEqual(body(4.5), { type: 'number' });
    assert.deepEqual(body(-0.001), { type: 'number' });
    assert.deepEqual(body(true), { type: 'boolean' });
    assert.deepEqual(body(false), { type: 'boolean' });
    assert.deepEqual(body(null), { type: 'null' });
  });

  test('$schema names draft 2020-12 once, at the root only', () => {
    const schema = inferSchema({ a: { b: [{ c: 1 }] } });
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(JSON.stringify(schema).split('$schema').length, 2);
  });

  test('objects: every key is a required property, nested objects likewise', () => {
    assert.deepEqual(body({}), { type: 'object', properties: {}, required: [] });
    assert.deepEqual(
      body({ id: 1, name: 'Ada', active: true, score: 9.5, note: null, address: { city: 'Paris', zip: '75001' } }),
      {
        type: 'object',
        properties: {
          id: { type: 'integer' },
          name: { type: 'string' },
          active: { type: 'boolean' },
          score: { type: 'number' },
          note: { type: 'null' },
          address: {
            type: 'object',
            properties: { city: { type: 'string' }, zip: { type: 'string' } },
            required: ['city', 'zip'],
          },
        },
        required: ['id', 'name', 'active', 'score', 'note', 'address'],
      },
    );
  });

  test('arrays: empty, of one type, of integers and numbers, of mixed types, nested', () => {
    assert.deepEqual(body([]), { type: 'array', items: {} });
    assert.deepEqual(body(['a', 'b']), { type: 'array', items: { type: 'string' } });
    assert.deepEqual(body([1, 2, 3]), { type: 'array', items: { type: 'integer' } });
    assert.deepEqual(body([1, 2.5, 3]), { type: 'array', items: { type: 'number' } });
    assert.deepEqual(body([1.5, 2]), { type: 'array', items: { type: 'number' } });
    assert.deepEqual(body([1, 'one', null]), {
      type: 'array',
      items: { anyOf: [{ type: 'integer' }, { type: 'string' }, { type: 'null' }] },
    });
    assert.deepEqual(body([1, 'one', 2, 'two']), {
      type: 'array',
      items: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
    });
    // An empty array says nothing about its items: the others decide.
    assert.deepEqual(body([[1], [2, 3], []]), {
      type: 'array',
      items: { type: 'array', items: { type: 'integer' } },
    });
    // Integers and numbers are one kind, wherever they appear; objects of any keys merge into one.
    assert.deepEqual(body([1, null, 2.5, { a: 1 }, 'x', { b: 'y' }]), {
      type: 'array',
      items: {
        anyOf: [
          { type: 'number' },
          { type: 'null' },
          { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' } }, required: [] },
          { type: 'string' },
        ],
      },
    });
    for (const example of [[], [1, 'one', null], [[1], [2.5], []], [{ a: 1 }, 'x', { b: 2 }]] as JsonValue[]) {
      assertRoundTrip(example);
    }
  });

  test('arrays of objects: keys present in every item are required, the others optional', () => {
    assert.deepEqual(
      body([
        { sku: 'A', qty: 1, note: 'gift' },
        { sku: 'B', qty: 2 },
        { sku: 'C', qty: 3, discount: 0.5 },
      ]),
      {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            sku: { type: 'string' },
            qty: { type: 'integer' },
            note: { type: 'string' },
            discount: { type: 'number' },
          },
          required: ['sku', 'qty'],
        },
      },
    );
    // Nested: the rule applies at every level.
    const nested = body([{ meta: { a: 1, b: 2 } }, { meta: { a: 3 } }]);
    assert.deepEqual(nested, {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          meta: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a'] },
        },
        required: ['meta'],
      },
    });
    // A key whose type differs between items accepts each type, and only those.
    const mixed = assertRoundTrip([{ v: 1 }, { v: null }, { v: 2.5 }]);
    const v = ((mixed.items as JsonObject).properties as JsonObject).v as { anyOf: { type: string }[] };
    assert.deepEqual(new Set(v.anyOf.map((s) => s.type)), new Set(['null', 'number']));
    assert.deepEqual(validateOnce(mixed, [{ v: 3 }, { v: -0.5 }, { v: null }], '/x'), []);
    assert.equal(validateOnce(mixed, [{}], '/x')[0]?.path, '/x/0/v'); // in every item: required
    assert.deepEqual(validateOnce(mixed, [{ v: 'text' }], '/x').length > 0, true);
  });

  test('array items whose keys are Object.prototype member names stay valid schemas', () => {
    for (const example of [
      [{ toString: 1 }, { a: 2 }],
      [{ a: 1 }, { constructor: 'x' }],
      [{ hasOwnProperty: true, valueOf: 1 }, { isPrototypeOf: null }],
    ] as JsonValue[]) {
      const schema = assertRoundTrip(example);
      const items = schema.items as { properties: JsonObject; required: string[] };
      assert.deepEqual(items.required, []);
      for (const value of Object.values(items.properties)) assert.equal(typeof value, 'object');
    }
    assert.deepEqual(body([{ toString: 1 }, { a: 2 }]).items, {
      type: 'object',
      properties: { toString: { type: 'integer' }, a: { type: 'integer' } },
      required: [],
    });
  });

  test('formats: date-time (with a zone only), date, email, uri, uuid', () => {
    assert.equal(formatOf('2024-04-30T08:45:00Z'), 'date-time');
    assert.equal(formatOf('2024-04-30T08:45:00.123Z'), 'date-time');
    assert.equal(formatOf('2024-04-30T08:45:00+02:00'), 'date-time');
    assert.equal(formatOf('2024-04-30T08:45:00-05:30'), 'date-time');
    assert.equal(formatOf('2016-12-31T23:59:60Z'), 'date-time'); // a real leap second
    assert.equal(formatOf('2024-04-30'), 'date');
    assert.equal(formatOf('2024-02-29'), 'date'); // leap year
    assert.equal(formatOf('ada@example.com'), 'email');
    assert.equal(formatOf('first.last+tag@mail.example.co.uk'), 'email');
    assert.equal(formatOf('https://example.com/x'), 'uri');
    assert.equal(formatOf('http://example.com:8080/a/b?c=d#e'), 'uri');
    assert.equal(formatOf('3f1c2a9e-8b1d-4c55-9a7e-2d4b6f0e1a23'), 'uuid');
    assert.equal(formatOf('3F1C2A9E-8B1D-4C55-9A7E-2D4B6F0E1A23'), 'uuid');
  });

  test('no format for look-alikes: a date-time without zone, impossible dates, bad URIs, plain text', () => {
    for (const value of [
      '2024-04-30T08:45:00', // no zone: not an RFC 3339 date-time
      '2024-04-30 08:45', // no seconds
      '2024-02-30', // no such day
      '2023-02-29', // not a leap year
      '2024-13-01',
      '2024-02-30T10:00:00Z',
      '2024-04-30T08:45:60Z', // not a leap second
      '2024-04-30T24:00:00Z',
      'ada@',
      'ada at example.com',
      'example.com/x', // no scheme
      'http://[not-an-ip/',
      'https://example.com/%zz', // bad percent-encoding
      'https://exa mple.com',
      '3f1c2a9e-8b1d-4c55-9a7e-2d4b6f0e1a2', // one digit short
      'hello world',
      '12345',
    ]) {
      assert.equal(formatOf(value), undefined, `${value} gets no format`);
      assertRoundTrip(value);
    }
  });

  test('strings of one format keep it in arrays; mixed formats fall back to plain strings', () => {
    assert.deepEqual(body(['2024-04-30', '2024-05-01']), { type: 'array', items: { type: 'string', format: 'date' } });
    assert.deepEqual(body(['2024-04-30', '2024-04-30T08:45:00Z']), { type: 'array', items: { type: 'string' } });
    assert.deepEqual(body(['a@example.com', 'not an email']), { type: 'array', items: { type: 'string' } });
    assert.deepEqual(body([{ at: '2024-04-30T08:45:00Z' }, { at: 'yesterday' }]).items, {
      type: 'object',
      properties: { at: { type: 'string' } },
      required: ['at'],
    });
  });

  test('a realistic nested payload round-trips, and the schema rejects a broken copy', () => {
    const example: JsonValue = {
      id: '3f1c2a9e-8b1d-4c55-9a7e-2d4b6f0e1a23',
      occurredAt: '2024-04-30T08:45:00Z',
      localTime: '2024-04-30T08:45:00',
      customer: { email: 'ada@example.com', profile: 'https://example.com/u/ada', birthday: '1815-12-10', vip: false },
      items: [
        { sku: 'A-1', qty: 2, price: 9.99, tags: ['new'] },
        { sku: 'B-2', qty: 1, price: 20, tags: [], giftWrap: true },
      ],
      coupons: [],
      shipping: null,
      totals: { net: 39.98, tax: 7.6, currency: 'EUR' },
    };
    const schema = assertRoundTrip(example);
    const props = schema.properties as Record<string, JsonObject>;
    assert.deepEqual(props.localTime, { type: 'string' });
    assert.deepEqual(props.occurredAt, { type: 'string', format: 'date-time' });
    const broken = { ...(example as JsonObject), customer: { email: 'nope', profile: 'x', birthday: 'y', vip: 'no' } };
    assert.ok(validateOnce(schema, broken, '/example').length >= 4);
    const missing = { ...(example as JsonObject) };
    delete missing.totals;
    assert.deepEqual(
      validateOnce(schema, missing, '/example').map((p) => p.path),
      ['/example/totals'],
    );
  });

  test('every sample validates against its own schema (a corpus of shapes)', () => {
    const corpus: JsonValue[] = [
      { a: [{ b: [{ c: [1, 2.5, null] }] }, { b: [] }] },
      [{ x: 1 }, { x: 'one' }, { y: [true] }, null, 3, 'three', ['nested']],
      { deep: { deeper: { deepest: { value: '2024-04-30T08:45:00+01:00' } } } },
      { emails: ['a@example.com', 'b@example.org'], ids: ['3f1c2a9e-8b1d-4c55-9a7e-2d4b6f0e1a23'] },
      { unicode: 'héllo — ✓', empty: '', zero: 0, negative: -1.5, big: 9007199254740991 },
      [[[]], [[1]], [['a']]],
    ];
    for (const example of corpus) assertRoundTrip(example);
  });

  test('does not modify its input', () => {
    const example: JsonObject = { list: [{ a: 1 }, { b: 2 }], when: '2024-04-30T08:45:00Z' };
    const copy = structuredClone(example);
    inferSchema(example);
    assert.deepEqual(example, copy);
  });
});
