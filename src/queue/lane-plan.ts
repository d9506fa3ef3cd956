import type { Breaker } from '../domain/circuit-breaker.ts';

/**
 * What each lane (one subscription's queue) may start now: the gates of SPEC §4/§5 in one place,
 * used by both dialects' claims under the lanes' locks.
 *
 * - In-flight cap: at most `cap` requests of a lane in flight; FIFO lanes at most one.
 * - FIFO: the head (the oldest waiting delivery in commit order) goes first, alone; the claim
 *   takes it only when it is due, so its retries hold everything behind it.
 * - Rate limit: requests start at least 1/rate s apart. A claim may book several sends ahead of
 *   time (each with its own `sendAt`, which the worker waits for), from RATE_LEAD_MS after it to
 *   RATE_HORIZON_MS ahead; a send more than RATE_LATENESS_MS late goes back to the queue unsent.
 * - Batches: a batching lane's request is a batch, formed when `maxEvents` deliveries are due or
 *   the oldest due one has waited `maxWaitMs`; one batch per lane per claim, and a batch that failed
 *   is retried whole before a new one forms. In-flight counts requests, so the cap counts batches.
 * - Circuit breaker (domain/circuit-breaker.ts): a failing lane's due retries go before its first
 *   attempts; while it is open, first attempts wait but for one probe per cooldown.
 * - Fairness: rank 1 of every lane before rank 2 of any (a lane's rank counts what it already has
 *   in flight), so a backlog never starves another lane's first delivery.
 */

/** How far ahead a claim books a rate-limited lane's sends. */
export const RATE_HORIZON_MS = 200;
/**
 * Requests are booked this much further apart than 1/rate: a request arrives a little after its
 * booked time (timers, the send thread, a connection being opened: 20-30 ms for a worker's first
 * request to a host), and without room to spare two late-and-early neighbours would put rate + 1
 * requests into some 1 s window at the receiver. 4 % leaves 40 ms per 1 s window, at any rate.
 */
export const RATE_SPACING_MARGIN = 1.04;

export interface LaneGates {
  ordering: 'unordered' | 'fifo';
  rateLimitPerSecond: number | null;
  batch: { maxEvents: number; maxWaitMs: number } | null;
}

export interface LaneState extends LaneGates {
  /** Requests of the lane in flight now. */
  inFlight: number;
  /** When the rate limit next lets a request start (0: no limit has booked anything). */
  nextSendAt: number;
  breaker: Breaker;
}

/** The breaker as the lane's row stores it. */
export function breakerOf(row: {
  breaker_failures: number;
  breaker_opened_at: number | null;
  breaker_probe_at: number;
  breaker_cooldown_ms: number;
}): Breaker {
  return {
    failures: Number(row.breaker_failures),
    openedAt: row.breaker_opened_at === null ? null : Number(row.breaker_opened_at),
    probeAt: Number(row.breaker_probe_at),
    cooldownMs: Number(row.breaker_cooldown_ms),
  };
}

/**
 * Whether the lane reads its due retries before its first attempts: only a lane whose receiver
 * has been failing has retries worth putting first (domain/circuit-breaker.ts), so a healthy
 * lane's claim stays one read. (A FIFO lane's head goes first whatever it is.)
 */
export function retriesFirst(lane: LaneState): boolean {
  return lane.ordering !== 'fifo' && (lane.breaker.failures > 0 || lane.breaker.openedAt !== null);
}

/** When a rate gate at `nextSendAt` lets a claim take the lane (the claim books from the gate). */
export const gateClaimableAt = (nextSendAt: number): number => nextSendAt - RATE_LEAD_MS;

/** Whether the due deliveries a batching lane has found make a batch now: full, or the oldest has waited long enough. */
export function batchReady(batch: { maxEvents: number; maxWaitMs: number }, due: number, oldestDueAt: number, now: number): boolean {
  return due >= batch.maxEvents || (due > 0 && oldestDueAt + batch.maxWaitMs <= now);
}

