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

/** The CloudEvents `source` when the publisher gives none. */
export function defaultSource(environmentId: string, topic: string): string {
  return `/environments/${environmentId}/topics/${topic}`;
}
