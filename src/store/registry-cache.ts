/**
 * A read cache for the registry rows every publish looks up: the API key, the environment, the
 * topic, the event types and the subscriptions to fan out to. On PostgreSQL those were six round
 * trips before the one transaction that stores a publish, and under load each waited for a pooled
 * connection: 2.4 ms apiece, most of a single-event publish's time.
 *
 * Writes made through this store drop the environment's entries at once, so this process never
 * sees its own change late. A change made by another process (a second API process on PostgreSQL,
 * or the `herald` command beside a SQLite server) is seen once the entry expires: within ttlMs.
 * Misses are not kept, so a row created elsewhere is found at once.
 *
 * Tenants choose what is read (the types in a batch), so the cache is bounded in approximate bytes
 * across all environments, with a share per environment (see LruByteCache). Event types and the
 * topics containing them are kept per name, not per list: a batch of types never seen together
 * still hits for the ones already read, and names that do not exist make no entry at all.
 */
import type { Queue } from '../queue/queue.ts';
import { type CacheLimits, type CacheStats, LruByteCache } from './lru-byte-cache.ts';
import type { Store } from './store.ts';

/** How long a read is kept: a change made by another process is seen within this. Default of withRegistryCache. */
export const REGISTRY_CACHE_TTL_MS = 2000;

/**
 * Default bounds, in approximate bytes (JSON length of the values plus keys and a fixed overhead;
 * parsed objects take a small multiple of that on the heap). 4 MiB holds a few hundred ordinary
 * event types of one environment, 32 MiB eight such environments at their fullest; an entry may be
 * up to 2 MiB, so an event type whose schema filled a 1 MiB request body (the default body limit)
 * is still kept.
 */
export const REGISTRY_CACHE_LIMITS: Readonly<CacheLimits> = Object.freeze({
  totalBytes: 32 * 1024 * 1024,
  environmentBytes: 4 * 1024 * 1024,
  entryBytes: 2 * 1024 * 1024,
});

/** Reads kept whole, by method name. The first argument of each is the environment id. */
const CACHED = new Set(['getEnvironment', 'getApiKey', 'getTopic', 'fanoutTargets']);

/**
 * Reads `(environmentId, names)` answering a Map by name, kept one entry per name. `keep` says
 * whether a name's answer shows that it exists: getEventTypes leaves unknown names out,
 * topicsContaining answers [] for them (and for a type in no topic, which is read again each time).
 */
const CACHED_BY_NAME: ReadonlyMap<string, { keep: (value: unknown) => boolean; answersEveryName: boolean }> = new Map([
  ['getEventTypes', { keep: () => true, answersEveryName: false }],
  ['topicsContaining', { keep: (topics: unknown) => (topics as string[]).length > 0, answersEveryName: true }],
]);

/** Writes that can change what a cached read returns, keyed by the environment they touch. */
const INVALIDATES_ENVIRONMENT = new Set([
  'updateEnvironment',
  'deleteEnvironment',
  'insertApiKey',
  'deleteApiKey',
  'insertCategory',
  'updateCategory',
  'deleteCategory',
  'insertEventType',
  'updateEventType',
  'insertApp',
  'updateApp',
  'deleteApp',
  'insertTopic',
  'updateTopic',
  'deleteTopic',
  'insertSubscription',
  'updateSubscription',
  'deleteSubscription',
]);

/** Writes whose first argument is an object, not an id: rare, so they drop everything. */
const INVALIDATES_ALL = new Set(['bootstrapFirstEnvironment', 'insertEnvironment']);

/** The cache behind each store withRegistryCache returned, for registryCacheStats. */
const cacheOf = new WeakMap<Store, LruByteCache>();

/** The approximate size of a value, taken once when it is stored (a miss), never on a hit. */
const jsonBytes = (value: unknown): number => JSON.stringify(value)?.length ?? 0;

type Read = (...args: unknown[]) => Promise<unknown>;