/** A lane's gates as its subscription's row stores them. */
export function laneGates(row: {
  ordering: string;
  rate_limit_per_second: number | null;
  batch_max_events: number | null;
  batch_max_wait_ms: number | null;
}): LaneGates {
  return {
    ordering: row.ordering === 'fifo' ? 'fifo' : 'unordered',
    rateLimitPerSecond: row.rate_limit_per_second,
    batch:
      row.batch_max_events !== null && row.batch_max_wait_ms !== null
        ? { maxEvents: row.batch_max_events, maxWaitMs: row.batch_max_wait_ms }
        : null,
  };
}

/**
 * How late a rate-limited request may leave after its booked time: half of the 40 ms the spacing
 * margin leaves in every 1 s window, the other half being for the way from leaving to arriving.
 * Later than that (a busy or paused worker), the request goes back to the queue unsent.
 */
export const RATE_LATENESS_MS = 20;

/**
 * A claim books a rate-limited lane's first send no sooner than this after its `now` (taken before
 * the claim ran): the claim itself takes a few milliseconds, up to tens on a loaded PostgreSQL,
 * and a first slot booked at `now` was left late by all of it.
 */
export const RATE_LEAD_MS = 50;

/** Milliseconds between two requests of a lane limited to `rate` per second. */
export function rateIntervalMs(rate: number): number {
  return (1000 / rate) * RATE_SPACING_MARGIN;
}

/** The most requests the lane may start in this claim, before fairness shares out the claim's limit. */
export function laneRoom(lane: LaneState, cap: number, now: number): number {
  const limit = lane.ordering === 'fifo' ? 1 : cap;
  let room = Math.max(0, limit - lane.inFlight);
  if (lane.batch !== null) room = Math.min(room, 1);
  if (lane.rateLimitPerSecond !== null) {
    // Claimed RATE_LEAD_MS before its gate, so its next sends follow the last booked ones without a gap.
    if (lane.nextSendAt > now + RATE_LEAD_MS) return 0;
    room = Math.min(room, Math.max(1, Math.floor(RATE_HORIZON_MS / rateIntervalMs(lane.rateLimitPerSecond))));
  }
  return room;
}

/**
 * Shares `limit` requests among lanes, given in priority order (fewest in flight first, then the
 * longest waiting), by rank: rank r of a lane is its (r - inFlight)-th new request. Returns how many
 * each lane may take.
 */
export function shareByRank(lanes: readonly { inFlight: number; room: number }[], limit: number): number[] {
  const takes = lanes.map(() => 0);
  let total = 0;
  const top = lanes.reduce((most, lane) => Math.max(most, lane.inFlight + lane.room), 0);
  for (let rank = 1; rank <= top && total < limit; rank++) {
    for (let i = 0; i < lanes.length && total < limit; i++) {
      const lane = lanes[i] as { inFlight: number; room: number };
      if (rank > lane.inFlight && rank <= lane.inFlight + lane.room) {
        takes[i] = (takes[i] as number) + 1;
        total++;
      }
    }
  }
  return takes;
}

/**
 * The booked start times of `count` requests a claim took from a rate-limited lane, and the
 * lane's next gate. Without a limit every request may start now and the gate stays where it was.
 */
export function bookSends(lane: LaneState, count: number, now: number): { sendAts: number[]; nextSendAt: number } {
  if (lane.rateLimitPerSecond === null || count === 0) return { sendAts: Array(count).fill(now), nextSendAt: lane.nextSendAt };
  const interval = rateIntervalMs(lane.rateLimitPerSecond);
  const start = Math.max(now + RATE_LEAD_MS, lane.nextSendAt);
  const sendAts = Array.from({ length: count }, (_, i) => Math.ceil(start + i * interval));
  return { sendAts, nextSendAt: Math.ceil(start + count * interval) };
}
