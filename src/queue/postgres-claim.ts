/**
 * The claim on PostgreSQL: one short transaction that locks the lanes it decides for, with
 * FOR UPDATE SKIP LOCKED, so workers claim side by side and never for the same lane at once (the
 * in-flight cap, FIFO and the rate limit hold across them), and no claim waits for another.
 *
 * 1. LOCK_LANES: every subscription with a due delivery (a loose index scan over
 *    deliveries_due_by_subscription: its cost grows with the number of subscriptions with work
 *    waiting, not with the deliveries waiting), in priority order (fewest in flight, then waiting
 *    longest), the first `limit` whose lane is free and whose rate gate is open, locked; with each,
 *    its subscription row. Due deliveries without a lane (their subscription deleted meanwhile)
 *    come as orphans, claimed without gates for the worker to cancel.
 * 2. The gates and the fair shares (lane-plan.ts), in TypeScript.
 * 3. LEASE: under the locks, in-flight counted again (a claim that committed between 1's snapshot
 *    and its lock is seen now), each lane's due deliveries (FIFO: its head by seq, if due) up to
 *    its share, leased, with their events.
 * 4. Batching lanes, one by one: a formed batch due for its retry, or a new batch if its due
 *    deliveries make one (lane-plan.ts), leased with its id.
 * 5. Rate-limited lanes that got work move their gate.
 * Sorting and JIT are off in the transaction: without fresh statistics (a queue table empties and
 * refills, and this machine runs without autovacuum) the planner otherwise read a subscription's
 * whole history through deliveries_by_subscription and sorted it, and compiling the priced-out
 * plan took 230 ms.
 */
import type pg from 'pg';
import { claimedFromRow, subscriptionFromRow } from '../store/delivery-rows.ts';
import { eventFromRow } from '../store/rows.ts';
import type { DeliveriesTable, EventsTable, SubscriptionsTable } from '../store/schema.ts';
import { newId } from '../ids.ts';
import { CLOSED, firstAttemptsAllowed, probeSent } from '../domain/circuit-breaker.ts';
import { type LaneState, batchReady, bookSends, breakerOf, laneGates, laneRoom, retriesFirst, shareByRank } from './lane-plan.ts';
import type { ClaimOptions, ClaimedBatch, ClaimedDelivery, ClaimedWork } from './queue.ts';

const LOCK_LANES = `
WITH RECURSIVE heads AS (
  (SELECT d.environment_id, d.subscription_id, d.next_attempt_at FROM deliveries d
   WHERE d.status IN ('pending', 'scheduled')
   ORDER BY d.environment_id, d.subscription_id, d.next_attempt_at, d.id LIMIT 1)
  UNION ALL
  SELECT nxt.environment_id, nxt.subscription_id, nxt.next_attempt_at FROM heads h CROSS JOIN LATERAL (
    SELECT d.environment_id, d.subscription_id, d.next_attempt_at FROM deliveries d
    WHERE d.status IN ('pending', 'scheduled')
      AND (d.environment_id, d.subscription_id) > (h.environment_id, h.subscription_id)
    ORDER BY d.environment_id, d.subscription_id, d.next_attempt_at, d.id LIMIT 1) nxt
),
inflight AS (
  SELECT d.environment_id, d.subscription_id, count(DISTINCT coalesce(d.batch_id, d.id))::int AS n FROM deliveries d
  WHERE d.status = 'delivering' GROUP BY d.environment_id, d.subscription_id
),
ranked AS (
  SELECT h.environment_id, h.subscription_id, h.next_attempt_at AS head_due, coalesce(f.n, 0) AS n
  FROM heads h LEFT JOIN inflight f ON f.environment_id = h.environment_id AND f.subscription_id = h.subscription_id
  WHERE h.next_attempt_at <= $1
),
locked AS (
  SELECT l.environment_id, l.subscription_id, l.next_send_at, l.breaker_failures, l.breaker_opened_at, l.breaker_probe_at,
    l.breaker_cooldown_ms, r.head_due, r.n
  FROM lanes l JOIN ranked r ON l.environment_id = r.environment_id AND l.subscription_id = r.subscription_id
  WHERE l.next_send_at <= $1
  ORDER BY r.n, r.head_due
  LIMIT $2
  FOR UPDATE OF l SKIP LOCKED
)
SELECT locked.environment_id, locked.subscription_id, locked.next_send_at, locked.breaker_failures, locked.breaker_opened_at,
  locked.breaker_probe_at, locked.breaker_cooldown_ms, locked.head_due, locked.n, to_jsonb(s) AS subscription
FROM locked LEFT JOIN subscriptions s ON s.environment_id = locked.environment_id AND s.id = locked.subscription_id
UNION ALL
(SELECT r.environment_id, r.subscription_id, 0, 0, NULL, 0, 0, r.head_due, r.n, NULL FROM ranked r
 WHERE NOT EXISTS (SELECT 1 FROM lanes l WHERE l.environment_id = r.environment_id AND l.subscription_id = r.subscription_id)
 ORDER BY r.n, r.head_due
 LIMIT $2)`;

