/**
 * The fair claim on PostgreSQL, in one statement (callers hold the claim lock, see
 * PostgresStore.claimDueDeliveries).
 *
 * 1. `heads`: every subscription with a waiting delivery, found by skipping through
 *    deliveries_due_by_subscription (a recursive loose index scan): cost grows with the number of
 *    subscriptions that have work waiting, not with the number of deliveries waiting. The first
 *    version ranked every due row on every claim.
 * 2. Of those with something due and room under the cap, the `limit` with the fewest in flight
 *    (among equals, the one waiting longest): only they can place a rank-1 delivery in the batch.
 *    For each, LATERAL: its first due deliveries up to the in-flight cap minus what it already has
 *    in flight, numbered after those, and no further than the highest rank the batch can need (rank 1 of
 *    every subscription comes before rank 2 of any, so more would only be read to be left).
 * 3. Rank 1 of every subscription before rank 2 of any; the soonest due first within a rank.
 * Chosen rows are updated by ctid: without statistics (this machine runs with autovacuum off)
 * the planner otherwise looked the keys up through the partial index, scanning it per row.
 * A row changed meanwhile is followed to its new version and its status checked again.
 */
import { type Kysely, sql } from 'kysely';
import type { ClaimOptions } from '../delivery-store.ts';
import type { Database } from '../schema.ts';

/**
 * The claim statement with its values written in as literals (numbers checked to be whole, the
 * worker id quoted by Kysely), so that it can travel in one simple-protocol query with the
 * statements around it: see PostgresStore.claimDueDeliveries.
 */
export function claimStatementOnPostgres(db: Kysely<Database>, options: ClaimOptions): string {
  const { workerId, now, limit, perSubscriptionCap: cap, leaseMs } = options;
  for (const [name, value] of Object.entries({ now, limit, cap, leaseMs })) {
    if (!Number.isSafeInteger(value)) throw new Error(`claim: ${name} must be a whole number, got ${value}`);
  }
  return sql`
    WITH RECURSIVE heads AS (
      (SELECT environment_id, subscription_id, next_attempt_at FROM deliveries
       WHERE status IN ('pending', 'scheduled')
       ORDER BY environment_id, subscription_id, next_attempt_at, id LIMIT 1)
      UNION ALL
      SELECT nxt.environment_id, nxt.subscription_id, nxt.next_attempt_at FROM heads h CROSS JOIN LATERAL (
        SELECT d.environment_id, d.subscription_id, d.next_attempt_at FROM deliveries d
        WHERE d.status IN ('pending', 'scheduled')
          AND (d.environment_id, d.subscription_id) > (h.environment_id, h.subscription_id)
        ORDER BY d.environment_id, d.subscription_id, d.next_attempt_at, d.id LIMIT 1) nxt
    ),
    inflight AS (
      SELECT environment_id, subscription_id, count(*) AS n FROM deliveries
      WHERE status = 'delivering' GROUP BY environment_id, subscription_id
    ),
    subs AS (
      SELECT h.environment_id, h.subscription_id, coalesce(f.n, 0) AS n
      FROM heads h LEFT JOIN inflight f ON f.environment_id = h.environment_id AND f.subscription_id = h.subscription_id
      WHERE coalesce(f.n, 0) < ${sql.lit(cap)} AND h.next_attempt_at <= ${sql.lit(now)}
      ORDER BY coalesce(f.n, 0), h.next_attempt_at
      LIMIT ${sql.lit(limit)}
    ),
    cut AS (
      -- The highest rank the batch can need (see rankCut in sqlite-claim.ts).
      SELECT coalesce(min(r), ${sql.lit(cap)}) AS r FROM (
        SELECT r, sum(greatest(0, r - s.n)) AS total
        FROM generate_series(1, ${sql.lit(cap)}) AS g(r) CROSS JOIN subs s GROUP BY r
      ) totals WHERE total >= ${sql.lit(limit)}
    ),
    candidates AS (
      SELECT c.ctid, c.next_attempt_at, s.n + c.rn AS rank
      FROM subs s CROSS JOIN LATERAL (
        SELECT d.ctid, d.next_attempt_at,
          row_number() OVER (ORDER BY d.next_attempt_at, d.id) AS rn
        FROM deliveries d
        WHERE d.environment_id = s.environment_id AND d.subscription_id = s.subscription_id
          AND d.status IN ('pending', 'scheduled') AND d.next_attempt_at <= ${sql.lit(now)}
        ORDER BY d.next_attempt_at, d.id
        LIMIT greatest(0, (SELECT r FROM cut) - s.n)) c
    ),
    chosen AS (
      SELECT ctid FROM candidates ORDER BY rank, next_attempt_at LIMIT ${sql.lit(limit)}
    )
    UPDATE deliveries d
    SET status = 'delivering', locked_by = ${sql.lit(workerId)}, lock_expires_at = ${sql.lit(now + leaseMs)}, updated_at = ${sql.lit(now)}
    FROM chosen c
    WHERE d.ctid = c.ctid AND d.status IN ('pending', 'scheduled')
    RETURNING d.*`.compile(db).sql;
}
