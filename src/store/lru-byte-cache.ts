/**
 * A least-recently-used cache bounded in approximate bytes, for values that belong to one
 * environment each (the registry cache's rows). Tenants share one process, so the bound holds
 * across all environments (SPEC §7): a total budget, and a share per environment so that one
 * environment filling its part evicts its own entries, not everyone else's.
 *
 * Sizes are estimates given by the caller when a value is stored (its JSON length, say) plus a
 * fixed overhead per entry; they are never recomputed, so a hit costs a few Map operations.
 * Recency is kept twice: in the environment's own Map (its share is evicted oldest first) and in
 * one Set over all entries (the total budget is evicted oldest first, whatever the environment).
 */

/** Bounds of an {@link LruByteCache}, in approximate bytes. */
export interface CacheLimits {
  /** All environments together. */
  totalBytes: number;
  /** One environment's entries; beyond it the environment's least recently used entries go. */
  environmentBytes: number;
  /** A larger entry is not kept at all (it is fetched each time). */
  entryBytes: number;
}

/**
 * Charged to every entry on top of its key and value estimate: the Map and Set slots, the entry
 * object and the key string's header. It also bounds the number of entries: at most
 * totalBytes / ENTRY_OVERHEAD_BYTES.
 */
export const ENTRY_OVERHEAD_BYTES = 160;

/** What the cache holds now; for tests and diagnostics. */
export interface CacheStats {
  entries: number;
  bytes: number;
  /** Entries and bytes per environment that has any. */
  byEnvironment: Map<string, { entries: number; bytes: number }>;
}

interface Entry {
  environmentId: string;
  key: string;
  value: unknown;
  bytes: number;
  expiresAt: number;
}

/** One environment's entries, least recently used first. */
interface Share {
  entries: Map<string, Entry>;
  bytes: number;
}

export class LruByteCache {
  /** Every entry, least recently used first. */
  readonly #recency = new Set<Entry>();
  readonly #shares = new Map<string, Share>();
  #bytes = 0;
  /** Expired entries are swept when space is needed, at most once per ttlMs (a sweep visits every entry). */
  #nextSweepAt = 0;

  constructor(
    readonly limits: CacheLimits,
    readonly ttlMs: number,
  ) {}

  /** The value kept under (environmentId, key) if it has not expired; undefined otherwise. */
  get(environmentId: string, key: string, now: number): unknown {
    const share = this.#shares.get(environmentId);
    const entry = share?.entries.get(key);
    if (!share || !entry) return undefined;
    if (entry.expiresAt <= now) {
      this.#remove(share, entry);
      return undefined;
    }
    share.entries.delete(key);
    share.entries.set(key, entry);
    this.#recency.delete(entry);
    this.#recency.add(entry);
    return entry.value;
  }

  /**
   * Keeps `value` for ttlMs, evicting as needed to stay within the limits. `valueBytes` is the
   * caller's estimate of the value; the key and ENTRY_OVERHEAD_BYTES are added to it.
   */
  set(environmentId: string, key: string, value: unknown, valueBytes: number, now: number): void {
    const old = this.#shares.get(environmentId)?.entries.get(key);
    if (old) this.#remove(this.#shares.get(environmentId) as Share, old);
    const bytes = valueBytes + key.length + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.limits.entryBytes || bytes > this.limits.environmentBytes || bytes > this.limits.totalBytes) {
      return;
    }
    this.#makeRoom(environmentId, bytes, now);
    let share = this.#shares.get(environmentId);
    if (!share) {
      share = { entries: new Map(), bytes: 0 };
      this.#shares.set(environmentId, share);
    }
    const entry: Entry = { environmentId, key, value, bytes, expiresAt: now + this.ttlMs };
    share.entries.set(key, entry);
    share.bytes += bytes;
    this.#recency.add(entry);
    this.#bytes += bytes;
  }

  dropEnvironment(environmentId: string): void {
    const share = this.#shares.get(environmentId);
    if (!share) return;
    for (const entry of share.entries.values()) this.#recency.delete(entry);
    this.#bytes -= share.bytes;
    this.#shares.delete(environmentId);
  }

  clear(): void {
    this.#recency.clear();
    this.#shares.clear();
    this.#bytes = 0;
  }

  stats(): CacheStats {
    const byEnvironment = new Map<string, { entries: number; bytes: number }>();
    for (const [id, share] of this.#shares) byEnvironment.set(id, { entries: share.entries.size, bytes: share.bytes });
    return { entries: this.#recency.size, bytes: this.#bytes, byEnvironment };
  }

  /** Frees space for `bytes` more in the environment: expired entries first, then the least recently used. */
  #makeRoom(environmentId: string, bytes: number, now: number): void {
    const fits = () => {
      const share = this.#shares.get(environmentId);
      return (share?.bytes ?? 0) + bytes <= this.limits.environmentBytes && this.#bytes + bytes <= this.limits.totalBytes;
    };
    if (fits()) return;
    if (now >= this.#nextSweepAt) {
      this.#nextSweepAt = now + this.ttlMs;
      for (const entry of this.#recency) {
        if (entry.expiresAt <= now) this.#remove(this.#shares.get(entry.environmentId) as Share, entry);
      }
    }
    const share = this.#shares.get(environmentId);
    if (share) {
      for (const entry of share.entries.values()) {
        if (share.bytes + bytes <= this.limits.environmentBytes) break;
        this.#remove(share, entry);
      }
    }
    for (const entry of this.#recency) {
      if (this.#bytes + bytes <= this.limits.totalBytes) break;
      this.#remove(this.#shares.get(entry.environmentId) as Share, entry);
    }
  }

  #remove(share: Share, entry: Entry): void {
    share.entries.delete(entry.key);
    share.bytes -= entry.bytes;
    if (share.entries.size === 0) this.#shares.delete(entry.environmentId);
    this.#recency.delete(entry);
    this.#bytes -= entry.bytes;
  }
}
