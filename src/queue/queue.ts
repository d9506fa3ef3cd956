/**
 * The delivery queue (SPEC §5): the deliveries table, taken lane by lane. A lane is one
 * subscription's queue; its gates (in-flight cap, FIFO, rate limit: lane-plan.ts) decide what of
 * it may be sent now, under the lane's lock, so they hold across worker processes.
 *
 * claim (lease) → send → settle, with leases renewed while a request is in flight and returned to
 * the queue when they expire. One implementation per dialect: sqlite-queue.ts, postgres-queue.ts.
 */
import type { Attempt, Delivery, StoredEvent, Subscription } from '../domain/types.ts';
import type { HealthEffect } from '../domain/subscription-health.ts';

export interface ClaimOptions {
  workerId: string;
  now: number;
  /** Most requests to claim in this call. */
  limit: number;
  /** Most requests of one subscription in flight at once, counting those already leased. */
  perSubscriptionCap: number;
  leaseMs: number;
}

export interface ClaimedDelivery extends Delivery {
  environmentId: string;
}

/** One request's worth of claimed work, with what sending it needs: null where an event or the subscription is gone. */
export interface ClaimedWork {
  /** The delivery, or a batch's first. */
  delivery: ClaimedDelivery;
  event: StoredEvent | null;
  subscription: Subscription | null;
  /** When the request may start: later than the claim only under a rate limit (the booked slot). */
  sendAt: number;
  /** A batching subscription's batch: its id and its deliveries (the first is `delivery`) with their events, in order. */
  batch: ClaimedBatchOfEvents | null;
}

export interface ClaimedBatchOfEvents {
  id: string;
  deliveries: ClaimedDelivery[];
  events: (StoredEvent | null)[];
}

export interface ClaimedBatch {
  work: ClaimedWork[];
  /**
   * False when the claim left no due delivery waiting for a free slot: a delivery settling then
   * gives a claim nothing to take, so the worker need not claim again until new work arrives.
   */
  moreDue: boolean;
  /** The soonest time a batch left waiting to fill up is due to go anyway (its oldest event's wait is over). */
  wakeAt: number | null;
}

export type SettleDecision =
  | { kind: 'succeeded' }
  | { kind: 'retry'; nextAttemptAt: number }
  /** Retries exhausted (`gone: false`), or the receiver answered 410 (`gone: true`). */
  | { kind: 'failed'; gone: boolean };

export interface SettleInput {
  environmentId: string;
  /** The delivery attempted, or the batch (`bat_…`) whose deliveries are `members`. */
  deliveryId: string;
  /** A batch's deliveries, all moved as one; absent for a single delivery. */
  members?: readonly string[];
  workerId: string;
  attempt: Attempt;
  decision: SettleDecision;
  now: number;
}

/** What settling did to the subscription (domain/subscription-health.ts), for operational events and emails. */
export interface SettleEffects extends HealthEffect {
  /** False when the lease had been lost (another worker owns the delivery, or the batch, now). */
  settled: boolean;
  /** The subscription's circuit breaker opened (how, when it probes next) or closed with this attempt (domain/circuit-breaker.ts). */
  breaker: { change: 'opened'; failures: number; probeAt: number } | { change: 'closed' } | null;
}

export const UNSETTLED: SettleEffects = Object.freeze({
  settled: false,
  recovered: false,
  disabled: null,
  consecutiveFailures: 0,
  breaker: null,
});

export interface Queue {
  /**
   * What a worker does before its first claim. On SQLite one process owns the queue, so whatever
   * was in flight when it stopped is due again now; on PostgreSQL other workers may hold leases,
   * so only expired ones go back. How many leases it returned.
   */
  recover(now: number): Promise<number>;
  /** Leases due deliveries fairly across lanes and environments, within each lane's gates. */
  claim(options: ClaimOptions): Promise<ClaimedBatch>;
  /** Pushes the lease of in-flight deliveries forward. */
  extendLeases(workerId: string, keys: readonly { environmentId: string; id: string }[], until: number): Promise<void>;
  /**
   * Records each attempt and moves its delivery on, where this worker still holds the lease, and
   * counts final outcomes against the subscription (disabling it at its threshold or on 410),
   * all in one transaction. Effects in input order.
   */
  settle(inputs: readonly SettleInput[]): Promise<SettleEffects[]>;
  /** Cancels a delivery this worker holds, without an attempt (its subscription is gone or disabled). */
  cancelClaimed(environmentId: string, id: string, workerId: string, now: number): Promise<void>;
  /** Puts deliveries this worker holds back in the queue, due now, without an attempt (a booked send it was too late for). */
  releaseClaimed(environmentId: string, ids: readonly string[], workerId: string, now: number): Promise<void>;
  /** Returns expired leases to the queue; how many. */
  reapExpired(now: number): Promise<number>;
  /**
   * The soonest time after `after` at which something may become claimable: a waiting delivery's
   * next attempt, a rate-limited lane's gate, or an open breaker's next probe. Null when nothing waits.
   */
  nextDueAt(after: number): Promise<number | null>;
}