const LEASE = `
WITH plan AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bool[], $5::int[]) AS p(env, sub, take, fifo, lane_cap)
),
inflight AS (
  SELECT d.environment_id, d.subscription_id, count(DISTINCT coalesce(d.batch_id, d.id))::int AS n FROM deliveries d
  JOIN plan p ON d.environment_id = p.env AND d.subscription_id = p.sub
  WHERE d.status = 'delivering' GROUP BY d.environment_id, d.subscription_id
),
room AS (
  SELECT p.env, p.sub, p.fifo, greatest(0, least(p.take, p.lane_cap - coalesce(f.n, 0))) AS k
  FROM plan p LEFT JOIN inflight f ON f.environment_id = p.env AND f.subscription_id = p.sub
),
chosen AS (
  SELECT c.ctid FROM room r CROSS JOIN LATERAL (
    SELECT d.ctid FROM deliveries d
    WHERE NOT r.fifo AND d.environment_id = r.env AND d.subscription_id = r.sub
      AND d.status IN ('pending', 'scheduled') AND d.next_attempt_at <= $6
    ORDER BY d.next_attempt_at, d.id LIMIT r.k) c
  UNION ALL
  SELECT c.ctid FROM room r CROSS JOIN LATERAL (
    SELECT d.ctid, d.next_attempt_at FROM deliveries d
    WHERE r.fifo AND r.k > 0 AND d.environment_id = r.env AND d.subscription_id = r.sub
      AND d.status IN ('pending', 'scheduled')
    ORDER BY d.seq LIMIT 1) c
  WHERE c.next_attempt_at <= $6
),
leased AS (
  UPDATE deliveries d
  SET status = 'delivering', locked_by = $7, lock_expires_at = $8, updated_at = $6
  WHERE d.ctid = ANY(ARRAY(SELECT ctid FROM chosen)) AND d.status IN ('pending', 'scheduled')
  RETURNING d.*
)
SELECT leased.*, to_jsonb(e) AS event FROM leased
LEFT JOIN events e ON e.environment_id = leased.environment_id AND e.id = leased.event_id`;

const MOVE_GATES = `UPDATE lanes l SET next_send_at = v.next
  FROM unnest($1::text[], $2::text[], $3::int8[]) AS v(env, sub, next)
  WHERE l.environment_id = v.env AND l.subscription_id = v.sub`;

const MOVE_PROBES = `UPDATE lanes l SET breaker_probe_at = v.probe_at, breaker_cooldown_ms = v.cooldown
  FROM unnest($1::text[], $2::text[], $3::int8[], $4::int4[]) AS v(env, sub, probe_at, cooldown)
  WHERE l.environment_id = v.env AND l.subscription_id = v.sub`;

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

interface LockedLane {
  environment_id: string;
  subscription_id: string;
  next_send_at: number;
  breaker_failures: number;
  breaker_opened_at: number | null;
  breaker_probe_at: number;
  breaker_cooldown_ms: number;
  head_due: number;
  n: number;
  subscription: SubscriptionsTable | null;
}

