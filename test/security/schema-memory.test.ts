/**
 * Memory stays bounded whatever schemas tenants send (SPEC §7): a flood of large schemas, refused
 * and accepted, then published against, leaves the request thread's heap where it started (no
 * schema is compiled there) and the schema threads within their budget (each retires once the
 * schemas compiled on it pass it, taking its compiled validators with it).
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import { describeApi } from '../../src/testing/test-app.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after full collections, in bytes. */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

const BUDGET = 512 * 1024;
const PROPERTIES = 250;

/** ~19 KB of schema: many properties, each with a pattern and a length limit. */
const largeSchema = (i: number) => ({
  type: 'object',
  properties: Object.fromEntries(
    Array.from({ length: PROPERTIES }, (_, p) => [`field_${i}_${p}`, { type: 'string', maxLength: 40 + p, pattern: '^[a-z0-9_]+$' }]),
  ),
  required: [`field_${i}_0`],
});

describeApi(
  'security: memory under a flood of large schemas',
  (api) => {
    test('the request thread keeps no schema state, and schema threads stay within their budget', { timeout: 240_000 }, async () => {
      const admin = await api().environment();
      const call = (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });
      // Warm everything once, so the baseline includes what any first request loads.
      assert.equal((await call('POST', '/v1/event-types', { name: 'warm', schema: largeSchema(-1), example: { 'field_-1_0': 'a' } })).status, 201);
      const before = await settledHeap();

      const accepted: string[] = [];
      for (let i = 0; i < 200; i++) {
        const name = `large.${i}`;
        const refused = i % 2 === 0;
        // A refused schema's example breaks its pattern, so the whole schema is compiled first.
        const example = { [`field_${i}_0`]: refused ? 'NOT VALID' : 'valid_1' };
        const answer = await call('POST', '/v1/event-types', { name, schema: largeSchema(i), example });
        assert.equal(answer.status, refused ? 400 : 201, JSON.stringify(answer.body).slice(0, 300));
        if (!refused) accepted.push(name);
      }
      assert.equal((await call('POST', '/v1/topics', { name: 'large', eventTypes: accepted })).status, 201);
      for (const [i, type] of accepted.entries()) {
        const n = Number(type.split('.')[1]);
        const events = [{ type, data: { [`field_${n}_0`]: i % 3 === 0 ? 'BAD' : 'ok' } }];
        const answer = await call('POST', '/v1/topics/large/events/publish', { events });
        assert.equal(answer.status, i % 3 === 0 ? 400 : 202);
      }

      const stats = api().deps.schemas.stats();
      const schemaBytes = JSON.stringify(largeSchema(0)).length;
      assert.ok(stats.threads <= 2, `${stats.threads} schema threads`);
      assert.ok(stats.bytes.every((b) => b <= BUDGET + schemaBytes), `threads hold ${stats.bytes} bytes of schemas`);
      // 300 schemas of ~19 KB went through threads of 512 KiB: they retired and were replaced.
      assert.ok(stats.started >= 8, `${stats.started} threads started`);
      const grown = (await settledHeap()) - before;
      assert.ok(grown < 8 * 1024 * 1024, `the request thread's heap grew by ${(grown / 1e6).toFixed(1)} MB`);
    });
  },
  // The subject is the process's memory, not storage: one dialect is enough (and the flood is slow).
  { schemaBudgetBytes: BUDGET, dialects: ['sqlite'] },
);
