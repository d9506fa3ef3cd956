/**
 * The PostgreSQL claim's lanes that need more than one read, each under its lane's lock (taken by
 * postgres-claim.ts): a failing lane (retries first, first attempts as its breaker allows) and a
 * batching lane (a formed batch due for its retry, else a new one if its due deliveries make one).
 */
import type pg from 'pg';
import { firstAttemptsAllowed } from '../domain/circuit-breaker.ts';
import { newId } from '../ids.ts';
import type { DeliveriesTable, EventsTable } from '../store/schema.ts';
import { type LaneState, batchReady } from './lane-plan.ts';

export type LeasedRow = DeliveriesTable & { event: EventsTable | null };

/** A lane the claim locked, with its state and its share of the claim. */
export interface PlannedLane {
  environmentId: string;
  subscriptionId: string;
  state: LaneState;
  take: number;
}

/** A failing lane's due retries, which go before its first attempts (domain/circuit-breaker.ts). */
const RETRIES = `SELECT ctid::text AS ctid FROM deliveries
  WHERE environment_id = $1 AND subscription_id = $2 AND attempts > 0 AND status IN ('pending', 'scheduled') AND next_attempt_at <= $3
  ORDER BY next_attempt_at LIMIT $4`;
const FIRSTS = `SELECT ctid::text AS ctid FROM deliveries
  WHERE environment_id = $1 AND subscription_id = $2 AND attempts = 0 AND status IN ('pending', 'scheduled') AND next_attempt_at <= $3
  ORDER BY next_attempt_at, id LIMIT $4`;
const LEASE_ROWS = `WITH leased AS (
  UPDATE deliveries d SET status = 'delivering', locked_by = $3, lock_expires_at = $4, updated_at = $5
  WHERE d.environment_id = $1 AND d.subscription_id = $2 AND d.status IN ('pending', 'scheduled') AND d.ctid = ANY($6::tid[])
  RETURNING d.*
)
SELECT leased.*, to_jsonb(e) AS event FROM leased
LEFT JOIN events e ON e.environment_id = leased.environment_id AND e.id = leased.event_id`;

/** Requests of one lane in flight now (under its lock): a batch's deliveries are one request. */
const LANE_IN_FLIGHT = `SELECT count(DISTINCT coalesce(batch_id, id))::int AS n FROM deliveries
  WHERE environment_id = $1 AND subscription_id = $2 AND status = 'delivering'`;
const FORMED_BATCH = `SELECT batch_id, next_attempt_at FROM deliveries
  WHERE environment_id = $1 AND subscription_id = $2 AND batch_id IS NOT NULL AND status IN ('pending', 'scheduled')
  ORDER BY next_attempt_at LIMIT 1`;
const UNBATCHED = `SELECT ctid::text AS ctid, next_attempt_at FROM deliveries
  WHERE environment_id = $1 AND subscription_id = $2 AND status IN ('pending', 'scheduled') AND next_attempt_at <= $3
    AND batch_id IS NULL
  ORDER BY next_attempt_at, id LIMIT $4`;
const UNBATCHED_FIFO = `SELECT ctid::text AS ctid, next_attempt_at FROM deliveries
  WHERE environment_id = $1 AND subscription_id = $2 AND status IN ('pending', 'scheduled') AND batch_id IS NULL
  ORDER BY seq LIMIT $3`;
/** Leases a formed batch again, by its id ($6). */
const LEASE_FORMED_BATCH = `WITH leased AS (
  UPDATE deliveries d SET status = 'delivering', locked_by = $3, lock_expires_at = $4, updated_at = $5
  WHERE d.environment_id = $1 AND d.batch_id = $6 AND d.subscription_id = $2 AND d.status IN ('pending', 'scheduled')
  RETURNING d.*
)
SELECT leased.*, to_jsonb(e) AS event FROM leased
LEFT JOIN events e ON e.environment_id = leased.environment_id AND e.id = leased.event_id
ORDER BY leased.seq`;
/** Leases a new batch's rows, by ctid ($7), giving them its id ($6). */
const LEASE_NEW_BATCH = `WITH leased AS (
  UPDATE deliveries d SET status = 'delivering', locked_by = $3, lock_expires_at = $4, updated_at = $5, batch_id = $6
  WHERE d.ctid = ANY($7::tid[]) AND d.environment_id = $1 AND d.subscription_id = $2 AND d.status IN ('pending', 'scheduled')
  RETURNING d.*
)
SELECT leased.*, to_jsonb(e) AS event FROM leased
LEFT JOIN events e ON e.environment_id = leased.environment_id AND e.id = leased.event_id
ORDER BY leased.seq`;

/**
 * A batching lane's next batch, under its lock: a formed one due for its retry (whole, with its
 * id), else a new one of its due deliveries if they make a batch now (lane-plan.ts batchReady);
 * otherwise when they will.
 */
