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

/** The cache behind each store withRegistryCache returned, for registryCacheStats. */
const cacheOf = new WeakMap<Store, LruByteCache>();

/** The approximate size of a value, taken once when it is stored (a miss), never on a hit. */
const jsonBytes = (value: unknown): number => JSON.stringify(value)?.length ?? 0;

export function withRegistryCache(
  store: Store,
  ttlMs = REGISTRY_CACHE_TTL_MS,
  limits: CacheLimits = REGISTRY_CACHE_LIMITS,
): Store {
  const cache = new LruByteCache(limits, ttlMs);
  const cached = new RegistryCachingStore(store, cache);
  cacheOf.set(cached, cache);
  return cached;
}

/** What the registry cache of a store made by withRegistryCache holds now; undefined for any other store. */
export function registryCacheStats(store: Store): CacheStats | undefined {
  return cacheOf.get(store)?.stats();
}

/**
 * The store with its registry reads cached. Every Store method is written out: the cached reads
 * (whole answers, or per name), the writes that drop their environment's entries (before and
 * after, so a read racing the write cannot keep the old row), and the rest passed through.
 */
class RegistryCachingStore implements Store {
  readonly dialect: Store['dialect'];
  readonly queue: Queue;
  /** Counts drops: a read that saw one happen while it was out does not keep its value. */
  private drops = 0;

  constructor(
    private readonly inner: Store,
    private readonly cache: LruByteCache,
  ) {
    this.dialect = inner.dialect;
    this.queue = this.settlesDropping(inner.queue);
  }

  private dropEnvironment(environmentId: string | null): void {
    this.drops++;
    if (environmentId === null) this.cache.clear();
    else this.cache.dropEnvironment(environmentId);
  }

  /** A write that can change what a cached read returns: `environmentId` null drops every environment. */
  private async write<T>(environmentId: unknown, run: () => Promise<T>): Promise<T> {
    const id = typeof environmentId === 'string' ? environmentId : null;
    this.dropEnvironment(id);
    try {
      return await run();
    } finally {
      this.dropEnvironment(id);
    }
  }

  /** A read kept whole, keyed by its method and arguments; the first argument is the environment id. */
  private async read<T>(method: string, args: readonly unknown[], run: () => Promise<T>): Promise<T> {
    const environmentId = String(args[0]);
    // Each method takes the same kinds of argument every time, so a lone string needs no quoting.
    const key =
      args.length === 1
        ? method
        : args.length === 2 && typeof args[1] === 'string'
          ? `${method}\u0000${args[1]}`
          : `${method}\u0000${JSON.stringify(args.slice(1))}`;
    const hit = this.cache.get(environmentId, key, performance.now());
    if (hit !== undefined) return hit as T;
    const dropsBefore = this.drops;
    const value = await run();
    if (value !== null && this.drops === dropsBefore) this.cache.set(environmentId, key, value, jsonBytes(value), performance.now());
    return value;
  }

  /**
   * A read of `(environmentId, names)` answering a Map by name, kept one entry per name. `keep`
   * says whether a name's answer shows that it exists; `answersEveryName`, whether the store
   * answers every name asked (else it leaves out those that do not exist).
   */
  private async readByName<V>(
    method: string,
    environmentId: string,
    names: readonly string[],
    options: { keep: (value: V) => boolean; answersEveryName: boolean },
    run: (missing: string[]) => Promise<Map<string, V>>,
  ): Promise<Map<string, V>> {
    const now = performance.now();
    const answer = new Map<string, V>();
    const missing = new Set<string>();
    for (const each of names) {
      if (answer.has(each) || missing.has(each)) continue;
      const hit = this.cache.get(environmentId, `${method}\u0000${each}`, now);
      if (hit !== undefined) answer.set(each, hit as V);
      else {
        missing.add(each);
        // Holds the name's place, so the answer lists names in the order asked, as the store's does.
        if (options.answersEveryName) answer.set(each, undefined as V);
      }
    }
    if (missing.size === 0) return answer;
    const dropsBefore = this.drops;
    const fetched = await run([...missing]);
    const stored = performance.now();
    for (const [each, value] of fetched) {
      answer.set(each, value);
      if (this.drops === dropsBefore && options.keep(value)) {
        this.cache.set(environmentId, `${method}\u0000${each}`, value, jsonBytes(value), stored);
      }
    }
    return answer;
  }

