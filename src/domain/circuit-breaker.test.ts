import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLOSED, FAILURES_TO_OPEN, PROBE_FIRST_MS, PROBE_MAX_MS, afterAttempts, firstAttemptsAllowed, probeSent } from './circuit-breaker.ts';

describe('circuit breaker', () => {
  it('opens after FAILURES_TO_OPEN failed attempts in a row, and a success closes it', () => {
    const almost = afterAttempts(CLOSED, Array(FAILURES_TO_OPEN - 1).fill(false), 1000);
    assert.equal(almost.change, null);
    const open = afterAttempts(almost.breaker, [false], 1000);
    assert.equal(open.change, 'opened');
    assert.deepEqual(open.breaker, { failures: FAILURES_TO_OPEN, openedAt: 1000, probeAt: 1000 + PROBE_FIRST_MS, cooldownMs: PROBE_FIRST_MS * 2 });
    const closed = afterAttempts(open.breaker, [false, true], 2000);
    assert.equal(closed.change, 'closed');
    assert.deepEqual(closed.breaker, CLOSED);
  });

  it('a success in between starts the count again', () => {
    const { breaker, change } = afterAttempts(CLOSED, [false, false, false, false, true, false, false, false, false], 0);
    assert.equal(change, null);
    assert.equal(breaker.openedAt, null);
  });

  it('while open, first attempts wait except one probe per cooldown, which doubles up to the maximum', () => {
    let { breaker } = afterAttempts(CLOSED, Array(FAILURES_TO_OPEN).fill(false), 0);
    assert.equal(firstAttemptsAllowed(CLOSED, 16, 0), 16);
    assert.equal(firstAttemptsAllowed(breaker, 16, PROBE_FIRST_MS - 1), 0);
    assert.equal(firstAttemptsAllowed(breaker, 16, PROBE_FIRST_MS), 1);
    assert.equal(firstAttemptsAllowed(breaker, 0, PROBE_FIRST_MS), 0);
    const waits: number[] = [];
    let now = PROBE_FIRST_MS;
    for (let i = 0; i < 8; i++) {
      breaker = probeSent(breaker, now);
      waits.push(breaker.probeAt - now);
      now = breaker.probeAt;
    }
    assert.deepEqual(waits, [4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000]);
    assert.equal(Math.max(...waits), PROBE_MAX_MS);
  });
});
