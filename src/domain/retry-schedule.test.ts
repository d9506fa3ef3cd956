import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter, retryDelayMs } from './retry-schedule.ts';

const SCHEDULE = [5_000, 30_000, 120_000];
const middle = () => 0.5;
const lowest = () => 0;
const highest = () => 0.999999;

describe('retryDelayMs', () => {
  it('attempt n+1 waits schedule[n-1] (no jitter at the midpoint)', () => {
    assert.equal(retryDelayMs(1, SCHEDULE, null, middle), 5_000);
    assert.equal(retryDelayMs(2, SCHEDULE, null, middle), 30_000);
    assert.equal(retryDelayMs(3, SCHEDULE, null, middle), 120_000);
  });

  it('repeats the last step past the end of the schedule', () => {
    assert.equal(retryDelayMs(4, SCHEDULE, null, middle), 120_000);
    assert.equal(retryDelayMs(40, SCHEDULE, null, middle), 120_000);
  });

  it('treats fewer than one attempt as the first step', () => {
    assert.equal(retryDelayMs(0, SCHEDULE, null, middle), 5_000);
  });

  it('jitters uniformly within ±20%', () => {
    assert.equal(retryDelayMs(1, SCHEDULE, null, lowest), 4_000);
    assert.equal(retryDelayMs(1, SCHEDULE, null, highest), 6_000);
    assert.equal(retryDelayMs(2, SCHEDULE, null, () => 0.25), 27_000);
    for (let i = 0; i < 1000; i++) {
      const delay = retryDelayMs(2, SCHEDULE, null);
      assert.ok(delay >= 24_000 && delay <= 36_000, `${delay} within ±20% of 30s`);
    }
  });

  it('works with millisecond test schedules', () => {
    assert.equal(retryDelayMs(1, [10, 20, 40], null, middle), 10);
    assert.equal(retryDelayMs(9, [10, 20, 40], null, lowest), 32);
  });

  it('uses Retry-After as given, without jitter', () => {
    assert.equal(retryDelayMs(1, SCHEDULE, 60_000, lowest), 60_000);
    assert.equal(retryDelayMs(3, SCHEDULE, 0, highest), 0);
  });

  it('caps Retry-After at the largest step of the schedule', () => {
    assert.equal(retryDelayMs(1, SCHEDULE, 86_400_000, middle), 120_000);
    assert.equal(retryDelayMs(1, [300, 100], 5_000, middle), 300);
  });

  it('refuses an empty schedule', () => {
    assert.throws(() => retryDelayMs(1, [], null), RangeError);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 15, 12, 0, 0);

  it('reads delay-seconds', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter(' 7 ', now), 7_000);
  });

  it('reads an IMF-fixdate relative to now', () => {
    assert.equal(parseRetryAfter('Wed, 15 Jan 2025 12:01:30 GMT', now), 90_000);
  });

  it('reads the obsolete RFC 850 and asctime forms', () => {
    assert.equal(parseRetryAfter('Wednesday, 15-Jan-25 12:00:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter('Wed Jan 15 12:00:20 2025', now), 20_000);
    assert.equal(parseRetryAfter('Sun Feb  2 12:00:00 2025', now), 18 * 86_400_000);
  });

  it('answers 0 for a date already past', () => {
    assert.equal(parseRetryAfter('Tue, 14 Jan 2025 12:00:00 GMT', now), 0);
  });

  it('answers null for anything else', () => {
    const bad = [undefined, '', '-5', '1.5', '5s', 'soon', '2025-01-15T12:01:00Z', 'Wed, 31 Feb 2025 12:00:00 GMT'];
    for (const header of bad) {
      assert.equal(parseRetryAfter(header, now), null, String(header));
    }
  });
});
