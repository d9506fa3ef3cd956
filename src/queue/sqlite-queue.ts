/**
 * The queue on SQLite: one process owns the database, so claims need no lane locks, and every
 * operation is prepared statements run synchronously on the raw connection, inside `exclusive`
 * (the store's guard that no Kysely transaction is open around them).
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { ClaimOptions, ClaimedBatch, Queue, SettleEffects, SettleInput } from './queue.ts';
import { RATE_LEAD_MS } from './lane-plan.ts';
import { SqliteClaim } from './sqlite-claim.ts';
import { SqliteSettle } from './sqlite-settle.ts';

/** Leases renewed per statement: well under SQLite's bound-parameter limit. */
const CHUNK = 200;

export type Exclusive = <T>(work: () => T) => Promise<T>;

export class SqliteQueue implements Queue {
  private prepared: {
    claim: SqliteClaim;
    settle: SqliteSettle;
    releaseAll: BetterSqlite3.Statement;
    reap: BetterSqlite3.Statement;
    cancel: BetterSqlite3.Statement;
    release: BetterSqlite3.Statement;
    nextDueAfter: BetterSqlite3.Statement;
    extend: Map<number, BetterSqlite3.Statement>;
  } | null = null;

  constructor(
    private readonly raw: BetterSqlite3.Database,
    private readonly exclusive: Exclusive,
  ) {}

  /** Prepared on first use: the tables exist only once the store has migrated. */
  private get sql() {
    this.prepared ??= {
      claim: new SqliteClaim(this.raw),
      settle: new SqliteSettle(this.raw),
      releaseAll: this.raw.prepare(
        "UPDATE deliveries SET status = 'pending', locked_by = NULL, lock_expires_at = NULL, updated_at = ? WHERE status = 'delivering'",
      ),
      reap: this.raw.prepare(
        "UPDATE deliveries SET status = 'pending', locked_by = NULL, lock_expires_at = NULL, updated_at = ? WHERE status = 'delivering' AND lock_expires_at < ?",
      ),
      cancel: this.raw.prepare(`UPDATE deliveries SET status = 'cancelled', locked_by = NULL, lock_expires_at = NULL, updated_at = ?
        WHERE environment_id = ? AND id = ? AND status = 'delivering' AND locked_by = ?`),
      release: this.raw.prepare(`UPDATE deliveries SET status = 'pending', locked_by = NULL, lock_expires_at = NULL,
          next_attempt_at = min(next_attempt_at, ?), updated_at = ?
        WHERE environment_id = ? AND id = ? AND status = 'delivering' AND locked_by = ?`),
      // The waiting deliveries' soonest attempt, a rate-limited lane's gate, or an open breaker's probe: the soonest.
      nextDueAfter: this.raw.prepare(`SELECT min(
          coalesce((SELECT min(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'scheduled') AND next_attempt_at > ?), 9e15),
          coalesce((SELECT min(next_send_at) - ${RATE_LEAD_MS} FROM lanes WHERE next_send_at > ? + ${RATE_LEAD_MS}), 9e15),
          coalesce((SELECT min(breaker_probe_at) FROM lanes WHERE breaker_opened_at IS NOT NULL AND breaker_probe_at > ?), 9e15)) AS next`),
      extend: new Map(),
    };
    return this.prepared;
  }

  recover(now: number): Promise<number> {
    return this.exclusive(() => this.sql.releaseAll.run(now).changes);
  }

  claim(options: ClaimOptions): Promise<ClaimedBatch> {
    const { claim } = this.sql;
    return this.exclusive(() => this.raw.transaction(() => claim.claim(options)).immediate());
  }

  extendLeases(workerId: string, keys: readonly { environmentId: string; id: string }[], until: number): Promise<void> {
    return this.exclusive(() => {
      for (let i = 0; i < keys.length; i += CHUNK) {
        const chunk = keys.slice(i, i + CHUNK);
        this.extendStatement(chunk.length).run(until, workerId, ...chunk.flatMap((k) => [k.environmentId, k.id]));
      }
    });
  }

  private extendStatement(count: number): BetterSqlite3.Statement {
    const { extend } = this.sql;
    let statement = extend.get(count);
    if (!statement) {
      statement = this.raw.prepare(`UPDATE deliveries SET lock_expires_at = ?
        WHERE status = 'delivering' AND locked_by = ? AND (environment_id, id) IN (VALUES ${Array.from({ length: count }, () => '(?, ?)').join(', ')})`);
      extend.set(count, statement);
    }
    return statement;
  }

  async settle(inputs: readonly SettleInput[]): Promise<SettleEffects[]> {
    if (inputs.length === 0) return [];
    const { settle } = this.sql;
    return this.exclusive(() => this.raw.transaction(() => settle.settle(inputs)).immediate());
  }

  async cancelClaimed(environmentId: string, id: string, workerId: string, now: number): Promise<void> {
    await this.exclusive(() => this.sql.cancel.run(now, environmentId, id, workerId));
  }

  async releaseClaimed(environmentId: string, ids: readonly string[], workerId: string, now: number): Promise<void> {
    const { release } = this.sql;
    await this.exclusive(() => {
      for (const id of ids) release.run(now, now, environmentId, id, workerId);
    });
  }

  reapExpired(now: number): Promise<number> {
    return this.exclusive(() => this.sql.reap.run(now, now).changes);
  }

  async nextDueAt(after: number): Promise<number | null> {
    const { nextDueAfter } = this.sql;
    const row = await this.exclusive(() => nextDueAfter.get(after, after, after) as { next: number | null } | undefined);
    const next = row?.next ?? null;
    return next === null || next >= 9e15 ? null : next;
  }
}