  /** A settle can disable its subscription (failures, 410): fan-out must stop at once. */
  private settlesDropping(inner: Queue): Queue {
    return {
      recover: (now) => inner.recover(now),
      claim: (options) => inner.claim(options),
      extendLeases: (workerId, keys, until) => inner.extendLeases(workerId, keys, until),
      settle: async (inputs) => {
        const effects = await inner.settle(inputs);
        effects.forEach((effect, i) => {
          if (effect.disabled) this.dropEnvironment(inputs[i]?.environmentId ?? null);
        });
        return effects;
      },
      cancelClaimed: (environmentId, id, workerId, now) => inner.cancelClaimed(environmentId, id, workerId, now),
      releaseClaimed: (environmentId, ids, workerId, now) => inner.releaseClaimed(environmentId, ids, workerId, now),
      reapExpired: (now) => inner.reapExpired(now),
      nextDueAt: (after) => inner.nextDueAt(after),
    };
  }

  /** Event types by name; names that do not exist make no entry. */
  getEventTypes(environmentId: string, names: readonly string[]): ReturnType<Store['getEventTypes']> {
    return this.readByName('getEventTypes', environmentId, names, { keep: () => true, answersEveryName: false }, (missing) =>
      this.inner.getEventTypes(environmentId, missing),
    );
  }

  /** Topics by event type; a type in no topic (or unknown) answers [] and is read again each time. */
  topicsContaining(environmentId: string, eventTypes: readonly string[]): ReturnType<Store['topicsContaining']> {
    return this.readByName(
      'topicsContaining',
      environmentId,
      eventTypes,
      { keep: (topics: string[]) => topics.length > 0, answersEveryName: true },
      (missing) => this.inner.topicsContaining(environmentId, missing),
    );
  }

  readonly migrate = (...args: Parameters<Store['migrate']>) => this.inner.migrate(...args);
  readonly ping = (...args: Parameters<Store['ping']>) => this.inner.ping(...args);
  readonly close = (...args: Parameters<Store['close']>) => this.inner.close(...args);

  bootstrapFirstEnvironment(...args: Parameters<Store['bootstrapFirstEnvironment']>): ReturnType<Store['bootstrapFirstEnvironment']> {
    return this.write(null, () => this.inner.bootstrapFirstEnvironment(...args)) as ReturnType<Store['bootstrapFirstEnvironment']>;
  }

  insertEnvironment(...args: Parameters<Store['insertEnvironment']>): ReturnType<Store['insertEnvironment']> {
    return this.write(null, () => this.inner.insertEnvironment(...args)) as ReturnType<Store['insertEnvironment']>;
  }

  readonly listEnvironments = (...args: Parameters<Store['listEnvironments']>) => this.inner.listEnvironments(...args);

  getEnvironment(...args: Parameters<Store['getEnvironment']>): ReturnType<Store['getEnvironment']> {
    return this.read('getEnvironment', args, () => this.inner.getEnvironment(...args)) as ReturnType<Store['getEnvironment']>;
  }

  updateEnvironment(...args: Parameters<Store['updateEnvironment']>): ReturnType<Store['updateEnvironment']> {
    return this.write(args[0], () => this.inner.updateEnvironment(...args)) as ReturnType<Store['updateEnvironment']>;
  }

  deleteEnvironment(...args: Parameters<Store['deleteEnvironment']>): ReturnType<Store['deleteEnvironment']> {
    return this.write(args[0], () => this.inner.deleteEnvironment(...args)) as ReturnType<Store['deleteEnvironment']>;
  }

