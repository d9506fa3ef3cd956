/**
 * The fair claim on SQLite, as a few small prepared statements run synchronously in one
 * transaction. SQLite runs in this process, so statements cost no round trips, and small ones beat
 * one big statement: the single statement (with window functions over correlated subqueries) took
 * 0.6 ms to lease 4 deliveries of a backlogged subscription, these take a fraction of that. They
 * go straight to better-sqlite3, not through Kysely: building, compiling and awaiting each of them
 * cost more than running them (see SqliteStore.exclusive for how that stays safe).
 *
 * 1. In-flight counts per subscription (deliveries_leased: a few hundred rows at most).
 * 2. `heads`: one waiting delivery per subscription, found by skipping through
 *    deliveries_due_by_subscription (a loose index scan; the next subscription in the same
 *    environment, else the first of the next environment, because SQLite ranges an index on the
 *    first column of a row-value comparison only): cost grows with the number of subscriptions
 *    that have work waiting, not with the number of deliveries waiting. The first version ranked
 *    every due row on every claim, which at 50,000 queued spent most of the process's CPU.
 * 3. For each subscription with room under the cap, its first due deliveries, numbered after
 *    those it has in flight (one UNION ALL of per-subscription LIMITed reads per 100 subscriptions).
 * 4. Rank 1 of every subscription before rank 2 of any; the soonest due first within a rank.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { ClaimOptions } from '../delivery-store.ts';
import type { DeliveriesTable } from '../schema.ts';

/** SQLite allows 500 terms in a compound SELECT; each subscription's due rows are one term. */
const HEADS_PER_STATEMENT = 100;

const INFLIGHT_SQL = `SELECT environment_id, subscription_id, count(*) AS n FROM deliveries
  WHERE status = 'delivering' GROUP BY environment_id, subscription_id`;

const HEADS_SQL = `WITH RECURSIVE heads(rid) AS (
    SELECT (SELECT rowid FROM deliveries INDEXED BY deliveries_due_by_subscription
            WHERE status IN ('pending', 'scheduled')
            ORDER BY environment_id, subscription_id, next_attempt_at, id LIMIT 1)
    UNION ALL
    SELECT coalesce(
      (SELECT d.rowid FROM deliveries d INDEXED BY deliveries_due_by_subscription
       WHERE d.status IN ('pending', 'scheduled')
         AND d.environment_id = h.environment_id AND d.subscription_id > h.subscription_id
       ORDER BY d.environment_id, d.subscription_id, d.next_attempt_at, d.id LIMIT 1),
      (SELECT d.rowid FROM deliveries d INDEXED BY deliveries_due_by_subscription
       WHERE d.status IN ('pending', 'scheduled') AND d.environment_id > h.environment_id
       ORDER BY d.environment_id, d.subscription_id, d.next_attempt_at, d.id LIMIT 1))
    FROM heads CROSS JOIN deliveries h ON h.rowid = heads.rid
  )
  SELECT h.environment_id, h.subscription_id, h.next_attempt_at FROM heads CROSS JOIN deliveries h ON h.rowid = heads.rid`;

/** One subscription's first due rows: a term of the UNION ALL (its k, environment, subscription, now, limit). */
const DUE_TERM = `SELECT * FROM (
    SELECT ? AS k, rowid AS rid, next_attempt_at, id FROM deliveries INDEXED BY deliveries_due_by_subscription
    WHERE environment_id = ? AND subscription_id = ?
      AND status IN ('pending', 'scheduled') AND next_attempt_at <= ?
    ORDER BY next_attempt_at, id LIMIT ?)`;

interface Candidate {
  rid: number;
  rank: number;
  next: number;
}

interface Head {
  environment_id: string;
  subscription_id: string;
  next_attempt_at: number;
}

/** The claim's statements, prepared once per connection (the due-rows read once per number of terms). */
export class SqliteClaim {
  private readonly inflight: BetterSqlite3.Statement;
  private readonly heads: BetterSqlite3.Statement;
  private readonly dueByTerms = new Map<number, BetterSqlite3.Statement>();
  private readonly leaseByCount = new Map<number, BetterSqlite3.Statement>();

  constructor(private readonly raw: BetterSqlite3.Database) {
    this.inflight = raw.prepare(INFLIGHT_SQL);
    this.heads = raw.prepare(HEADS_SQL);
  }

