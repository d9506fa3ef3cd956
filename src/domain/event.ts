/** Rules for one published event that need no storage. */

/** Publisher timestamps below this are seconds, not milliseconds (SPEC §4 Publishing, seed 002). */
const SECONDS_THRESHOLD = 100_000_000_000;

/** Milliseconds of a publisher `timestamp`, which may be given in seconds. */
export function timestampToMs(timestamp: number): number {
  return timestamp < SECONDS_THRESHOLD ? Math.round(timestamp * 1000) : Math.round(timestamp);
}

/** When delivery may start: `timestamp + delay` (either may be alone), else `now`. */
export function deliveryStartsAt(now: number, timestamp: number | undefined, delaySeconds: number | undefined): number {
  const base = timestamp === undefined ? now : timestampToMs(timestamp);
  return base + Math.round((delaySeconds ?? 0) * 1000);
}

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the instants RFC 3339 can write. */
export const EARLIEST_INSTANT = -62_167_219_200_000;
export const LATEST_INSTANT = 253_402_300_799_999;

/** Whether `ms` can be shown as an RFC 3339 date-time (outside, toISOString writes `+010000-…`). */
export const isRfc3339Instant = (ms: number): boolean => ms >= EARLIEST_INSTANT && ms <= LATEST_INSTANT;

/**
 * The CloudEvents `source` when the publisher gives none. Ids and topic names are limited to
 * `[A-Za-z0-9_.:-]`, all legal in a URI path, so nothing needs escaping.
 */
export function defaultSource(environmentId: string, topic: string): string {
  return `/environments/${environmentId}/topics/${topic}`;
}