  insertApiKey(...args: Parameters<Store['insertApiKey']>): ReturnType<Store['insertApiKey']> {
    return this.write(args[0], () => this.inner.insertApiKey(...args)) as ReturnType<Store['insertApiKey']>;
  }

  readonly listApiKeys = (...args: Parameters<Store['listApiKeys']>) => this.inner.listApiKeys(...args);

  getApiKey(...args: Parameters<Store['getApiKey']>): ReturnType<Store['getApiKey']> {
    return this.read('getApiKey', args, () => this.inner.getApiKey(...args)) as ReturnType<Store['getApiKey']>;
  }

  deleteApiKey(...args: Parameters<Store['deleteApiKey']>): ReturnType<Store['deleteApiKey']> {
    return this.write(args[0], () => this.inner.deleteApiKey(...args)) as ReturnType<Store['deleteApiKey']>;
  }

  insertCategory(...args: Parameters<Store['insertCategory']>): ReturnType<Store['insertCategory']> {
    return this.write(args[0], () => this.inner.insertCategory(...args)) as ReturnType<Store['insertCategory']>;
  }

  readonly listCategories = (...args: Parameters<Store['listCategories']>) => this.inner.listCategories(...args);
  readonly getCategory = (...args: Parameters<Store['getCategory']>) => this.inner.getCategory(...args);

  updateCategory(...args: Parameters<Store['updateCategory']>): ReturnType<Store['updateCategory']> {
    return this.write(args[0], () => this.inner.updateCategory(...args)) as ReturnType<Store['updateCategory']>;
  }

  deleteCategory(...args: Parameters<Store['deleteCategory']>): ReturnType<Store['deleteCategory']> {
    return this.write(args[0], () => this.inner.deleteCategory(...args)) as ReturnType<Store['deleteCategory']>;
  }

  insertEventType(...args: Parameters<Store['insertEventType']>): ReturnType<Store['insertEventType']> {
    return this.write(args[0], () => this.inner.insertEventType(...args)) as ReturnType<Store['insertEventType']>;
  }

  readonly listEventTypes = (...args: Parameters<Store['listEventTypes']>) => this.inner.listEventTypes(...args);
  readonly getEventType = (...args: Parameters<Store['getEventType']>) => this.inner.getEventType(...args);

  updateEventType(...args: Parameters<Store['updateEventType']>): ReturnType<Store['updateEventType']> {
    return this.write(args[0], () => this.inner.updateEventType(...args)) as ReturnType<Store['updateEventType']>;
  }

  insertApp(...args: Parameters<Store['insertApp']>): ReturnType<Store['insertApp']> {
    return this.write(args[0], () => this.inner.insertApp(...args)) as ReturnType<Store['insertApp']>;
  }

  readonly listApps = (...args: Parameters<Store['listApps']>) => this.inner.listApps(...args);
  readonly getApp = (...args: Parameters<Store['getApp']>) => this.inner.getApp(...args);

  updateApp(...args: Parameters<Store['updateApp']>): ReturnType<Store['updateApp']> {
    return this.write(args[0], () => this.inner.updateApp(...args)) as ReturnType<Store['updateApp']>;
  }

  deleteApp(...args: Parameters<Store['deleteApp']>): ReturnType<Store['deleteApp']> {
    return this.write(args[0], () => this.inner.deleteApp(...args)) as ReturnType<Store['deleteApp']>;
  }

  insertTopic(...args: Parameters<Store['insertTopic']>): ReturnType<Store['insertTopic']> {
    return this.write(args[0], () => this.inner.insertTopic(...args)) as ReturnType<Store['insertTopic']>;
  }

  readonly listTopics = (...args: Parameters<Store['listTopics']>) => this.inner.listTopics(...args);

  getTopic(...args: Parameters<Store['getTopic']>): ReturnType<Store['getTopic']> {
    return this.read('getTopic', args, () => this.inner.getTopic(...args)) as ReturnType<Store['getTopic']>;
  }

