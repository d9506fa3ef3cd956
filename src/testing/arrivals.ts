/**
 * Test-only: what the requests a TestReceiver got say about order and pace (SPEC §4 `ordering`,
 * `rateLimitPerSecond`).
 */
import type { Received } from './receiver.ts';

/** The webhook-id of each request, in arrival order (retries repeat theirs). */
export function webhookIds(received: readonly Received[]): string[] {
  return received.map((r) => String(r.headers['webhook-id']));
}

/** Each id once, where it first arrived. */
export function firstArrivals(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

/**
 * Where `ids` goes backwards in `order` (an id arriving after one published later than it), as
 * `[position, id before, id]`; ids not in `order` count as a step back too. Empty when the
 * sequence, retries included, is non-decreasing in `order`.
 */
export function stepsBack(ids: readonly string[], order: readonly string[]): [number, string, string][] {
  const rank = new Map(order.map((id, i) => [id, i]));
  const found: [number, string, string][] = [];
  let highest = -1;
  ids.forEach((id, i) => {
    const r = rank.get(id) ?? -1;
    if (r < highest) found.push([i, ids[i - 1] as string, id]);
    highest = Math.max(highest, r);
  });
  return found;
}

/**
 * The most requests whose start falls in one window of `windowMs`, sliding the window's start
 * over every arrival ([start, start + windowMs)), and where that window starts (an index into
 * the arrivals sorted by `startedAt`).
 */
export function busiestWindow(
  received: readonly Received[],
  windowMs = 1000,
): { count: number; from: number; times: number[]; ids: string[] } {
  const sorted = [...received].sort((a, b) => a.startedAt - b.startedAt);
  const times = sorted.map((r) => r.startedAt);
  let best = { count: 0, from: 0 };
  let end = 0;
  for (let start = 0; start < times.length; start++) {
    while (end < times.length && (times[end] as number) < (times[start] as number) + windowMs) end++;
    if (end - start > best.count) best = { count: end - start, from: start };
  }
  return { ...best, times, ids: webhookIds(sorted) };
}

/** A line for an assertion message: the requests of the busiest window, with the gaps (ms) between them. */
export function describeWindow(window: ReturnType<typeof busiestWindow>): string {
  const slice = window.times.slice(window.from, window.from + window.count);
  const ids = window.ids.slice(window.from, window.from + window.count);
  const steps = ids.map((id, i) => (i === 0 ? id : `+${((slice[i] as number) - (slice[i - 1] as number)).toFixed(1)} ${id}`));
  const shown = steps.length > 60 ? [...steps.slice(0, 60), `… ${steps.length - 60} more`] : steps;
  return `${window.count} requests within ${((slice.at(-1) ?? 0) - (slice[0] ?? 0)).toFixed(1)} ms: ${shown.join(', ')}`;
}
