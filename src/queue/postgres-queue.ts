/**
 * The queue on PostgreSQL, shared by any number of worker processes: claims lock lanes with
 * SKIP LOCKED (postgres-claim.ts), leases are rows' `locked_by`/`lock_expires_at`, and expired
 * leases return to the queue whoever reaps them.
 */
import type pg from 'pg';
import { RATE_LEAD_MS } from './lane-plan.ts';
import { claimOnPostgres } from './postgres-claim.ts';
import { settleOnPostgres } from './postgres-settle.ts';
import type { ClaimOptions, ClaimedBatch, Queue, SettleEffects, SettleInput } from './queue.ts';

const REAP = `UPDATE deliveries SET status = 'pending', locked_by = NULL, lock_expires_at = NULL, updated_at = $1
  WHERE status = 'delivering' AND lock_expires_at < $1`;

/**
 * Renewal skips rows another transaction holds: those are being settled (so need no renewal), and
 * waiting for them, in whatever order the rows come, could deadlock with a settle locking the same
 * rows in its own order.
 */
const EXTEND = `UPDATE deliveries d SET lock_expires_at = $3
  FROM (SELECT ctid FROM deliveries
        WHERE (environment_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
          AND status = 'delivering' AND locked_by = $4
        FOR UPDATE SKIP LOCKED) x
  WHERE d.ctid = x.ctid`;

const CANCEL = `UPDATE deliveries SET status = 'cancelled', locked_by = NULL, lock_expires_at = NULL, updated_at = $4
  WHERE environment_id = $1 AND id = $2 AND status = 'delivering' AND locked_by = $3`;

/** The waiting deliveries' soonest attempt, a rate-limited lane's gate, or an open breaker's probe: the soonest. */
const RELEASE = `UPDATE deliveries SET status = 'pending', locked_by = NULL, lock_expires_at = NULL,
    next_attempt_at = least(next_attempt_at, $4), updated_at = $4
  WHERE environment_id = $1 AND id = ANY($2::text[]) AND status = 'delivering' AND locked_by = $3`;

const NEXT_DUE = `SELECT least(
    (SELECT min(next_attempt_at) FROM deliveries WHERE status IN ('pending', 'scheduled') AND next_attempt_at > $1),
    (SELECT min(next_send_at) - ${RATE_LEAD_MS} FROM lanes WHERE next_send_at > $1 + ${RATE_LEAD_MS}),
    (SELECT min(breaker_probe_at) FROM lanes WHERE breaker_opened_at IS NOT NULL AND breaker_probe_at > $1)) AS next`;

export class PostgresQueue implements Queue {
  constructor(private readonly pool: pg.Pool) {}

  recover(now: number): Promise<number> {
    return this.reapExpired(now);
  }

  claim(options: ClaimOptions): Promise<ClaimedBatch> {
    return claimOnPostgres(this.pool, options);
  }

  async extendLeases(workerId: string, keys: readonly { environmentId: string; id: string }[], until: number): Promise<void> {
    if (keys.length === 0) return;
    await this.pool.query({
      name: 'herald_extend_leases',
      text: EXTEND,
      values: [keys.map((k) => k.environmentId), keys.map((k) => k.id), until, workerId],
    });
  }

  settle(inputs: readonly SettleInput[]): Promise<SettleEffects[]> {
    return settleOnPostgres(this.pool, inputs);
  }

  async cancelClaimed(environmentId: string, id: string, workerId: string, now: number): Promise<void> {
    await this.pool.query({ name: 'herald_cancel_claimed', text: CANCEL, values: [environmentId, id, workerId, now] });
  }

  async releaseClaimed(environmentId: string, ids: readonly string[], workerId: string, now: number): Promise<void> {
    await this.pool.query({ name: 'herald_release_claimed', text: RELEASE, values: [environmentId, ids, workerId, now] });
  }

  async reapExpired(now: number): Promise<number> {
    const result = await this.pool.query({ name: 'herald_reap', text: REAP, values: [now] });
    return result.rowCount ?? 0;
  }

  async nextDueAt(after: number): Promise<number | null> {
    const result = await this.pool.query<{ next: number | null }>({ name: 'herald_next_due', text: NEXT_DUE, values: [after] });
    const next = result.rows[0]?.next;
    return next === null || next === undefined ? null : Number(next);
  }
}
