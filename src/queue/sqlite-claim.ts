/**
 * The claim on SQLite, as small prepared statements run synchronously in one transaction. SQLite
 * runs in this process, so statements cost no round trips, and small ones beat one big statement.
 * They go straight to better-sqlite3, not through Kysely: building, compiling and awaiting each
 * cost more than running them. One process owns the queue, so lanes need no locks here.
 *
 * 1. In-flight counts per subscription (deliveries_leased: a few hundred rows at most).
 * 2. `heads`: each subscription's soonest waiting delivery, found by skipping through
 *    deliveries_due_by_subscription (a loose index scan): cost grows with the number of
 *    subscriptions that have work waiting, not with the number of deliveries waiting.
 * 3. Due lanes in priority order (fewest in flight, then waiting longest), with their gates
 *    (lane-plan.ts), until `limit` lanes have room; the claim's limit shared among them by rank.
 * 4. Each lane's requests: its due deliveries (FIFO: its head in commit order, if due), or a
 *    batching lane's batch (lane-plan.ts), leased; rate-limited lanes book their sends and move
 *    their gate.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { claimedFromRow, subscriptionFromRow } from '../store/delivery-rows.ts';
import { eventFromRow } from '../store/rows.ts';
import type { DeliveriesTable, EventsTable, SubscriptionsTable } from '../store/schema.ts';
import { newId } from '../ids.ts';
import { CLOSED, firstAttemptsAllowed, probeSent } from '../domain/circuit-breaker.ts';
import {
  type LaneState,
  batchReady,
  bookSends,
  breakerOf,
  gateClaimableAt,
  laneGates,
  laneRoom,
  retriesFirst,
  shareByRank,
} from './lane-plan.ts';
import type { ClaimOptions, ClaimedBatch, ClaimedDelivery, ClaimedWork } from './queue.ts';

/** Requests in flight per lane: a batch's deliveries are one request. */
const INFLIGHT_SQL = `SELECT environment_id, subscription_id, count(DISTINCT coalesce(batch_id, id)) AS n FROM deliveries
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

const LANE_SQL = `SELECT s.*, l.next_send_at AS lane_next_send_at, l.breaker_failures, l.breaker_opened_at,
    l.breaker_probe_at, l.breaker_cooldown_ms FROM subscriptions s
  JOIN lanes l ON l.environment_id = s.environment_id AND l.subscription_id = s.id
  WHERE s.environment_id = ? AND s.id = ?`;

const DUE_SQL = `SELECT rowid AS rid, next_attempt_at FROM deliveries INDEXED BY deliveries_due_by_subscription
  WHERE environment_id = ? AND subscription_id = ? AND status IN ('pending', 'scheduled') AND next_attempt_at <= ?
  ORDER BY next_attempt_at, id LIMIT ?`;

/** A failing lane's due retries, which go before its first attempts (domain/circuit-breaker.ts). */
const RETRIES_SQL = `SELECT rowid AS rid, next_attempt_at FROM deliveries INDEXED BY deliveries_retries_waiting
  WHERE environment_id = ? AND subscription_id = ? AND attempts > 0 AND status IN ('pending', 'scheduled') AND next_attempt_at <= ?
  ORDER BY next_attempt_at LIMIT ?`;
const FIRSTS_SQL = `SELECT rowid AS rid, next_attempt_at FROM deliveries INDEXED BY deliveries_due_by_subscription
  WHERE environment_id = ? AND subscription_id = ? AND status IN ('pending', 'scheduled') AND next_attempt_at <= ?
    AND attempts = 0
  ORDER BY next_attempt_at, id LIMIT ?`;

/** A FIFO lane's head: its oldest waiting delivery in commit (rowid) order, due or not. */
const FIFO_HEAD_SQL = `SELECT rowid AS rid, next_attempt_at FROM deliveries INDEXED BY deliveries_waiting_in_order
  WHERE environment_id = ? AND subscription_id = ? AND status IN ('pending', 'scheduled')
  ORDER BY rowid LIMIT 1`;

/** A batching lane's formed batch waiting for its retry, soonest first. */
const FORMED_BATCH_SQL = `SELECT batch_id, next_attempt_at FROM deliveries INDEXED BY deliveries_batches_waiting
  WHERE environment_id = ? AND subscription_id = ? AND batch_id IS NOT NULL AND status IN ('pending', 'scheduled')
  ORDER BY next_attempt_at LIMIT 1`;

const BATCH_MEMBERS_SQL = `SELECT rowid AS rid, next_attempt_at FROM deliveries INDEXED BY deliveries_by_batch
  WHERE environment_id = ? AND batch_id = ? AND status IN ('pending', 'scheduled') ORDER BY rowid`;

/** A batching lane's due deliveries not yet in a batch, oldest first (FIFO: in commit order, due or not). */
const UNBATCHED_SQL = `SELECT rowid AS rid, next_attempt_at FROM deliveries INDEXED BY deliveries_due_by_subscription
  WHERE environment_id = ? AND subscription_id = ? AND status IN ('pending', 'scheduled') AND next_attempt_at <= ?
    AND batch_id IS NULL
  ORDER BY next_attempt_at, id LIMIT ?`;
const UNBATCHED_FIFO_SQL = `SELECT rowid AS rid, next_attempt_at FROM deliveries INDEXED BY deliveries_waiting_in_order
  WHERE environment_id = ? AND subscription_id = ? AND status IN ('pending', 'scheduled') AND batch_id IS NULL
  ORDER BY rowid LIMIT ?`;

interface Head {
  environment_id: string;
  subscription_id: string;
  next_attempt_at: number;
}

interface Lane {
  head: Head;
  state: LaneState;
  subscription: SubscriptionsTable | null;
}

/** One request to lease: a single delivery, or a batch's deliveries. */
interface Request {
  rids: number[];
  batchId: string | null;
  sendAt: number;
  subscription: SubscriptionsTable | null;
}

type LaneRow = SubscriptionsTable & {
  lane_next_send_at: number;
  breaker_failures: number;
  breaker_opened_at: number | null;
  breaker_probe_at: number;
  breaker_cooldown_ms: number;
};
type Row = { rid: number; next_attempt_at: number };

/** A lane without a subscription row (deleted meanwhile): claimed without gates, and cancelled by the worker. */
const ORPHAN: Omit<LaneState, 'inFlight'> = { ordering: 'unordered', rateLimitPerSecond: null, batch: null, nextSendAt: 0, breaker: CLOSED };

export class SqliteClaim {
  private readonly inflight: BetterSqlite3.Statement;
  private readonly heads: BetterSqlite3.Statement;
  private readonly lane: BetterSqlite3.Statement;
  private readonly due: BetterSqlite3.Statement;
  private readonly fifoHead: BetterSqlite3.Statement;
  private readonly retries: BetterSqlite3.Statement;
  private readonly firsts: BetterSqlite3.Statement;
  private readonly moveProbe: BetterSqlite3.Statement;
  private readonly formedBatch: BetterSqlite3.Statement;
  private readonly batchMembers: BetterSqlite3.Statement;
  private readonly unbatched: BetterSqlite3.Statement;
  private readonly unbatchedFifo: BetterSqlite3.Statement;
  private readonly event: BetterSqlite3.Statement;
  private readonly moveGate: BetterSqlite3.Statement;
  private readonly leaseByCount = new Map<number, BetterSqlite3.Statement>();

  constructor(private readonly raw: BetterSqlite3.Database) {
    this.inflight = raw.prepare(INFLIGHT_SQL);
    this.heads = raw.prepare(HEADS_SQL);
    this.lane = raw.prepare(LANE_SQL);
    this.due = raw.prepare(DUE_SQL);
    this.fifoHead = raw.prepare(FIFO_HEAD_SQL);
    this.retries = raw.prepare(RETRIES_SQL);
    this.firsts = raw.prepare(FIRSTS_SQL);
    this.moveProbe = raw.prepare(
      'UPDATE lanes SET breaker_probe_at = ?, breaker_cooldown_ms = ? WHERE environment_id = ? AND subscription_id = ?',
    );
    this.formedBatch = raw.prepare(FORMED_BATCH_SQL);
    this.batchMembers = raw.prepare(BATCH_MEMBERS_SQL);
    this.unbatched = raw.prepare(UNBATCHED_SQL);
    this.unbatchedFifo = raw.prepare(UNBATCHED_FIFO_SQL);
    this.event = raw.prepare('SELECT * FROM events WHERE environment_id = ? AND id = ?');
    this.moveGate = raw.prepare('UPDATE lanes SET next_send_at = ? WHERE environment_id = ? AND subscription_id = ?');
  }

  /** Runs inside the caller's transaction. */
  claim(options: ClaimOptions): ClaimedBatch {
    const { workerId, now, limit, perSubscriptionCap: cap, leaseMs } = options;
    const busy = new Map<string, number>();
    for (const r of this.inflight.all() as { environment_id: string; subscription_id: string; n: number }[]) {
      busy.set(`${r.environment_id}\u0000${r.subscription_id}`, r.n);
    }
    const due = (this.heads.all() as Head[])
      .filter((head) => head.next_attempt_at <= now)
      .map((head) => ({ head, n: busy.get(`${head.environment_id}\u0000${head.subscription_id}`) ?? 0 }))
      .sort((a, b) => a.n - b.n || a.head.next_attempt_at - b.head.next_attempt_at);
    // Left waiting for a slot: a due lane at its cap, past the first `limit`, or read to its share.
    let moreDue = false;
    let wakeAt: number | null = null;
    const lanes: Lane[] = [];
    for (const { head, n } of due) {
      if (lanes.length === limit) {
        moreDue = true;
        break;
      }
      const row = this.lane.get(head.environment_id, head.subscription_id) as LaneRow | undefined;
      const state: LaneState = row
        ? { ...laneGates(row), nextSendAt: row.lane_next_send_at, breaker: breakerOf(row), inFlight: n }
        : { ...ORPHAN, inFlight: n };
      if (laneRoom(state, cap, now) > 0) lanes.push({ head, state, subscription: row ?? null });
      // A closed rate gate opens at a time nextDueAt reports; a full lane waits for a settle.
      else if (gateClaimableAt(state.nextSendAt) <= now) moreDue = true;
    }
    const takes = shareByRank(
      lanes.map((lane) => ({ inFlight: lane.state.inFlight, room: laneRoom(lane.state, cap, now) })),
      limit,
    );
    const requests: Request[] = [];
    lanes.forEach((lane, i) => {
      const take = takes[i] as number;
      if (take === 0) {
        moreDue = true;
        return;
      }
      const { environment_id: env, subscription_id: sub } = lane.head;
      let groups: { rids: number[]; batchId: string | null }[];
      if (lane.state.batch !== null) {
        const formed = this.batchOf(lane, now);
        if (!('wakeAt' in formed)) this.probed(lane, now);
        if ('wakeAt' in formed) {
          if (formed.wakeAt !== null) wakeAt = Math.min(wakeAt ?? formed.wakeAt, formed.wakeAt);
          groups = [];
        } else groups = [formed];
      } else {
        let rows: Row[];
        if (lane.state.ordering === 'fifo') {
          const head = this.fifoHead.get(env, sub) as Row | undefined;
          rows = head && head.next_attempt_at <= now ? [head] : [];
        } else if (!retriesFirst(lane.state)) {
          rows = this.due.all(env, sub, now, take) as Row[];
        } else {
          rows = this.retries.all(env, sub, now, take) as Row[];
          const firsts = firstAttemptsAllowed(lane.state.breaker, take - rows.length, now);
          if (firsts > 0) {
            const sent = this.firsts.all(env, sub, now, firsts) as Row[];
            if (sent.length > 0) this.probed(lane, now);
            rows = rows.concat(sent);
          }
          if (rows.length === 0 && lane.state.breaker.openedAt !== null) {
            wakeAt = Math.min(wakeAt ?? lane.state.breaker.probeAt, lane.state.breaker.probeAt);
          }
        }
        groups = rows.map((row) => ({ rids: [row.rid], batchId: null }));
      }
      // A full read may have left more: a settle (or the booked gate) lets the next claim take them.
      if (groups.length === take) moreDue = true;
      const booked = bookSends(lane.state, groups.length, now);
      if (lane.state.rateLimitPerSecond !== null && groups.length > 0) this.moveGate.run(booked.nextSendAt, env, sub);
      groups.forEach((group, k) => requests.push({ ...group, sendAt: booked.sendAts[k] as number, subscription: lane.subscription }));
    });
    return { work: this.lease(requests, workerId, now, leaseMs), moreDue, wakeAt };
  }

  /** An open breaker's lane sent first attempts (its probe): the next waits the cooldown. */
  private probed(lane: Lane, now: number): void {
    if (lane.state.breaker.openedAt === null) return;
    const next = probeSent(lane.state.breaker, now);
    this.moveProbe.run(next.probeAt, next.cooldownMs, lane.head.environment_id, lane.head.subscription_id);
  }

  /**
   * A batching lane's next batch: a formed one due for its retry (kept whole, with its id), else
   * a new one of its due deliveries if they make a batch now; otherwise when they will.
   */
  private batchOf(lane: Lane, now: number): { rids: number[]; batchId: string } | { wakeAt: number | null } {
    const { environment_id: env, subscription_id: sub } = lane.head;
    const batch = lane.state.batch as { maxEvents: number; maxWaitMs: number };
    const formed = this.formedBatch.get(env, sub) as { batch_id: string; next_attempt_at: number } | undefined;
    if (formed) {
      if (formed.next_attempt_at <= now) {
        const members = this.batchMembers.all(env, formed.batch_id) as Row[];
        return { rids: members.map((m) => m.rid), batchId: formed.batch_id };
      }
      // A FIFO lane's formed batch goes before anything behind it.
      if (lane.state.ordering === 'fifo') return { wakeAt: null };
    }
    // An open breaker holds new batches but for one probe per cooldown.
    if (firstAttemptsAllowed(lane.state.breaker, 1, now) === 0) return { wakeAt: lane.state.breaker.probeAt };
    let rows: Row[];
    if (lane.state.ordering === 'fifo') {
      rows = [];
      for (const row of this.unbatchedFifo.all(env, sub, batch.maxEvents) as Row[]) {
        if (row.next_attempt_at > now) break;
        rows.push(row);
      }
    } else {
      rows = this.unbatched.all(env, sub, now, batch.maxEvents) as Row[];
    }
    const oldest = rows.reduce((min, row) => Math.min(min, row.next_attempt_at), Number.POSITIVE_INFINITY);
    if (!batchReady(batch, rows.length, oldest, now)) return { wakeAt: rows.length > 0 ? oldest + batch.maxWaitMs : null };
    return { rids: rows.map((row) => row.rid), batchId: newId('bat', now) };
  }

  /** Leases the requests' deliveries (a batch's taking its id) and reads their events. */
  private lease(requests: readonly Request[], workerId: string, now: number, leaseMs: number): ClaimedWork[] {
    const events = new Map<string, ClaimedWork['event']>();
    const eventOf = (row: DeliveriesTable) => {
      const key = `${row.environment_id}\u0000${row.event_id}`;
      if (!events.has(key)) {
        const found = this.event.get(row.environment_id, row.event_id) as EventsTable | undefined;
        events.set(key, found ? eventFromRow(found) : null);
      }
      return events.get(key) ?? null;
    };
    const work: ClaimedWork[] = [];
    const singles = requests.filter((r) => r.batchId === null);
    if (singles.length > 0) {
      const byRid = new Map(singles.map((r) => [r.rids[0] as number, r]));
      const leased = this.leaseStatement(singles.length).all(workerId, now + leaseMs, now, null, ...byRid.keys()) as (DeliveriesTable & {
        rid: number;
      })[];
      // Rows go to claimedFromRow as they are (it picks its fields; `rid` is left behind), not copied.
      for (const row of leased) {
        const request = byRid.get(row.rid);
        work.push({
          delivery: claimedFromRow(row),
          event: eventOf(row),
          subscription: request?.subscription ? subscriptionFromRow(request.subscription) : null,
          sendAt: request?.sendAt ?? now,
          batch: null,
        });
      }
    }
    for (const request of requests) {
      if (request.batchId === null || request.rids.length === 0) continue;
      const leased = (
        this.leaseStatement(request.rids.length).all(workerId, now + leaseMs, now, request.batchId, ...request.rids) as (DeliveriesTable & {
          rid: number;
        })[]
      ).sort((a, b) => a.rid - b.rid);
      if (leased.length === 0) continue;
      const deliveries = leased.map((row) => claimedFromRow(row));
      const batchEvents = leased.map((row) => eventOf(row));
      work.push({
        delivery: deliveries[0] as ClaimedDelivery,
        event: batchEvents[0] ?? null,
        subscription: request.subscription ? subscriptionFromRow(request.subscription) : null,
        sendAt: request.sendAt,
        batch: { id: request.batchId, deliveries, events: batchEvents },
      });
    }
    return work;
  }

  private leaseStatement(count: number): BetterSqlite3.Statement {
    let statement = this.leaseByCount.get(count);
    if (!statement) {
      statement = this.raw.prepare(`UPDATE deliveries
        SET status = 'delivering', locked_by = ?, lock_expires_at = ?, updated_at = ?, batch_id = coalesce(batch_id, ?)
        WHERE rowid IN (${Array.from({ length: count }, () => '?').join(', ')}) AND status IN ('pending', 'scheduled')
        RETURNING rowid AS rid, *`);
      this.leaseByCount.set(count, statement);
    }
    return statement;
  }
}
