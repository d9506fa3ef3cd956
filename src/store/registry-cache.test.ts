/** The registry cache serves repeated reads without the database and never a row it knows is stale. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { issueKey } from '../core/keys.ts';
import type { Environment } from '../domain/types.ts';
import { type TestStore, makeTestStore } from '../testing/test-store.ts';
import { withRegistryCache } from './registry-cache.ts';
import type { Store } from './store.ts';

let testStore: TestStore;
/** Calls that reached the real store, by method name. */
const calls = new Map<string, number>();
let counted: Store;

before(async () => {
  testStore = await makeTestStore('sqlite');
  counted = new Proxy(testStore.store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        calls.set(property, (calls.get(property) ?? 0) + 1);
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
