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
import type { SubscriptionsTable } from '../store/schema.ts';
import { CLOSED, probeSent } from '../domain/circuit-breaker.ts';
import { type LeasedRow, type PlannedLane, claimBatch, claimFailing } from './postgres-lane-claims.ts';
import { type LaneState, RATE_LEAD_MS, bookSends, breakerOf, laneGates, laneRoom, retriesFirst, shareByRank } from './lane-plan.ts';
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
  WHERE l.next_send_at <= $1 + ${RATE_LEAD_MS}
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

type Planned = { row: LockedLane; state: LaneState; take: number };
/** What the per-lane claims need of a planned lane. */
const laneOf = (lane: Planned): PlannedLane => ({
  environmentId: lane.row.environment_id,
  subscriptionId: lane.row.subscription_id,
  state: lane.state,
  take: lane.take,
});

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
        rows.forEach((row, k) => {
          work.push({
            delivery: claimedFromRow(row),
            event: row.event ? eventFromRow(row.event) : null,
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
      const claimed = await claimFailing(client, laneOf(lane), { workerId, now, leaseMs, cap });
      if (claimed.firsts > 0) probed(lane);
      if (claimed.rows.length === 0 && lane.state.breaker.openedAt !== null) {
        wakeAt = Math.min(wakeAt ?? lane.state.breaker.probeAt, lane.state.breaker.probeAt);
      }
      const sendAts = book(lane, claimed.rows.length);
      const subscription = lane.row.subscription ? subscriptionFromRow(lane.row.subscription) : null;
      claimed.rows.forEach((row, k) => {
        work.push({ delivery: claimedFromRow(row), event: row.event ? eventFromRow(row.event) : null, subscription, sendAt: sendAts[k] as number, batch: null });
      });
    }
    for (const lane of planned.filter((p) => p.state.batch !== null)) {
      const claimed = await claimBatch(client, laneOf(lane), { workerId, now, leaseMs, cap });
      if (!('wakeAt' in claimed)) probed(lane);
      if ('wakeAt' in claimed) {
        if (claimed.wakeAt !== null) wakeAt = Math.min(wakeAt ?? claimed.wakeAt, claimed.wakeAt);
        continue;
      }
      const [sendAt] = book(lane, 1);
      const deliveries = claimed.rows.map((row) => claimedFromRow(row));
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
