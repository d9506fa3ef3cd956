import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLOSED } from '../domain/circuit-breaker.ts';
import { bookSends, laneRoom, rateIntervalMs, shareByRank } from './lane-plan.ts';

const plain = { ordering: 'unordered' as const, rateLimitPerSecond: null, batch: null, inFlight: 0, nextSendAt: 0, breaker: CLOSED };

describe('lane plan', () => {
  it('room is the cap less what is in flight; FIFO lanes have one slot', () => {
    assert.equal(laneRoom({ ...plain, inFlight: 3 }, 16, 0), 13);
    assert.equal(laneRoom({ ...plain, inFlight: 20 }, 16, 0), 0);
    assert.equal(laneRoom({ ...plain, ordering: 'fifo' }, 16, 0), 1);
    assert.equal(laneRoom({ ...plain, ordering: 'fifo', inFlight: 1 }, 16, 0), 0);
  });

  it('a rate-limited lane waits for its gate and books at most RATE_HORIZON_MS ahead', () => {
    assert.equal(laneRoom({ ...plain, rateLimitPerSecond: 20, nextSendAt: 1001 }, 16, 1000), 0);
    assert.equal(laneRoom({ ...plain, rateLimitPerSecond: 20, nextSendAt: 1000 }, 16, 1000), 3);
    assert.equal(laneRoom({ ...plain, rateLimitPerSecond: 1 }, 16, 1000), 1);
    assert.equal(laneRoom({ ...plain, rateLimitPerSecond: 10_000 }, 16, 1000), 16);
  });

  it('books sends 1/rate apart (with the margin) from the gate or now, whichever is later', () => {
    const interval = rateIntervalMs(20);
    const booked = bookSends({ ...plain, rateLimitPerSecond: 20, nextSendAt: 900 }, 3, 1000);
    assert.deepEqual(booked.sendAts, [1000, Math.ceil(1000 + interval), Math.ceil(1000 + 2 * interval)]);
    assert.equal(booked.nextSendAt, Math.ceil(1000 + 3 * interval));
    const later = bookSends({ ...plain, rateLimitPerSecond: 20, nextSendAt: 1010 }, 1, 1000);
    assert.deepEqual(later.sendAts, [1010]);
    assert.deepEqual(bookSends(plain, 2, 5), { sendAts: [5, 5], nextSendAt: 0 });
  });

  it('shares a claim rank by rank: every lane gets its first before any gets a second', () => {
    assert.deepEqual(
      shareByRank(
        [
          { inFlight: 0, room: 10 },
          { inFlight: 0, room: 10 },
          { inFlight: 2, room: 10 },
        ],
        5,
      ),
      [3, 2, 0],
    );
    assert.deepEqual(
      shareByRank(
        [
          { inFlight: 0, room: 1 },
          { inFlight: 0, room: 0 },
          { inFlight: 5, room: 3 },
        ],
        100,
      ),
      [1, 0, 3],
    );
  });
});
