/**
 * Retry arithmetic (SPEC §5), kept pure so the worker's settle step stays a thin caller and the
 * numbers can be tested without clocks or queues.
 */

/** Fraction of a step by which a delay may move either way, so retries of many deliveries spread out. */
export const RETRY_JITTER = 0.2;

/**
 * How long to wait before the next attempt of a delivery.
 *
 * @param attemptsMade attempts already made (≥ 1); attempt n+1 waits `schedule[n-1]`, and past the
 *   end of the schedule its last step repeats.
 * @param schedule steps in milliseconds (HERALD_RETRY_SCHEDULE); must not be empty.
 * @param retryAfterMs the receiver's `Retry-After` (429/503), or null. When given it is used as is,
 *   without jitter (the receiver asked for a moment, not a herd), capped at the schedule's largest step.
 * @param random uniform in [0, 1); injectable so tests are deterministic. Default `Math.random`.
 * @returns whole milliseconds, ≥ 0.
 */
export function retryDelayMs(
  attemptsMade: number,
  schedule: readonly number[],
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  if (schedule.length === 0) throw new RangeError('retry schedule is empty');
  if (retryAfterMs !== null) {
    return Math.round(Math.min(Math.max(retryAfterMs, 0), Math.max(...schedule)));
  }
  const index = Math.min(Math.max(Math.floor(attemptsMade), 1), schedule.length) - 1;
  const step = schedule[index] as number;
  const factor = 1 - RETRY_JITTER + 2 * RETRY_JITTER * random();
  return Math.max(0, Math.round(step * factor));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = MONTHS.join('|');
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// RFC 9110 §5.6.7: recipients must accept all three forms; all are UTC.
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTH}) (\\d{4}) ${TIME} GMT$`);
const RFC_850 = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-(${MONTH})-(\\d{2}) ${TIME} GMT$`,
);
const ASCTIME = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTH}) ([ \\d]\\d) ${TIME} (\\d{4})$`);

function utc(year: number, month: string, day: number, h: string, m: string, s: string): number | null {
  const ms = Date.UTC(year, MONTHS.indexOf(month), day, Number(h), Number(m), Number(s));
  const back = new Date(ms);
  // Date.UTC silently rolls "31 Feb" into March; such a header is malformed, not a date.
  if (back.getUTCDate() !== day || Number(h) > 23 || Number(m) > 59 || Number(s) > 60) return null;
  return ms;
}

function parseHttpDate(text: string): number | null {
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    const [, d, mon, y, h, m, s] = match as unknown as string[];
    return utc(Number(y), mon as string, Number(d), h as string, m as string, s as string);
  }
  match = RFC_850.exec(text);
  if (match) {
    const [, d, mon, yy, h, m, s] = match as unknown as string[];
    // Two-digit years: RFC 9110 says pick the century that is not more than 50 years ahead;
    // for a Retry-After that is always the current one, so 19xx/20xx by a 70 pivot is plenty.
    const year = Number(yy) < 70 ? 2000 + Number(yy) : 1900 + Number(yy);
    return utc(year, mon as string, Number(d), h as string, m as string, s as string);
  }
  match = ASCTIME.exec(text);
  if (match) {
    const [, mon, d, h, m, s, y] = match as unknown as string[];
    return utc(Number(y), mon as string, Number((d as string).trim()), h as string, m as string, s as string);
  }
  return null;
}

/**
 * Reads a `Retry-After` header: delay-seconds (a non-negative integer) or an HTTP date.
 *
 * @param nowMs the current time, against which a date is measured.
 * @returns milliseconds to wait (0 for a date already past), or null when absent or malformed.
 */
export function parseRetryAfter(header: string | undefined, nowMs: number): number | null {
  if (header === undefined) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isFinite(ms) ? ms : null;
  }
  const at = parseHttpDate(text);
  return at === null ? null : Math.max(0, at - nowMs);
}
