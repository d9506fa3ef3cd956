import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLOSED } from '../domain/circuit-breaker.ts';
import { RATE_LEAD_MS, bookSends, laneRoom, rateIntervalMs, shareByRank } from './lane-plan.ts';

const plain = { ordering: 'unordered' as const, rateLimitPerSecond: null, batch: null, inFlight: 0, nextSendAt: 0, breaker: CLOSED };

describe('lane plan', () => {
  it('room is the cap less what is in flight; FIFO lanes have one slot', () => {
    assert.equal(laneRoom({ ...plain, inFlight: 3 }, 16, 0), 13);
    assert.equal(laneRoom({ ...plain, inFlight: 20 }, 16, 0), 0);
    assert.equal(laneRoom({ ...plain, ordering: 'fifo' }, 16, 0), 1);
    assert.equal(laneRoom({ ...plain, ordering: 'fifo', inFlight: 1 }, 16, 0), 0);
  });

  it('a rate-limited lane waits for its gate and books at most RATE_HORIZON_MS ahead', () => {
    assert.equal(laneRoom({ ...plain, rateLimitPerSecond: 20, nextSendAt: 1000 + RATE_LEAD_MS + 1 }, 16, 1000), 0);
    assert.equal(laneRoom({ ...plain, rateLimitPerSecond: 20, nextSendAt: 1000 + RATE_LEAD_MS }, 16, 1000), 3);
    assert.equal(laneRoom({ ...plain, rateLimitPerSecond: 20, nextSendAt: 1000 }, 16, 1000), 3);
    assert.equal(laneRoom({ ...plain, rateLimitPerSecond: 1 }, 16, 1000), 1);
    assert.equal(laneRoom({ ...plain, rateLimitPerSecond: 10_000 }, 16, 1000), 16);
  });

  it('books sends 1/rate apart (with the margin) from the gate or now plus the lead, whichever is later', () => {
    const interval = rateIntervalMs(20);
    const start = 1000 + RATE_LEAD_MS;
    const booked = bookSends({ ...plain, rateLimitPerSecond: 20, nextSendAt: 900 }, 3, 1000);
    assert.deepEqual(booked.sendAts, [start, Math.ceil(start + interval), Math.ceil(start + 2 * interval)]);
    assert.equal(booked.nextSendAt, Math.ceil(start + 3 * interval));
    const later = bookSends({ ...plain, rateLimitPerSecond: 20, nextSendAt: start + 10 }, 1, 1000);
    assert.deepEqual(later.sendAts, [start + 10]);
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
