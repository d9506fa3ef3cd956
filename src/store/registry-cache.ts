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
 */
import type { SettleEffects } from './delivery-store.ts';
import type { Store } from './store.ts';

/** Reads kept, by method name. The first argument of each is the environment id. */
const CACHED = new Set(['getEnvironment', 'getApiKey', 'getEventTypes', 'getTopic', 'topicsContaining', 'fanoutTargets']);

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

interface Entry {
  value: unknown;
  expiresAt: number;
}

export function withRegistryCache(store: Store, ttlMs = 2000): Store {
  const byEnvironment = new Map<string, Map<string, Entry>>();
  /** Counts drops: a read that saw one happen while it was out does not keep its value. */
  let drops = 0;
  const dropEnvironment = (environmentId: unknown) => {
    drops++;
    if (typeof environmentId === 'string') byEnvironment.delete(environmentId);
    else byEnvironment.clear();
  };

  const cachedRead = (target: Store, name: string, fn: (...args: unknown[]) => Promise<unknown>) =>
    async (...args: unknown[]) => {
      const environmentId = String(args[0]);
      const key = `${name}\u0000${JSON.stringify(args.slice(1))}`;
      const hit = byEnvironment.get(environmentId)?.get(key);
      if (hit && hit.expiresAt > performance.now()) return hit.value;
      const dropsBefore = drops;
      const value = await fn.apply(target, args);
      if (value !== null && drops === dropsBefore) {
        const map = byEnvironment.get(environmentId) ?? new Map<string, Entry>();
        map.set(key, { value, expiresAt: performance.now() + ttlMs });
        byEnvironment.set(environmentId, map);
      }
      return value;
    };

  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      if (CACHED.has(property)) return cachedRead(target, property, fn);
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
      if (property === 'settleDeliveries' || property === 'settleDelivery') {
        // An attempt can disable its subscription (failures, 410): fan-out must stop at once.
        return async (...args: unknown[]) => {
          const result = (await fn.apply(target, args)) as SettleEffects | SettleEffects[];
          const inputs = (Array.isArray(args[0]) ? args[0] : [args[0]]) as { environmentId: string }[];
          const effects = Array.isArray(result) ? result : [result];
          effects.forEach((effect, i) => {
            if (effect.disabled) dropEnvironment(inputs[i]?.environmentId);
          });
          return result;
        };
      }
      return fn.bind(target);
    },
  });
}
