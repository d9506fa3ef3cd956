/**
 * A subscription's circuit breaker (its lane's, src/queue/): when its receiver keeps failing or
 * hanging, new events stop taking its slots, so its retries (which go first and keep their
 * schedule) and the other subscriptions get them, and `disableAfterFailures` is reached in minutes
 * rather than after the whole backlog has had its first attempt.
 *
 * - Closed: everything goes. FAILURES_TO_OPEN attempts failing in a row (retries included) open it.
 * - Open: first attempts wait; one goes as a probe each cooldown (PROBE_FIRST_MS, doubling up to
 *   PROBE_MAX_MS); retries go on their schedule.
 * - Any success closes it.
 */

export const FAILURES_TO_OPEN = 5;
export const PROBE_FIRST_MS = 2_000;
export const PROBE_MAX_MS = 60_000;

export interface Breaker {
  /** Attempts failed in a row. */
  failures: number;
  /** When it opened; null while closed. */
  openedAt: number | null;
  /** While open: when the next probe may go. */
  probeAt: number;
  /** While open: the wait after the next probe. */
  cooldownMs: number;
}

export const CLOSED: Breaker = Object.freeze({ failures: 0, openedAt: null, probeAt: 0, cooldownMs: 0 });

export type BreakerChange = 'opened' | 'closed' | null;

/** Applies one attempt's outcome. */
export function afterAttempt(breaker: Breaker, succeeded: boolean, now: number): { breaker: Breaker; change: BreakerChange } {
  if (succeeded) return { breaker: CLOSED, change: breaker.openedAt !== null ? 'closed' : null };
  const failures = breaker.failures + 1;
  if (breaker.openedAt !== null || failures < FAILURES_TO_OPEN) return { breaker: { ...breaker, failures }, change: null };
  return { breaker: { failures, openedAt: now, probeAt: now + PROBE_FIRST_MS, cooldownMs: PROBE_FIRST_MS * 2 }, change: 'opened' };
}

/** Applies attempts' outcomes in order; the last change that happened, if any. */
export function afterAttempts(breaker: Breaker, outcomes: readonly boolean[], now: number): { breaker: Breaker; change: BreakerChange } {
  let current = breaker;
  let change: BreakerChange = null;
  for (const succeeded of outcomes) {
    const next = afterAttempt(current, succeeded, now);
    current = next.breaker;
    change = next.change ?? change;
  }
  return { breaker: current, change };
}

/** How many first attempts may go now: all the room while closed; while open, one probe when it is due. */
export function firstAttemptsAllowed(breaker: Breaker, room: number, now: number): number {
  if (breaker.openedAt === null) return room;
  return breaker.probeAt <= now ? Math.min(1, room) : 0;
}

/** A probe went: the next waits the cooldown, which doubles (up to PROBE_MAX_MS). */
export function probeSent(breaker: Breaker, now: number): Breaker {
  return { ...breaker, probeAt: now + breaker.cooldownMs, cooldownMs: Math.min(PROBE_MAX_MS, breaker.cooldownMs * 2) };
}
