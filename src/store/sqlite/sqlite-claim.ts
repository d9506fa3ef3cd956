/**
 * The fair claim on SQLite, in one statement (SQLite has no LATERAL, so the per-subscription
 * steps are correlated subqueries on rowids).
 *
 * 1. `heads`: one waiting delivery per subscription, found by skipping through
 *    deliveries_due_by_subscription (a loose index scan; the next subscription in the same
 *    environment, else the first of the next environment, because SQLite ranges an index on the
 *    first column of a row-value comparison only): cost grows with the number of
 *    subscriptions that have work waiting, not with the number of deliveries waiting. The first
 *    version ranked every due row on every claim, which at 50,000 queued spent most of the
 *    process's CPU in the claim.
 * 2. `candidates`: for each such subscription, its first due deliveries (at most the in-flight
 *    cap; SQLite cannot take a LIMIT from the outer row), numbered after those it already has in
 *    flight; ranks past the cap are left.
 * 3. Rank 1 of every subscription before rank 2 of any; the soonest due first within a rank.
 */
import { type Transaction, sql } from 'kysely';
import type { ClaimOptions } from '../delivery-store.ts';
import type { Database, DeliveriesTable } from '../schema.ts';

export async function claimDueOnSqlite(trx: Transaction<Database>, options: ClaimOptions): Promise<DeliveriesTable[]> {
  const { workerId, now, limit, perSubscriptionCap: cap, leaseMs } = options;
  const result = await sql<DeliveriesTable>`
    WITH RECURSIVE heads(rid) AS (
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
    ),
    inflight AS (
      SELECT environment_id, subscription_id, count(*) AS n FROM deliveries
      WHERE status = 'delivering' GROUP BY environment_id, subscription_id
    ),
    subs AS (
      SELECT h.environment_id, h.subscription_id, coalesce(f.n, 0) AS n
      FROM heads CROSS JOIN deliveries h ON h.rowid = heads.rid
      LEFT JOIN inflight f ON f.environment_id = h.environment_id AND f.subscription_id = h.subscription_id
      WHERE coalesce(f.n, 0) < ${cap}
    ),
    candidates AS (
      SELECT d.rowid AS rid, d.next_attempt_at,
        s.n + row_number() OVER (PARTITION BY s.environment_id, s.subscription_id ORDER BY d.next_attempt_at, d.id) AS rank
      FROM subs s CROSS JOIN deliveries d ON d.rowid IN (
        SELECT x.rowid FROM deliveries x INDEXED BY deliveries_due_by_subscription
        WHERE x.environment_id = s.environment_id AND x.subscription_id = s.subscription_id
          AND x.status IN ('pending', 'scheduled') AND x.next_attempt_at <= ${now}
        ORDER BY x.next_attempt_at, x.id LIMIT ${cap})
    )
    UPDATE deliveries
    SET status = 'delivering', locked_by = ${workerId}, lock_expires_at = ${now + leaseMs}, updated_at = ${now}
    WHERE rowid IN (SELECT rid FROM candidates WHERE rank <= ${cap} ORDER BY rank, next_attempt_at LIMIT ${limit})
    RETURNING *`.execute(trx);
  return result.rows;
}
