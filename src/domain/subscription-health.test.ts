import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyOutcome, applyOutcomes } from './subscription-health.ts';

const enabled = { status: 'enabled' as const, consecutiveFailures: 0, disableAfterFailures: 3 };

describe('subscription health', () => {
  it('counts exhausted deliveries and disables at the threshold', () => {
    const { health, effects } = applyOutcomes(enabled, ['failed', 'failed', 'failed']);
    assert.deepEqual(
      effects.map((e) => [e.consecutiveFailures, e.disabled]),
      [
        [1, null],
        [2, null],
        [3, 'failures'],
      ],
    );
    assert.equal(health.status, 'disabled');
  });

  it('a success resets the count and reports the recovery once', () => {
    const { health, effects } = applyOutcomes({ ...enabled, consecutiveFailures: 2 }, ['succeeded', 'succeeded']);
    assert.deepEqual(
      effects.map((e) => e.recovered),
      [true, false],
    );
    assert.equal(health.consecutiveFailures, 0);
  });

  it('410 disables at once, and a disabled subscription is not disabled again', () => {
    const gone = applyOutcome(enabled, 'gone');
    assert.equal(gone.effect.disabled, 'gone');
    const again = applyOutcomes(gone.health, ['failed', 'gone', 'failed']);
    assert.deepEqual(
      again.effects.map((e) => e.disabled),
      [null, null, null],
    );
    assert.equal(again.health.consecutiveFailures, 4);
  });

  it('a success between failures starts the count again', () => {
    const { effects } = applyOutcomes(enabled, ['failed', 'failed', 'succeeded', 'failed', 'failed']);
    assert.deepEqual(
      effects.map((e) => e.disabled),
      [null, null, null, null, null],
    );
  });
});