export async function claimBatch(
  client: pg.PoolClient,
  lane: PlannedLane,
  { workerId, now, leaseMs, cap }: { workerId: string; now: number; leaseMs: number; cap: number },
): Promise<{ rows: LeasedRow[]; batchId: string } | { wakeAt: number | null }> {
  const env = lane.environmentId;
  const sub = lane.subscriptionId;
  const batch = lane.state.batch as { maxEvents: number; maxWaitMs: number };
  const fifo = lane.state.ordering === 'fifo';
  const inFlight = await client.query<{ n: number }>({ name: 'herald_lane_in_flight', text: LANE_IN_FLIGHT, values: [env, sub] });
  if ((inFlight.rows[0]?.n ?? 0) >= (fifo ? 1 : cap)) return { wakeAt: null };
  const lease = async (batchId: string, ctids: string[] | null) => {
    const leased =
      ctids === null
        ? await client.query<LeasedRow>({
            name: 'herald_lease_formed_batch',
            text: LEASE_FORMED_BATCH,
            values: [env, sub, workerId, now + leaseMs, now, batchId],
          })
        : await client.query<LeasedRow>({
            name: 'herald_lease_new_batch',
            text: LEASE_NEW_BATCH,
            values: [env, sub, workerId, now + leaseMs, now, batchId, ctids],
          });
    return leased.rows.length > 0 ? { rows: leased.rows, batchId } : { wakeAt: null };
  };
  const formed = await client.query<{ batch_id: string; next_attempt_at: number }>({
    name: 'herald_formed_batch',
    text: FORMED_BATCH,
    values: [env, sub],
  });
  const retry = formed.rows[0];
  if (retry && retry.next_attempt_at <= now) return lease(retry.batch_id, null);
  // A FIFO lane's formed batch goes before anything behind it.
  if (retry && fifo) return { wakeAt: null };
  // An open breaker holds new batches but for one probe per cooldown.
  if (firstAttemptsAllowed(lane.state.breaker, 1, now) === 0) return { wakeAt: lane.state.breaker.probeAt };
  let rows: { ctid: string; next_attempt_at: number }[];
  if (fifo) {
    const ordered = await client.query<{ ctid: string; next_attempt_at: number }>({
      name: 'herald_unbatched_fifo',
      text: UNBATCHED_FIFO,
      values: [env, sub, batch.maxEvents],
    });
    const firstLater = ordered.rows.findIndex((row) => Number(row.next_attempt_at) > now);
    rows = firstLater === -1 ? ordered.rows : ordered.rows.slice(0, firstLater);
  } else {
    rows = (
      await client.query<{ ctid: string; next_attempt_at: number }>({
        name: 'herald_unbatched',
        text: UNBATCHED,
        values: [env, sub, now, batch.maxEvents],
      })
    ).rows;
  }
  const oldest = rows.reduce((min, row) => Math.min(min, Number(row.next_attempt_at)), Number.POSITIVE_INFINITY);
  if (!batchReady(batch, rows.length, oldest, now)) return { wakeAt: rows.length > 0 ? oldest + batch.maxWaitMs : null };
  return lease(newId('bat', now), rows.map((row) => row.ctid));
}

/** A failing lane's requests, under its lock: its due retries first, then first attempts as its breaker allows. */
export async function claimFailing(
  client: pg.PoolClient,
  lane: PlannedLane,
  { workerId, now, leaseMs, cap }: { workerId: string; now: number; leaseMs: number; cap: number },
): Promise<{ rows: LeasedRow[]; firsts: number }> {
  const env = lane.environmentId;
  const sub = lane.subscriptionId;
  const inFlight = await client.query<{ n: number }>({ name: 'herald_lane_in_flight', text: LANE_IN_FLIGHT, values: [env, sub] });
  const room = Math.min(lane.take, cap - (inFlight.rows[0]?.n ?? 0));
  if (room <= 0) return { rows: [], firsts: 0 };
  const retries = await client.query<{ ctid: string }>({ name: 'herald_retries', text: RETRIES, values: [env, sub, now, room] });
  const allowed = firstAttemptsAllowed(lane.state.breaker, room - retries.rows.length, now);
  const firsts =
    allowed > 0 ? (await client.query<{ ctid: string }>({ name: 'herald_firsts', text: FIRSTS, values: [env, sub, now, allowed] })).rows : [];
  const ctids = [...retries.rows, ...firsts].map((row) => row.ctid);
  if (ctids.length === 0) return { rows: [], firsts: 0 };
  const leased = await client.query<LeasedRow>({
    name: 'herald_lease_rows',
    text: LEASE_ROWS,
    values: [env, sub, workerId, now + leaseMs, now, ctids],
  });
  const rows = leased.rows.sort((a, b) => b.attempts - a.attempts || a.next_attempt_at - b.next_attempt_at);
  return { rows, firsts: rows.filter((row) => row.attempts === 0).length };
}