  updateTopic(...args: Parameters<Store['updateTopic']>): ReturnType<Store['updateTopic']> {
    return this.write(args[0], () => this.inner.updateTopic(...args)) as ReturnType<Store['updateTopic']>;
  }

  deleteTopic(...args: Parameters<Store['deleteTopic']>): ReturnType<Store['deleteTopic']> {
    return this.write(args[0], () => this.inner.deleteTopic(...args)) as ReturnType<Store['deleteTopic']>;
  }

  readonly acceptEvents = (...args: Parameters<Store['acceptEvents']>) => this.inner.acceptEvents(...args);
  readonly listEvents = (...args: Parameters<Store['listEvents']>) => this.inner.listEvents(...args);
  readonly getEvent = (...args: Parameters<Store['getEvent']>) => this.inner.getEvent(...args);
  readonly getMonthlyUsage = (...args: Parameters<Store['getMonthlyUsage']>) => this.inner.getMonthlyUsage(...args);

  insertSubscription(...args: Parameters<Store['insertSubscription']>): ReturnType<Store['insertSubscription']> {
    return this.write(args[0], () => this.inner.insertSubscription(...args)) as ReturnType<Store['insertSubscription']>;
  }

  readonly listSubscriptions = (...args: Parameters<Store['listSubscriptions']>) => this.inner.listSubscriptions(...args);
  readonly getSubscription = (...args: Parameters<Store['getSubscription']>) => this.inner.getSubscription(...args);

  updateSubscription(...args: Parameters<Store['updateSubscription']>): ReturnType<Store['updateSubscription']> {
    return this.write(args[0], () => this.inner.updateSubscription(...args)) as ReturnType<Store['updateSubscription']>;
  }

  deleteSubscription(...args: Parameters<Store['deleteSubscription']>): ReturnType<Store['deleteSubscription']> {
    return this.write(args[0], () => this.inner.deleteSubscription(...args)) as ReturnType<Store['deleteSubscription']>;
  }

  fanoutTargets(...args: Parameters<Store['fanoutTargets']>): ReturnType<Store['fanoutTargets']> {
    return this.read('fanoutTargets', args, () => this.inner.fanoutTargets(...args)) as ReturnType<Store['fanoutTargets']>;
  }

  readonly markEmailPending = (...args: Parameters<Store['markEmailPending']>) => this.inner.markEmailPending(...args);
  readonly subscriptionsOwedEmail = (...args: Parameters<Store['subscriptionsOwedEmail']>) => this.inner.subscriptionsOwedEmail(...args);
  readonly claimEmailBudget = (...args: Parameters<Store['claimEmailBudget']>) => this.inner.claimEmailBudget(...args);
  readonly recordEmailSent = (...args: Parameters<Store['recordEmailSent']>) => this.inner.recordEmailSent(...args);
  readonly insertDeliveries = (...args: Parameters<Store['insertDeliveries']>) => this.inner.insertDeliveries(...args);
  readonly pruneRound = (...args: Parameters<Store['pruneRound']>) => this.inner.pruneRound(...args);
  readonly getDelivery = (...args: Parameters<Store['getDelivery']>) => this.inner.getDelivery(...args);
  readonly listDeliveries = (...args: Parameters<Store['listDeliveries']>) => this.inner.listDeliveries(...args);
  readonly listAttempts = (...args: Parameters<Store['listAttempts']>) => this.inner.listAttempts(...args);
  readonly requeueDelivery = (...args: Parameters<Store['requeueDelivery']>) => this.inner.requeueDelivery(...args);
  readonly cancelScheduledDeliveries = (...args: Parameters<Store['cancelScheduledDeliveries']>) => this.inner.cancelScheduledDeliveries(...args);
  readonly eventsForReplay = (...args: Parameters<Store['eventsForReplay']>) => this.inner.eventsForReplay(...args);
  readonly subscriptionStats = (...args: Parameters<Store['subscriptionStats']>) => this.inner.subscriptionStats(...args);
}
