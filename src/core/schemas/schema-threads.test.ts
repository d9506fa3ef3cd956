/** SchemaThreads: time limits, one job per environment, the waiting cap, retirement by budget. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { HeraldError } from '../../errors.ts';
import { EXPONENTIAL_SCHEMA, nestedArrays } from '../../testing/hostile-schemas.ts';
import { MAX_WAITING_PER_ENVIRONMENT, type SchemaBatch, SchemaThreads } from './schema-threads.ts';


const batch = (schema: object, data: unknown, typeName = 't'): SchemaBatch => ({
  typeName,
  schemaVersion: 1,
  schema: schema as SchemaBatch['schema'],
  items: [[JSON.stringify(data), '/events/0/data']],
});
const slow = () => batch(EXPONENTIAL_SCHEMA, nestedArrays(40), 'slow');
const quick = (n: number) => batch({ type: 'integer', minimum: 0 }, n, 'quick');

async function refusal(promise: Promise<unknown>): Promise<HeraldError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HeraldError, String(error));
    return error;
  }
  assert.fail('expected a refusal');
}

describe('SchemaThreads', () => {
  const pools: SchemaThreads[] = [];
  const pool = (timeoutMs: number, threads = 2, budgetBytes?: number) => {
    const made = new SchemaThreads({ timeoutMs, threads, ...(budgetBytes ? { budgetBytes } : {}) });
    pools.push(made);
    return made;
  };
  after(async () => {
    for (const p of pools) await p.close();
  });

  test('a job past the time limit is refused with 400 and its thread replaced', async () => {
    const threads = pool(300);
    assert.deepEqual(await threads.validate('env_a', [quick(1)]), []);
    const started = threads.stats().started;
    const error = await refusal(threads.validate('env_a', [slow()]));
    assert.equal(error.status, 400);
    assert.match(error.message, /longer than 300 ms/);
    assert.deepEqual(await threads.validate('env_a', [quick(-1)]), [{ path: '/events/0/data', message: 'must be >= 0' }]);
    assert.equal(threads.stats().started, started + 1);
    assert.ok(threads.stats().threads <= 2);
  });

  test('an environment runs one job at a time; beyond the waiting cap it is told 429', async () => {
    const threads = pool(1000);
    await threads.validate('env_warm', [quick(1)]);
    const running = [threads.validate('env_a', [slow()])];
    for (let i = 0; i < MAX_WAITING_PER_ENVIRONMENT; i++) running.push(threads.validate('env_a', [quick(i)]));
    const error = await refusal(threads.validate('env_a', [quick(0)]));
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterSeconds, 1);
    // Another environment is not held behind env_a's queue: it runs on the other thread.
    const other = performance.now();
    assert.deepEqual(await threads.validate('env_b', [quick(1)]), []);
    assert.ok(performance.now() - other < 900, 'env_b did not wait for env_a');
    const outcomes = await Promise.allSettled(running);
    assert.equal(outcomes[0]?.status, 'rejected');
    assert.ok(outcomes.slice(1).every((o) => o.status === 'fulfilled'));
  });

  test("a killed job's environment waits for its replacement thread; others keep theirs", async () => {
    const threads = pool(300);
    // Warm both threads with the victim's schema.
    await Promise.all([threads.validate('env_victim', [quick(1)]), threads.validate('env_other', [quick(1)])]);
    const attacks = [1, 2, 3].map(() => threads.validate('env_attacker', [slow()]).catch((e: HeraldError) => e.status));
    const victim = (async () => {
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        assert.deepEqual(await threads.validate('env_victim', [quick(i)]), []);
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      return latencies;
    })();
    assert.deepEqual(await Promise.all(attacks), [400, 400, 400]);
    const latencies = await victim;
    assert.ok(Math.max(...latencies) < 250, `the victim waited ${Math.max(...latencies).toFixed(0)} ms`);
    assert.ok(threads.stats().threads <= 2);
  });

  test('a thread retires once the schemas compiled on it pass its budget; the next one starts empty', async () => {
    const threads = pool(5000, 1, 64 * 1024);
    const big = (i: number) => ({
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: 100 }, (_, p) => [`field_${i}_${p}`, { type: 'string', maxLength: p + 1 }])),
    });
    const size = JSON.stringify(big(0)).length;
    for (let i = 0; i < 40; i++) {
      assert.deepEqual(await threads.validate('env_a', [batch(big(i), {}, `type_${i}`)]), []);
      const { bytes } = threads.stats();
      assert.ok(bytes.every((b) => b <= 64 * 1024 + size), `a thread holds ${bytes} bytes of schemas`);
    }
    assert.ok(threads.stats().started >= Math.floor((40 * size) / (64 * 1024)), `started ${threads.stats().started}`);
    // A schema compiled on a retired thread is sent again, not assumed.
    assert.deepEqual(await threads.validate('env_a', [batch(big(0), { field_0_0: 'xx' }, 'type_0')]), [
      { path: '/events/0/data/field_0_0', message: 'must NOT have more than 1 characters' },
    ]);
  });

  test('a schema that cannot be compiled any more (stored before RE2) is a 400, not a 500', async () => {
    const threads = pool(2000);
    const error = await refusal(threads.validate('env_a', [batch({ type: 'string', pattern: '(?=a)' }, 'a')]));
    assert.equal(error.status, 400);
    assert.match(error.message, /RE2|invalid perl operator/);
    assert.deepEqual(await threads.validate('env_a', [quick(2)]), []);
  });

  test('closing refuses what waits, with 503', async () => {
    const threads = pool(5000);
    const pending = refusal(threads.validate('env_a', [quick(1)]));
    await threads.close();
    assert.equal((await pending).status, 503);
    assert.equal((await refusal(threads.check('env_a', { type: 'string' }, 'x'))).status, 503);
  });
});