const ORPHAN = { ordering: 'unordered', rateLimitPerSecond: null, batch: null, nextSendAt: 0, breaker: CLOSED } as const;

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

type LeasedRow = DeliveriesTable & { event: EventsTable | null };
type Planned = { row: LockedLane; state: LaneState; take: number };

export async function claimOnPostgres(pool: pg.Pool, options: ClaimOptions): Promise<ClaimedBatch> {
  const { workerId, now, limit, perSubscriptionCap: cap, leaseMs } = options;
  for (const [name, value] of Object.entries({ now, limit, cap, leaseMs })) {
    if (!Number.isSafeInteger(value)) throw new Error(`claim: ${name} must be a whole number, got ${value}`);
  }
  const client = await pool.connect();
  try {
    await client.query('BEGIN; SET LOCAL enable_sort = off; SET LOCAL jit = off');
    const found = await client.query<LockedLane>({ name: 'herald_lock_lanes', text: LOCK_LANES, values: [now, limit] });
    const lanes = found.rows
      .map((row) => {
        const state: LaneState = row.subscription
          ? { ...laneGates(row.subscription), nextSendAt: Number(row.next_send_at), breaker: breakerOf(row), inFlight: row.n }
          : { ...ORPHAN, inFlight: row.n };
        return { row, state, inFlight: state.inFlight, room: laneRoom(state, cap, now) };
      })
      .sort((a, b) => a.state.inFlight - b.state.inFlight || Number(a.row.head_due) - Number(b.row.head_due));
    // Lanes left at their cap, or more lanes due than the claim's limit: a settle may free a slot.
    let moreDue = found.rows.length >= limit || lanes.some((lane) => lane.room === 0);
    let wakeAt: number | null = null;
    const takes = shareByRank(lanes, limit);
    const planned: Planned[] = lanes.map((lane, i) => ({ ...lane, take: takes[i] as number })).filter((lane) => lane.take > 0);
    if (planned.length < lanes.length) moreDue = true;
    const work: ClaimedWork[] = [];
    const gates: { env: string; sub: string; next: number }[] = [];
    /** Books the lane's requests (rate limit) and says whether a full share may have left more. */
    const book = (lane: Planned, requests: number) => {
      if (requests === lane.take) moreDue = true;
      const booked = bookSends(lane.state, requests, now);
      if (lane.state.rateLimitPerSecond !== null && requests > 0) {
        gates.push({ env: lane.row.environment_id, sub: lane.row.subscription_id, next: booked.nextSendAt });
      }
      return booked.sendAts;
    };
    const single = planned.filter((lane) => lane.state.batch === null && !retriesFirst(lane.state));
    if (single.length > 0) {
      const leased = await client.query<LeasedRow>({
        name: 'herald_lease',
        text: LEASE,
        values: [
          single.map((p) => p.row.environment_id),
          single.map((p) => p.row.subscription_id),
          single.map((p) => p.take),
          single.map((p) => p.state.ordering === 'fifo'),
          single.map((p) => (p.state.ordering === 'fifo' ? 1 : cap)),
          now,
          workerId,
          now + leaseMs,
        ],
      });
      const byLane = new Map<string, LeasedRow[]>();
      for (const row of leased.rows) {
        const key = `${row.environment_id}\u0000${row.subscription_id}`;
        const list = byLane.get(key);
        if (list) list.push(row);
        else byLane.set(key, [row]);
      }
      for (const lane of single) {
        const rows = (byLane.get(`${lane.row.environment_id}\u0000${lane.row.subscription_id}`) ?? []).sort(
          (a, b) => a.next_attempt_at - b.next_attempt_at || (a.id < b.id ? -1 : 1),
        );
        const sendAts = book(lane, rows.length);
        const subscription = lane.row.subscription ? subscriptionFromRow(lane.row.subscription) : null;
        rows.forEach(({ event, ...delivery }, k) => {
          work.push({
            delivery: claimedFromRow(delivery),
            event: event ? eventFromRow(event) : null,
            subscription,
            sendAt: sendAts[k] as number,
            batch: null,
          });
        });
      }
    }
    const probes: { env: string; sub: string; probeAt: number; cooldownMs: number }[] = [];
    /** An open breaker's lane sent first attempts (its probe): the next waits the cooldown. */
    const probed = (lane: Planned) => {
      if (lane.state.breaker.openedAt === null) return;
      const next = probeSent(lane.state.breaker, now);
      probes.push({ env: lane.row.environment_id, sub: lane.row.subscription_id, probeAt: next.probeAt, cooldownMs: next.cooldownMs });
    };
    for (const lane of planned.filter((p) => p.state.batch === null && retriesFirst(p.state))) {
      const claimed = await claimFailing(client, lane, { workerId, now, leaseMs, cap });
      if (claimed.firsts > 0) probed(lane);
      if (claimed.rows.length === 0 && lane.state.breaker.openedAt !== null) {
        wakeAt = Math.min(wakeAt ?? lane.state.breaker.probeAt, lane.state.breaker.probeAt);
      }
      const sendAts = book(lane, claimed.rows.length);
      const subscription = lane.row.subscription ? subscriptionFromRow(lane.row.subscription) : null;
      claimed.rows.forEach(({ event, ...delivery }, k) => {
        work.push({ delivery: claimedFromRow(delivery), event: event ? eventFromRow(event) : null, subscription, sendAt: sendAts[k] as number, batch: null });
      });
    }
    for (const lane of planned.filter((p) => p.state.batch !== null)) {
      const claimed = await claimBatch(client, lane, { workerId, now, leaseMs, cap });
      if (!('wakeAt' in claimed)) probed(lane);
      if ('wakeAt' in claimed) {
        if (claimed.wakeAt !== null) wakeAt = Math.min(wakeAt ?? claimed.wakeAt, claimed.wakeAt);
        continue;
      }
      const [sendAt] = book(lane, 1);
      const deliveries = claimed.rows.map(({ event: _e, ...delivery }) => claimedFromRow(delivery));
      const events = claimed.rows.map((row) => (row.event ? eventFromRow(row.event) : null));
      work.push({
        delivery: deliveries[0] as ClaimedDelivery,
        event: events[0] ?? null,
        subscription: lane.row.subscription ? subscriptionFromRow(lane.row.subscription) : null,
        sendAt: sendAt as number,
        batch: { id: claimed.batchId, deliveries, events },
      });
    }
    if (gates.length > 0) {
      await client.query({
        name: 'herald_move_gates',
        text: MOVE_GATES,
        values: [gates.map((g) => g.env), gates.map((g) => g.sub), gates.map((g) => g.next)],
      });
    }
    if (probes.length > 0) {
      await client.query({
        name: 'herald_move_probes',
        text: MOVE_PROBES,
        values: [probes.map((p) => p.env), probes.map((p) => p.sub), probes.map((p) => p.probeAt), probes.map((p) => p.cooldownMs)],
      });
    }
    await client.query('COMMIT');
    return { work, moreDue, wakeAt };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * A batching lane's next batch, under its lock: a formed one due for its retry (whole, with its
 * id), else a new one of its due deliveries if they make a batch now (lane-plan.ts batchReady);
 * otherwise when they will.
 */
async function claimBatch(
  client: pg.PoolClient,
  lane: Planned,
  { workerId, now, leaseMs, cap }: { workerId: string; now: number; leaseMs: number; cap: number },
): Promise<{ rows: LeasedRow[]; batchId: string } | { wakeAt: number | null }> {
  const env = lane.row.environment_id;
  const sub = lane.row.subscription_id;
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
async function claimFailing(
  client: pg.PoolClient,
  lane: Planned,
  { workerId, now, leaseMs, cap }: { workerId: string; now: number; leaseMs: number; cap: number },
): Promise<{ rows: LeasedRow[]; firsts: number }> {
  const env = lane.row.environment_id;
  const sub = lane.row.subscription_id;
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