  /**
   * Runs inside the caller's transaction. Returns the leased rows, and whether due deliveries were
   * left waiting (for a free slot under a subscription's cap, or beyond `limit`).
   */
  claim(options: ClaimOptions): { rows: DeliveriesTable[]; moreDue: boolean } {
    const { workerId, now, limit, perSubscriptionCap: cap, leaseMs } = options;
    const busy = new Map<string, number>();
    for (const r of this.inflight.all() as { environment_id: string; subscription_id: string; n: number }[]) {
      busy.set(`${r.environment_id}\u0000${r.subscription_id}`, r.n);
    }
    // A head is its subscription's soonest waiting delivery: later than now, nothing is due there.
    // Only `limit` subscriptions can place a rank-1 delivery in the batch: those with the fewest in
    // flight, and among equals the one waiting longest (so none is passed over claim after claim).
    // Reading every subscription's due rows made a claim for 10 free slots cost as much as one for
    // 100 and held fan-out to 100 subscriptions at 2,000 deliveries/s.
    const due = (this.heads.all() as Head[])
      .filter((head) => head.next_attempt_at <= now)
      .map((head) => ({ ...head, n: busy.get(`${head.environment_id}\u0000${head.subscription_id}`) ?? 0 }));
    const open = due
      .filter((head) => head.n < cap)
      .sort((a, b) => a.n - b.n || a.next_attempt_at - b.next_attempt_at)
      .slice(0, limit);
    // Left waiting: a due subscription at its cap or past the first `limit`; set below when one
    // read came back full (its subscription may have more) or more candidates came than fit.
    let moreDue = open.length < due.length;
    const cut = rankCut(
      open.map((head) => head.n),
      cap,
      limit,
    );
    const reading = open.filter((head) => head.n < cut);
    const candidates: Candidate[] = [];
    for (let i = 0; i < reading.length; i += HEADS_PER_STATEMENT) {
      const chunk = reading.slice(i, i + HEADS_PER_STATEMENT);
      const params: unknown[] = [];
      chunk.forEach((head, k) => params.push(k, head.environment_id, head.subscription_id, now, cut - head.n));
      const rows = this.dueRows(chunk.length).all(params) as { k: number; rid: number; next_attempt_at: number; id: string }[];
      const bySubscription = new Map<number, { rid: number; next_attempt_at: number; id: string }[]>();
      for (const row of rows) {
        const list = bySubscription.get(row.k);
        if (list) list.push(row);
        else bySubscription.set(row.k, [row]);
      }
      for (const [k, list] of bySubscription) {
        list.sort((a, b) => a.next_attempt_at - b.next_attempt_at || (a.id < b.id ? -1 : 1));
        const n = chunk[k]?.n ?? 0;
        if (list.length >= cut - n) moreDue = true;
        list.forEach((row, rank) => candidates.push({ rid: row.rid, rank: n + rank + 1, next: row.next_attempt_at }));
      }
    }
    if (reading.length < open.length) moreDue = true;
    if (candidates.length === 0) return { rows: [], moreDue };
    if (candidates.length > limit) moreDue = true;
    candidates.sort((a, b) => a.rank - b.rank || a.next - b.next);
    const chosen = candidates.slice(0, limit).map((c) => c.rid);
    return { rows: this.lease(chosen.length).all(workerId, now + leaseMs, now, ...chosen) as DeliveriesTable[], moreDue };
  }

  private dueRows(terms: number): BetterSqlite3.Statement {
    let statement = this.dueByTerms.get(terms);
    if (!statement) {
      statement = this.raw.prepare(Array.from({ length: terms }, () => DUE_TERM).join(' UNION ALL '));
      this.dueByTerms.set(terms, statement);
    }
    return statement;
  }

  private lease(count: number): BetterSqlite3.Statement {
    let statement = this.leaseByCount.get(count);
    if (!statement) {
      statement = this.raw.prepare(`UPDATE deliveries
        SET status = 'delivering', locked_by = ?, lock_expires_at = ?, updated_at = ?
        WHERE rowid IN (${Array.from({ length: count }, () => '?').join(', ')}) AND status IN ('pending', 'scheduled')
        RETURNING *`);
      this.leaseByCount.set(count, statement);
    }
    return statement;
  }
}

/**
 * The highest rank a batch of `limit` can need: the least r at which the subscriptions' ranks
 * n+1..min(r, cap) number `limit`. Rank 1 of every subscription comes before rank 2 of any, so
 * reading further into each backlog only reads rows to leave them (it was most of a claim's time:
 * 2,000 rows read for a batch of 100 over 100 subscriptions). A subscription with fewer due rows
 * than that can leave the batch short; it is filled by the next claim.
 */
export function rankCut(inFlight: readonly number[], cap: number, limit: number): number {
  for (let r = 1; r < cap; r++) {
    let total = 0;
    for (const n of inFlight) total += Math.max(0, r - n);
    if (total >= limit) return r;
  }
  return cap;
}
