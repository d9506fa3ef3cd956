/**
 * Hostile JSON Schemas (SPEC §7): what a tenant's schema costs is paid on a schema thread, never
 * on the thread that answers every environment, and bounded there: patterns run on RE2 (linear
 * time), `uniqueItems` is linear, and a job that still runs too long is cut off with a 400.
 * That another environment is answered meanwhile is shown against a real process, without other
 * test files competing for the CPU: schema-fairness.e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertProblem } from '../../src/testing/assertions.ts';
import { EXPONENTIAL_SCHEMA, REDOS_SCHEMA, almostMatching, nestedArrays as nested } from '../../src/testing/hostile-schemas.ts';
import { type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';

/** HERALD_SCHEMA_TIMEOUT_MS for these tests: short, so a cut-off job ends quickly. */
const TIMEOUT_MS = 400;

async function typeWithSchema(api: TestApi, as: Caller, name: string, schema: unknown, topic = `t-${name}`) {
  const created = await api.call('POST', '/v1/event-types', { as, body: { name, schema } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const topicAnswer = await api.call('POST', '/v1/topics', { as, body: { name: topic, eventTypes: [name] } });
  assert.equal(topicAnswer.status, 201, JSON.stringify(topicAnswer.body));
  return (data: unknown) =>
    api.call('POST', `/v1/topics/${topic}/events/publish`, { as, body: { events: [{ type: name, data }] } });
}

const storedEvents = async (api: TestApi, as: Caller) =>
  (await api.call('GET', '/v1/events?limit=250', { as })).body.data.length as number;

describeApi(
  'security: hostile JSON Schemas',
  (api) => {
    test('a backtracking pattern runs on RE2: a long string that almost matches is answered at once', { timeout: 30_000 }, async () => {
      const admin = await api().environment();
      const publish = await typeWithSchema(api(), admin, 'redos', REDOS_SCHEMA);
      // On a backtracking engine 28 characters took 3 s, doubling with each one more.
      const refused = await publish(almostMatching(100_000));
      assertProblem(refused, 400);
      assert.deepEqual(refused.body.errors, [{ path: '/events/0/data', message: 'must match pattern "(a+)+$"' }]);
      assert.equal((await publish('a'.repeat(100_000))).status, 202);
      assert.equal(await storedEvents(api(), admin), 1);
    });

    test('patterns RE2 cannot run (lookaround, backreferences) are refused when the type is created', async () => {
      const admin = await api().environment();
      for (const schema of [
        { type: 'string', pattern: '^(?=a)a' },
        { type: 'string', pattern: '(a)\\1' },
        { type: 'object', patternProperties: { '^x(?!y)': { type: 'string' } } },
      ]) {
        const answer = await api().call('POST', '/v1/event-types', { as: admin, body: { name: 'lookaround', schema } });
        assertProblem(answer, 400, JSON.stringify(schema));
        assert.equal(answer.body.errors[0].path, '/schema');
        assert.match(answer.body.errors[0].message, /RE2/);
      }
      assert.equal((await api().call('GET', '/v1/event-types/lookaround', { as: admin })).status, 404);
    });

    test('uniqueItems over 20,000 objects is checked in linear time', { timeout: 30_000 }, async () => {
      const admin = await api().environment();
      const publish = await typeWithSchema(api(), admin, 'unique', { type: 'array', uniqueItems: true });
      const items = Array.from({ length: 20_000 }, (_, i) => ({ a: i }));
      assert.equal((await publish(items)).status, 202);
      // Equal as JSON Schema defines it: keys in another order, 1.0 for 1.
      const refused = await publish([...items, { a: 0.0 }]);
      assertProblem(refused, 400);
      assert.deepEqual(refused.body.errors, [
        { path: '/events/0/data', message: 'must NOT have duplicate items (items ## 20000 and 0 are identical)' },
      ]);
      const reordered = await publish([{ x: 1, y: [1, { z: 2, w: 3 }] }, { y: [1, { w: 3, z: 2 }], x: 1 }]);
      assertProblem(reordered, 400);
      assert.equal((await publish([1, '1', [1], { 1: 1 }])).status, 202);
    });

    test('inferring a schema from thousands of objects with different keys takes one pass, not one per pair', { timeout: 20_000 }, async () => {
      // Merged pairwise this took 4.9 s for 4,000 objects on the request thread, growing with the
      // square; 20,000 would have held every environment's requests for minutes.
      const admin = await api().environment();
      const example = Array.from({ length: 20_000 }, (_, i) => ({ [`key_${i}`]: i, shared: 'x' }));
      const answer = await api().call('POST', '/v1/event-types/generate-schema', { as: admin, body: { example } });
      assert.equal(answer.status, 200, JSON.stringify(answer.body).slice(0, 300));
      const items = answer.body.schema.items;
      assert.equal(Object.keys(items.properties).length, 20_001);
      assert.deepEqual(items.required, ['shared']);
    });

    test('validation that runs past the time limit is answered 400, nothing is stored, and the next publish works', { timeout: 30_000 }, async () => {
      const admin = await api().environment();
      const publish = await typeWithSchema(api(), admin, 'exponential', EXPONENTIAL_SCHEMA);
      const plain = await typeWithSchema(api(), admin, 'plain', { type: 'object', required: ['n'] });
      assert.equal((await publish(nested(3))).status, 202);
      const started = performance.now();
      const refused = await publish(nested(40));
      const took = performance.now() - started;
      assertProblem(refused, 400);
      assert.match(refused.body.detail, new RegExp(`longer than ${TIMEOUT_MS} ms`));
      assert.equal(refused.body.errors[0].path, '/events');
      assert.ok(took < TIMEOUT_MS + 5000, `answered after ${took} ms`);
      assert.equal(await storedEvents(api(), admin), 1);
      // The killed thread is replaced: the same environment validates again.
      assert.equal((await plain({ n: 1 })).status, 202);
      assertProblem(await plain({}), 400);
      assert.equal((await publish(nested(2))).status, 202);
    });
  },
  { schemaTimeoutMs: TIMEOUT_MS },
);
