/** The registry cache serves repeated reads without the database and never a row it knows is stale. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { issueKey } from '../core/keys.ts';
import type { Environment, EventType } from '../domain/types.ts';
import { type TestStore, makeTestStore } from '../testing/test-store.ts';
import type { CacheLimits } from './lru-byte-cache.ts';
import { REGISTRY_CACHE_LIMITS, registryCacheStats, withRegistryCache } from './registry-cache.ts';
import type { Store } from './store.ts';

let testStore: TestStore;
/** Calls that reached the real store, by method name. */
const calls = new Map<string, number>();
/** The names asked of the real store by each getEventTypes / topicsContaining call, in order. */
const namesAsked: { method: string; names: readonly string[] }[] = [];
let counted: Store;

before(async () => {
  testStore = await makeTestStore('sqlite');
  counted = new Proxy(testStore.store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        calls.set(property, (calls.get(property) ?? 0) + 1);
        if (property === 'getEventTypes' || property === 'topicsContaining') {
          namesAsked.push({ method: property, names: args[1] as string[] });
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
});
after(() => testStore.cleanup());

let n = 0;
async function newEnvironment(store: Store): Promise<Environment> {
  n++;
  const env: Environment = { id: `env_cache${process.pid}x${n}`, name: `c${n}`, monthlyEventQuota: 10, createdAt: 1, updatedAt: 1 };
  await store.insertEnvironment(env, issueKey(env.id, 'admin', 'admin', [], 1).stored);
  return env;
}

test('a repeated read is served from the cache; a write through it is seen at once', async () => {
  const store = withRegistryCache(counted, 60_000);
  const env = await newEnvironment(store);
  calls.clear();
  assert.equal((await store.getEnvironment(env.id))?.monthlyEventQuota, 10);
  assert.equal((await store.getEnvironment(env.id))?.monthlyEventQuota, 10);
  assert.equal(calls.get('getEnvironment'), 1);

  await store.updateEnvironment({ ...env, monthlyEventQuota: 20, updatedAt: 2 });
  assert.equal((await store.getEnvironment(env.id))?.monthlyEventQuota, 20);
  assert.equal(calls.get('getEnvironment'), 2);
});

test('topics: a new topic is found at once (misses are not kept); a deleted one is gone at once', async () => {
  const store = withRegistryCache(counted, 60_000);
  const env = await newEnvironment(store);
  assert.equal(await store.getTopic(env.id, 'orders'), null);
  await store.insertTopic(env.id, { name: 'orders', description: null, eventTypes: [], appId: null, createdAt: 1, updatedAt: 1 });
  assert.equal((await store.getTopic(env.id, 'orders'))?.name, 'orders');
  await store.deleteTopic(env.id, 'orders');
  assert.equal(await store.getTopic(env.id, 'orders'), null);
});

test('a change made behind the cache (another process) is seen once the entry expires', async () => {
  const store = withRegistryCache(counted, 50);
  const env = await newEnvironment(store);
  assert.equal((await store.getEnvironment(env.id))?.monthlyEventQuota, 10);
  await testStore.store.updateEnvironment({ ...env, monthlyEventQuota: 30, updatedAt: 2 });
  assert.equal((await store.getEnvironment(env.id))?.monthlyEventQuota, 10, 'still cached');
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal((await store.getEnvironment(env.id))?.monthlyEventQuota, 30);
});

// ── bounds and per-name entries ─────────────────────────────────────────────────

/** Small bounds, so a flood needs only a few dozen rows; entries of `eventType(…, 2000)` are ~2.3 KB. */
const SMALL: CacheLimits = { totalBytes: 64 * 1024, environmentBytes: 24 * 1024, entryBytes: 8 * 1024 };

/** An event type whose JSON Schema is about `schemaChars` long. */
function eventType(name: string, schemaChars: number): EventType {
  const schema = { type: 'object', description: 'x'.repeat(schemaChars) };
  return { name, description: null, category: null, schema, example: undefined, schemaVersion: 1, archivedAt: null, createdAt: 1, updatedAt: 1 };
}

/** Inserts `count` types `${prefix}0…` behind the cache (so nothing is dropped) and a topic holding them. */
async function seedTypes(env: Environment, prefix: string, count: number, schemaChars: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  for (const name of names) await testStore.store.insertEventType(env.id, eventType(name, schemaChars));
  await testStore.store.insertTopic(env.id, { name: `${prefix}topic`, description: null, eventTypes: names, appId: null, createdAt: 1, updatedAt: 1 });
  return names;
}

function statsOf(store: Store) {
  const stats = registryCacheStats(store);
  assert.ok(stats, 'a store made by withRegistryCache has stats');
  return stats;
}

test('event types and their topics are kept per name: an overlapping list reaches the store only for the new names', async () => {
  const store = withRegistryCache(counted, 60_000);
  const env = await newEnvironment(store);
  await seedTypes(env, 'pn', 3, 10);
  namesAsked.length = 0;

  assert.deepEqual([...(await store.getEventTypes(env.id, ['pn0', 'pn1'])).keys()].sort(), ['pn0', 'pn1']);
  assert.deepEqual([...(await store.getEventTypes(env.id, ['pn1', 'pn2', 'pn0', 'pn2'])).keys()].sort(), ['pn0', 'pn1', 'pn2']);
  assert.deepEqual([...(await store.topicsContaining(env.id, ['pn0', 'pn1']))], [['pn0', ['pntopic']], ['pn1', ['pntopic']]]);
  // In the order asked, as the store answers; an unknown name answers [] and is asked again each time.
  const routes = await store.topicsContaining(env.id, ['nope', 'pn1', 'pn2']);
  assert.deepEqual([...routes], [['nope', []], ['pn1', ['pntopic']], ['pn2', ['pntopic']]]);
  assert.equal((await store.getEventTypes(env.id, ['pn0', 'nope'])).size, 1);
  assert.equal((await store.getEventTypes(env.id, ['pn0', 'nope'])).size, 1);
  assert.deepEqual(namesAsked, [
    { method: 'getEventTypes', names: ['pn0', 'pn1'] },
    { method: 'getEventTypes', names: ['pn2'] },
    { method: 'topicsContaining', names: ['pn0', 'pn1'] },
    { method: 'topicsContaining', names: ['nope', 'pn2'] },
    { method: 'getEventTypes', names: ['nope'] },
    { method: 'getEventTypes', names: ['nope'] },
  ]);

  // A write through the cache drops the per-name entries too.
  await store.updateEventType(env.id, { ...eventType('pn1', 20), schemaVersion: 2 });
  assert.equal((await store.getEventTypes(env.id, ['pn0', 'pn1'])).get('pn1')?.schemaVersion, 2);
  assert.deepEqual(namesAsked.at(-1), { method: 'getEventTypes', names: ['pn0', 'pn1'] });
});

test('names that do not exist make no entry, however many a tenant invents', async () => {
  const store = withRegistryCache(counted, 60_000, SMALL);
  const env = await newEnvironment(store);
  for (let i = 0; i < 200; i++) {
    const invented = Array.from({ length: 20 }, (_, j) => `ghost${i}x${j}`);
    assert.equal((await store.getEventTypes(env.id, invented)).size, 0);
    assert.equal((await store.topicsContaining(env.id, invented)).size, 20);
  }
  assert.equal(statsOf(store).byEnvironment.get(env.id), undefined);
  calls.clear();
  const again = Array.from({ length: 20 }, (_, j) => `ghost0x${j}`);
  await store.getEventTypes(env.id, again);
  await store.topicsContaining(env.id, again);
  assert.deepEqual([calls.get('getEventTypes'), calls.get('topicsContaining')], [1, 1], 'a list asked before is asked again');
});

test('a flood of distinct type lists from several environments never passes the byte budget; the least recently used go first', async () => {
  const store = withRegistryCache(counted, 60_000, SMALL);
  const envs: Environment[] = [];
  const names = new Map<string, string[]>();
  for (let e = 0; e < 4; e++) {
    const env = await newEnvironment(store);
    envs.push(env);
    names.set(env.id, await seedTypes(env, `fl${e}_`, 12, 2000));
  }
  const first = envs[0] as Environment;
  const [kept, dropped] = names.get(first.id) as string[];
  await store.getEventTypes(first.id, [kept as string, dropped as string]);
  let peak = 0;
  for (let round = 0; round < 30; round++) {
    for (const env of envs) {
      const own = names.get(env.id) as string[];
      // A list never asked before: a rotating window of the environment's types plus invented names.
      const list = [...own.slice(round % 6, (round % 6) + 4 + (round % 5)), `ghost${round}`];
      await store.getEventTypes(env.id, list);
      await store.topicsContaining(env.id, list);
      const stats = statsOf(store);
      peak = Math.max(peak, stats.bytes);
      assert.ok(stats.bytes <= SMALL.totalBytes, `${stats.bytes} bytes kept`);
      for (const [id, share] of stats.byEnvironment) assert.ok(share.bytes <= SMALL.environmentBytes, `${id}: ${share.bytes} bytes`);
    }
    await store.getEventTypes(first.id, [kept as string]);
  }
  assert.ok(peak > SMALL.totalBytes * 0.75, `the budget is used (${peak} bytes at most)`);
  calls.clear();
  await store.getEventTypes(first.id, [kept as string]);
  assert.equal(calls.get('getEventTypes'), undefined, 'read every round: still kept');
  await store.getEventTypes(first.id, [dropped as string]);
  assert.equal(calls.get('getEventTypes'), 1, 'read once at the start: evicted');
});

test("one environment's flood evicts its own entries, not another environment's", async () => {
  const store = withRegistryCache(counted, 60_000, SMALL);
  const quiet = await newEnvironment(store);
  const noisy = await newEnvironment(store);
  const quietTypes = await seedTypes(quiet, 'qt', 4, 2000);
  const noisyTypes = await seedTypes(noisy, 'nz', 40, 2000);
  await store.getEnvironment(quiet.id);
  await store.getEventTypes(quiet.id, quietTypes);
  await store.topicsContaining(quiet.id, quietTypes);
  const quietBytes = statsOf(store).byEnvironment.get(quiet.id)?.bytes;

  for (let i = 0; i + 3 <= noisyTypes.length; i++) {
    const list = noisyTypes.slice(i, i + 3);
    await store.getEventTypes(noisy.id, list);
    await store.topicsContaining(noisy.id, list);
    assert.ok((statsOf(store).byEnvironment.get(noisy.id)?.bytes ?? 0) <= SMALL.environmentBytes);
  }
  assert.equal(statsOf(store).byEnvironment.get(quiet.id)?.bytes, quietBytes);
  calls.clear();
  await store.getEnvironment(quiet.id);
  await store.getEventTypes(quiet.id, quietTypes);
  await store.topicsContaining(quiet.id, quietTypes);
  assert.equal(calls.size, 0, 'the quiet environment is served from the cache');
  await store.getEventTypes(noisy.id, noisyTypes.slice(0, 3));
  assert.equal(calls.get('getEventTypes'), 1, "the noisy environment's first list was evicted");
});

test('an entry larger than the entry bound is not kept', async () => {
  const store = withRegistryCache(counted, 60_000, SMALL);
  const env = await newEnvironment(store);
  await testStore.store.insertEventType(env.id, eventType('huge', SMALL.entryBytes));
  calls.clear();
  assert.equal((await store.getEventTypes(env.id, ['huge'])).size, 1);
  assert.equal((await store.getEventTypes(env.id, ['huge'])).size, 1);
  assert.equal(calls.get('getEventTypes'), 2);
  assert.equal(statsOf(store).byEnvironment.get(env.id), undefined);
});

test('expired entries are swept as soon as space is needed', async () => {
  const store = withRegistryCache(counted, 50, SMALL);
  const old = await newEnvironment(store);
  const fresh = await newEnvironment(store);
  await store.getEventTypes(old.id, await seedTypes(old, 'ex', 8, 2000));
  const newTypes = await seedTypes(fresh, 'fr', 12, 2000);
  await new Promise((resolve) => setTimeout(resolve, 80));
  // The fresh environment fills its share: the first eviction it needs sweeps every expired entry.
  await store.getEventTypes(fresh.id, newTypes);
  const stats = statsOf(store);
  assert.equal(stats.byEnvironment.get(old.id), undefined);
  assert.equal(stats.entries, stats.byEnvironment.get(fresh.id)?.entries);
});

test('default bounds: schemas near 1 MiB are kept, and one environment holds at most its share', async () => {
  const store = withRegistryCache(counted, 60_000);
  const env = await newEnvironment(store);
  const big = await seedTypes(env, 'mib', 6, 1000 * 1024);
  for (const name of big) await store.getEventTypes(env.id, [name]);
  const share = statsOf(store).byEnvironment.get(env.id);
  assert.ok(share && share.entries >= 3 && share.bytes <= REGISTRY_CACHE_LIMITS.environmentBytes, JSON.stringify(share));
  calls.clear();
  await store.getEventTypes(env.id, big.slice(-1));
  assert.equal(calls.get('getEventTypes'), undefined, 'the latest is kept');
  await store.getEventTypes(env.id, big.slice(0, 1));
  assert.equal(calls.get('getEventTypes'), 1, 'the first was evicted');
});