export function withRegistryCache(
  store: Store,
  ttlMs = REGISTRY_CACHE_TTL_MS,
  limits: CacheLimits = REGISTRY_CACHE_LIMITS,
): Store {
  const cache = new LruByteCache(limits, ttlMs);
  /** Counts drops: a read that saw one happen while it was out does not keep its value. */
  let drops = 0;
  const dropEnvironment = (environmentId: unknown) => {
    drops++;
    if (typeof environmentId === 'string') cache.dropEnvironment(environmentId);
    else cache.clear();
  };

  const cachedRead = (target: Store, name: string, fn: Read) =>
    async (...args: unknown[]) => {
      const environmentId = String(args[0]);
      // Each method takes the same kinds of argument every time, so a lone string needs no quoting.
      const key =
        args.length === 1
          ? name
          : args.length === 2 && typeof args[1] === 'string'
            ? `${name}\u0000${args[1]}`
            : `${name}\u0000${JSON.stringify(args.slice(1))}`;
      const hit = cache.get(environmentId, key, performance.now());
      if (hit !== undefined) return hit;
      const dropsBefore = drops;
      const value = await fn.apply(target, args);
      if (value !== null && drops === dropsBefore) cache.set(environmentId, key, value, jsonBytes(value), performance.now());
      return value;
    };

  const cachedByName = (target: Store, name: string, fn: Read) => {
    const { keep, answersEveryName } = CACHED_BY_NAME.get(name) as { keep: (value: unknown) => boolean; answersEveryName: boolean };
    return async (environmentId: string, names: readonly string[]) => {
      const now = performance.now();
      const answer = new Map<string, unknown>();
      const missing = new Set<string>();
      for (const each of names) {
        if (answer.has(each) || missing.has(each)) continue;
        const hit = cache.get(environmentId, `${name}\u0000${each}`, now);
        if (hit !== undefined) answer.set(each, hit);
        else {
          missing.add(each);
          // Holds the name's place, so the answer lists names in the order asked, as the store's does.
          if (answersEveryName) answer.set(each, undefined);
        }
      }
      if (missing.size === 0) return answer;
      const dropsBefore = drops;
      // The store answers every name asked (answersEveryName) or leaves out those that do not exist.
      const fetched = (await fn.call(target, environmentId, [...missing])) as Map<string, unknown>;
      const stored = performance.now();
      for (const [each, value] of fetched) {
        answer.set(each, value);
        if (drops === dropsBefore && keep(value)) cache.set(environmentId, `${name}\u0000${each}`, value, jsonBytes(value), stored);
      }
      return answer;
    };
  };

  // A settle can disable its subscription (failures, 410): fan-out must stop at once.
  const inner = store.queue;
  const queue: Queue = {
    recover: (now) => inner.recover(now),
    claim: (options) => inner.claim(options),
    extendLeases: (workerId, keys, until) => inner.extendLeases(workerId, keys, until),
    settle: async (inputs) => {
      const effects = await inner.settle(inputs);
      effects.forEach((effect, i) => {
        if (effect.disabled) dropEnvironment(inputs[i]?.environmentId);
      });
      return effects;
    },
    cancelClaimed: (environmentId, id, workerId, now) => inner.cancelClaimed(environmentId, id, workerId, now),
    reapExpired: (now) => inner.reapExpired(now),
    nextDueAt: (after) => inner.nextDueAt(after),
  };

  const cached = new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'queue') return queue;
      const value = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || typeof value !== 'function') return value;
      const fn = value as Read;
      if (CACHED.has(property)) return cachedRead(target, property, fn);
      if (CACHED_BY_NAME.has(property)) return cachedByName(target, property, fn);
      if (INVALIDATES_ENVIRONMENT.has(property) || INVALIDATES_ALL.has(property)) {
        return async (...args: unknown[]) => {
          // Dropped before and after: a read racing the write cannot keep the old row.
          dropEnvironment(INVALIDATES_ALL.has(property) ? null : args[0]);
          try {
            return await fn.apply(target, args);
          } finally {
            dropEnvironment(INVALIDATES_ALL.has(property) ? null : args[0]);
          }
        };
      }
      return fn.bind(target);
    },
  });
  cacheOf.set(cached, cache);
  return cached;
}

/** What the registry cache of a store made by withRegistryCache holds now; undefined for any other store. */
export function registryCacheStats(store: Store): CacheStats | undefined {
  return cacheOf.get(store)?.stats();
}
