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
 * 4. Each lane's due deliveries (FIFO: its head in commit order, if due), leased; rate-limited
 *    lanes book their sends and move their gate.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { claimedFromRow, subscriptionFromRow } from '../store/delivery-rows.ts';
import { eventFromRow } from '../store/rows.ts';
import type { DeliveriesTable, EventsTable, SubscriptionsTable } from '../store/schema.ts';
import { type LaneState, bookSends, laneRoom, shareByRank } from './lane-plan.ts';
import type { ClaimOptions, ClaimedBatch, ClaimedWork } from './queue.ts';

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

const LANE_SQL = `SELECT s.*, l.next_send_at AS lane_next_send_at FROM subscriptions s
  JOIN lanes l ON l.environment_id = s.environment_id AND l.subscription_id = s.id
  WHERE s.environment_id = ? AND s.id = ?`;

const DUE_SQL = `SELECT rowid AS rid, next_attempt_at FROM deliveries INDEXED BY deliveries_due_by_subscription
  WHERE environment_id = ? AND subscription_id = ? AND status IN ('pending', 'scheduled') AND next_attempt_at <= ?
  ORDER BY next_attempt_at, id LIMIT ?`;

/** A FIFO lane's head: its oldest waiting delivery in commit (rowid) order, due or not. */
const FIFO_HEAD_SQL = `SELECT rowid AS rid, next_attempt_at FROM deliveries INDEXED BY deliveries_waiting_in_order
  WHERE environment_id = ? AND subscription_id = ? AND status IN ('pending', 'scheduled')
  ORDER BY rowid LIMIT 1`;

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

type LaneRow = SubscriptionsTable & { lane_next_send_at: number };

/** A lane without a subscription row (deleted meanwhile): claimed without gates, and cancelled by the worker. */
const ORPHAN: Omit<LaneState, 'inFlight'> = { ordering: 'unordered', rateLimitPerSecond: null, nextSendAt: 0 };

export class SqliteClaim {
  private readonly inflight: BetterSqlite3.Statement;
  private readonly heads: BetterSqlite3.Statement;
  private readonly lane: BetterSqlite3.Statement;
  private readonly due: BetterSqlite3.Statement;
  private readonly fifoHead: BetterSqlite3.Statement;
  private readonly event: BetterSqlite3.Statement;
  private readonly moveGate: BetterSqlite3.Statement;
  private readonly leaseByCount = new Map<number, BetterSqlite3.Statement>();

  constructor(private readonly raw: BetterSqlite3.Database) {
    this.inflight = raw.prepare(INFLIGHT_SQL);
    this.heads = raw.prepare(HEADS_SQL);
    this.lane = raw.prepare(LANE_SQL);
    this.due = raw.prepare(DUE_SQL);
    this.fifoHead = raw.prepare(FIFO_HEAD_SQL);
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
    const lanes: Lane[] = [];
    for (const { head, n } of due) {
      if (lanes.length === limit) {
        moreDue = true;
        break;
      }
      const row = this.lane.get(head.environment_id, head.subscription_id) as LaneRow | undefined;
      const state: LaneState = row
        ? {
            ordering: row.ordering === 'fifo' ? 'fifo' : 'unordered',
            rateLimitPerSecond: row.rate_limit_per_second,
            nextSendAt: row.lane_next_send_at,
            inFlight: n,
          }
        : { ...ORPHAN, inFlight: n };
      if (laneRoom(state, cap, now) > 0) lanes.push({ head, state, subscription: row ?? null });
      // A closed rate gate opens at a time nextDueAt reports; a full lane waits for a settle.
      else if (state.nextSendAt <= now) moreDue = true;
    }
    const takes = shareByRank(
      lanes.map((lane) => ({ inFlight: lane.state.inFlight, room: laneRoom(lane.state, cap, now) })),
      limit,
    );
    const chosen: { rid: number; sendAt: number; subscription: SubscriptionsTable | null }[] = [];
    lanes.forEach((lane, i) => {
      const take = takes[i] as number;
      if (take === 0) {
        moreDue = true;
        return;
      }
      const { environment_id: env, subscription_id: sub } = lane.head;
      let rows: { rid: number; next_attempt_at: number }[];
      if (lane.state.ordering === 'fifo') {
        const head = this.fifoHead.get(env, sub) as { rid: number; next_attempt_at: number } | undefined;
        rows = head && head.next_attempt_at <= now ? [head] : [];
      } else {
        rows = this.due.all(env, sub, now, take) as { rid: number; next_attempt_at: number }[];
      }
      // A full read may have left more: a settle (or the booked gate) lets the next claim take them.
      if (rows.length === take) moreDue = true;
      const booked = bookSends(lane.state, rows.length, now);
      if (lane.state.rateLimitPerSecond !== null && rows.length > 0) this.moveGate.run(booked.nextSendAt, env, sub);
      rows.forEach((row, k) => chosen.push({ rid: row.rid, sendAt: booked.sendAts[k] as number, subscription: lane.subscription }));
    });
    if (chosen.length === 0) return { work: [], moreDue };
    const leased = this.lease(chosen.length).all(workerId, now + leaseMs, now, ...chosen.map((c) => c.rid)) as (DeliveriesTable & {
      rid: number;
    })[];
    const byRid = new Map(chosen.map((c) => [c.rid, c]));
    const events = new Map<string, ClaimedWork['event']>();
    const work = leased.map((row): ClaimedWork => {
      const pick = byRid.get(row.rid);
      const eventKey = `${row.environment_id}\u0000${row.event_id}`;
      if (!events.has(eventKey)) {
        const found = this.event.get(row.environment_id, row.event_id) as EventsTable | undefined;
        events.set(eventKey, found ? eventFromRow(found) : null);
      }
      const { rid: _rid, ...delivery } = row;
      return {
        delivery: claimedFromRow(delivery),
        event: events.get(eventKey) ?? null,
        subscription: pick?.subscription ? subscriptionFromRow(pick.subscription) : null,
        sendAt: pick?.sendAt ?? now,
      };
    });
    return { work, moreDue };
  }

  private lease(count: number): BetterSqlite3.Statement {
    let statement = this.leaseByCount.get(count);
    if (!statement) {
      statement = this.raw.prepare(`UPDATE deliveries
        SET status = 'delivering', locked_by = ?, lock_expires_at = ?, updated_at = ?
        WHERE rowid IN (${Array.from({ length: count }, () => '?').join(', ')}) AND status IN ('pending', 'scheduled')
        RETURNING rowid AS rid, *`);
      this.leaseByCount.set(count, statement);
    }
    return statement;
  }
}

