/**
 * The queue's contract, on both dialects: fairness, caps, leases and their expiry, every settle
 * outcome, FIFO lanes, rate-limited lanes, batching lanes and the circuit breaker. Time is passed in (`now`), never slept.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Subscription } from '../domain/types.ts';
import type { Store } from '../store/store.ts';
import { claimDeliveries, describeEachDialect, settleOne, testSubscription } from '../testing/test-store.ts';
import { FAILURES_TO_OPEN, PROBE_FIRST_MS } from '../domain/circuit-breaker.ts';
import { RATE_HORIZON_MS, RATE_LEAD_MS, rateIntervalMs } from './lane-plan.ts';
import type { ClaimOptions, SettleDecision } from './queue.ts';

const T = Date.UTC(2026, 5, 1);
let counter = 0;

describeEachDialect('queue', (store, dialect) => {
  const env = `env_q_${dialect}`;

  const subscribe = async (overrides: Partial<Subscription> = {}): Promise<Subscription> => {
    const subscription = testSubscription({ id: `sub_${++counter}`, ...overrides });
    assert.ok(await store().insertSubscription(env, subscription));
    return subscription;
  };
  /** Queues `count` deliveries of the subscription in that (commit) order, due at `due(i)`. */
  const queue = async (subscription: Subscription, count: number, due: (i: number) => number = () => T) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `dlv_${subscription.id}_${String(i).padStart(3, '0')}`;
      ids.push(id);
      await store().insertDeliveries(env, [
        { id, eventId: `evt_${id}`, subscriptionId: subscription.id, topic: 'work', status: 'pending', nextAttemptAt: due(i), createdAt: T },
      ]);
    }
    return ids;
  };
  const claim = (now: number, extra: Partial<ClaimOptions> = {}) =>
    store().queue.claim({ workerId: 'w1', now, limit: 100, perSubscriptionCap: 4, leaseMs: 30_000, ...extra });
  const settle = (id: string, subscriptionId: string, decision: SettleDecision, now = T, workerId = 'w1', number = 1) =>
    settleOne(store(), {
      environmentId: env,
      deliveryId: id,
      workerId,
      now,
      decision,
      attempt: {
        id: `att_${id}_${number}_${++counter}`,
        deliveryId: id,
        subscriptionId,
        number,
        startedAt: now,
        durationMs: 1,
        requestHeaders: {},
        responseStatus: decision.kind === 'succeeded' ? 200 : 500,
        responseBody: '',
        error: decision.kind === 'succeeded' ? null : { kind: 'http_status', message: 'the receiver answered 500' },
        outcome: decision.kind === 'succeeded' ? 'succeeded' : 'failed',
      },
    });
  /** Settles everything in flight as succeeded, so each test starts from an empty queue. */
  const drain = async (now = T + 10 * 86_400_000) => {
    for (;;) {
      const { work } = await claim(now, { perSubscriptionCap: 1000, limit: 1000 });
      if (work.length === 0) break;
      for (const w of work) await settle(w.delivery.id, w.delivery.subscriptionId, { kind: 'succeeded' }, now);
    }
    await store().queue.reapExpired(Number.MAX_SAFE_INTEGER);
    for (;;) {
      const { work } = await claim(now, { perSubscriptionCap: 1000, limit: 1000 });
      if (work.length === 0) break;
      for (const w of work) await settle(w.delivery.id, w.delivery.subscriptionId, { kind: 'succeeded' }, now);
    }
  };

  it('claims rank by rank: a backlog does not starve another lane, and each claim reads its event and subscription', async () => {
    const busy = await subscribe();
    const quiet = await subscribe();
    await queue(busy, 50);
    await queue(quiet, 1);
    // Rank 1 of both lanes, then rank 2 of both (the quiet one has no second: the claim comes back
    // short, and the next fills up), then rank 3.
    const { work, moreDue } = await claim(T, { limit: 5 });
    assert.equal(work.filter((w) => w.delivery.subscriptionId === busy.id).length, 3);
    assert.equal(work.filter((w) => w.delivery.subscriptionId === quiet.id).length, 1);
    assert.equal(moreDue, true);
    const first = work.find((w) => w.delivery.subscriptionId === quiet.id);
    assert.equal(first?.subscription?.id, quiet.id);
    assert.equal(first?.event, null, 'the test queued no events');
    assert.equal(first?.delivery.status, 'delivering');
    await drain();
  });

  it('holds the in-flight cap per lane, and frees a slot on settle', async () => {
    const lane = await subscribe();
    const ids = await queue(lane, 10);
    assert.equal((await claim(T)).work.length, 4);
    const full = await claim(T);
    assert.deepEqual(full.work, []);
    assert.equal(full.moreDue, true, 'due deliveries wait for a slot');
    await settle(ids[0] as string, lane.id, { kind: 'succeeded' });
    assert.equal((await claim(T)).work.length, 1);
    await drain();
  });

  it('returns expired leases, renews live ones, and ignores a settle of a lease lost', async () => {
    const lane = await subscribe();
    const [id] = await queue(lane, 1);
    assert.equal((await claim(T, { leaseMs: 100 })).work.length, 1);
    assert.equal(await store().queue.reapExpired(T + 50), 0);
    await store().queue.extendLeases('w1', [{ environmentId: env, id: id as string }], T + 1000);
    assert.equal(await store().queue.reapExpired(T + 500), 0, 'renewed');
    assert.equal(await store().queue.reapExpired(T + 1001), 1);
    assert.equal((await store().getDelivery(env, id as string))?.status, 'pending');
    const again = await claim(T + 1001, { workerId: 'w2' });
    assert.equal(again.work.length, 1);
    const late = await settle(id as string, lane.id, { kind: 'succeeded' }, T + 1002, 'w1');
    assert.equal(late.settled, false, 'w1 lost the lease to w2');
    assert.equal((await store().getDelivery(env, id as string))?.status, 'delivering');
    const owner = await settle(id as string, lane.id, { kind: 'succeeded' }, T + 1003, 'w2');
    assert.equal(owner.settled, true);
    assert.equal((await store().getDelivery(env, id as string))?.status, 'succeeded');
  });

  it('recover() returns every lease on SQLite (one process owns it) and only expired ones on PostgreSQL', async () => {
    const lane = await subscribe();
    await queue(lane, 2);
    assert.equal((await claim(T, { leaseMs: 30_000 })).work.length, 2);
    const returned = await store().queue.recover(T + 1);
    assert.equal(returned, dialect === 'sqlite' ? 2 : 0);
    await drain();
  });

  it('settles every outcome: success, retry, exhausted, gone; counts failures and recoveries by the domain rule', async () => {
    const lane = await subscribe({ disableAfterFailures: 2 });
    const ids = await queue(lane, 4);
    await claim(T, { perSubscriptionCap: 16 });
    const retry = await settle(ids[0] as string, lane.id, { kind: 'retry', nextAttemptAt: T + 5000 });
    assert.deepEqual(retry, { settled: true, recovered: false, disabled: null, consecutiveFailures: 0, breaker: null });
    const retried = await store().getDelivery(env, ids[0] as string);
    assert.deepEqual([retried?.status, retried?.nextAttemptAt, retried?.attempts], ['pending', T + 5000, 1]);
    const failed = await settle(ids[1] as string, lane.id, { kind: 'failed', gone: false });
    assert.deepEqual(failed, { settled: true, recovered: false, disabled: null, consecutiveFailures: 1, breaker: null });
    const recovered = await settle(ids[2] as string, lane.id, { kind: 'succeeded' });
    assert.equal(recovered.recovered, true);
    assert.equal((await store().getSubscription(env, lane.id))?.consecutiveFailures, 0);
    const gone = await settle(ids[3] as string, lane.id, { kind: 'failed', gone: true });
    assert.equal(gone.disabled, 'gone');
    const stored = await store().getSubscription(env, lane.id);
    assert.deepEqual([stored?.status, stored?.disabledReason, stored?.version], ['disabled', 'gone', 2]);
    assert.deepEqual(
      (await store().listAttempts(env, ids[0] as string, { limit: 10, after: null })).data.map((a) => a.outcome),
      ['failed'],
    );
    await drain();
  });

  it('disables at disableAfterFailures within one batch of settles, in order', async () => {
    const lane = await subscribe({ disableAfterFailures: 2 });
    const ids = await queue(lane, 3);
    await claim(T);
    const effects = await store().queue.settle(
      ids.map((id, i) => ({
        environmentId: env,
        deliveryId: id,
        workerId: 'w1',
        now: T,
        decision: { kind: 'failed', gone: false },
        attempt: {
          id: `att_batch_${id}`,
          deliveryId: id,
          subscriptionId: lane.id,
          number: 1,
          startedAt: T + i,
          durationMs: 1,
          requestHeaders: {},
          responseStatus: 500,
          responseBody: '',
          error: { kind: 'http_status', message: 'the receiver answered 500' },
          outcome: 'failed',
        },
      })),
    );
    assert.deepEqual(
      effects.map((e) => [e.consecutiveFailures, e.disabled]),
      [
        [1, null],
        [2, 'failures'],
        [3, null],
      ],
    );
    assert.equal((await store().getSubscription(env, lane.id))?.disabledReason, 'failures');
  });

  it('releases a claimed delivery back to the queue without an attempt, due now', async () => {
    const lane = await subscribe();
    const [id] = await queue(lane, 1, () => T);
    await claim(T + 100);
    await store().queue.releaseClaimed(env, [id as string], 'w2', T + 200);
    assert.equal((await store().getDelivery(env, id as string))?.status, 'delivering', 'only the holder may release it');
    await store().queue.releaseClaimed(env, [id as string], 'w1', T + 200);
    const released = await store().getDelivery(env, id as string);
    assert.deepEqual([released?.status, released?.attempts, released?.nextAttemptAt], ['pending', 0, T]);
    assert.equal((await claim(T + 200)).work[0]?.delivery.id, id);
    await drain();
  });

  it('cancels a claimed delivery without an attempt', async () => {
    const lane = await subscribe();
    const [id] = await queue(lane, 1);
    await claim(T);
    await store().queue.cancelClaimed(env, id as string, 'w1', T);
    const cancelled = await store().getDelivery(env, id as string);
    assert.equal(cancelled?.status, 'cancelled');
    assert.equal((await store().listAttempts(env, id as string, { limit: 10, after: null })).data.length, 0);
  });

  it('claims a delivery whose subscription is gone, for the worker to cancel', async () => {
    await store().insertDeliveries(env, [
      { id: 'dlv_orphan', eventId: 'evt_orphan', subscriptionId: 'sub_gone', topic: 'work', status: 'pending', nextAttemptAt: T, createdAt: T },
    ]);
    const { work } = await claim(T);
    assert.deepEqual(
      work.map((w) => [w.delivery.id, w.subscription]),
      [['dlv_orphan', null]],
    );
    await store().queue.cancelClaimed(env, 'dlv_orphan', 'w1', T);
  });

  it('FIFO: one in flight, in commit order; the head is retried before anything behind it goes', async () => {
    const lane = await subscribe({ ordering: 'fifo' });
    // Later deliveries are due earlier: order is commit order, not due time.
    const ids = await queue(lane, 4, (i) => T - i * 1000);
    const first = await claim(T, { perSubscriptionCap: 16 });
    assert.deepEqual(
      first.work.map((w) => w.delivery.id),
      [ids[0]],
    );
    assert.deepEqual((await claim(T)).work, [], 'one in flight');
    await settle(ids[0] as string, lane.id, { kind: 'retry', nextAttemptAt: T + 5000 });
    assert.deepEqual((await claim(T + 4999)).work, [], 'the head waits for its retry, and so does everything behind it');
    assert.equal(await store().queue.nextDueAt(T), T + 5000);
    const retried = await claim(T + 5000);
    assert.deepEqual(
      retried.work.map((w) => w.delivery.id),
      [ids[0]],
    );
    await settle(ids[0] as string, lane.id, { kind: 'failed', gone: false }, T + 5000, 'w1', 2);
    const next = await claim(T + 5000);
    assert.deepEqual(
      next.work.map((w) => w.delivery.id),
      [ids[1]],
      'a head that exhausts its retries fails, and the next one goes',
    );
    await drain();
  });

  it('rate limit: sends are booked 1/rate apart, within the horizon, and the gate holds across claims', async () => {
    const lane = await subscribe({ rateLimitPerSecond: 20 });
    await queue(lane, 10);
    const interval = rateIntervalMs(20);
    const perClaim = Math.floor(RATE_HORIZON_MS / interval);
    const first = await claim(T, { perSubscriptionCap: 16 });
    assert.equal(first.work.length, perClaim);
    assert.deepEqual(
      first.work.map((w) => w.sendAt),
      Array.from({ length: perClaim }, (_, i) => Math.ceil(T + RATE_LEAD_MS + i * interval)),
    );
    const gate = Math.ceil(T + RATE_LEAD_MS + perClaim * interval);
    assert.deepEqual((await claim(T + 1, { perSubscriptionCap: 16 })).work, [], 'the gate is closed until the booked sends are nearly past');
    assert.equal(await store().queue.nextDueAt(T + 1), gate - RATE_LEAD_MS, 'the next claim comes RATE_LEAD_MS before the gate');
    const second = await claim(gate - RATE_LEAD_MS, { perSubscriptionCap: 16 });
    assert.equal(second.work[0]?.sendAt, gate);
    const all = [...first.work, ...second.work].map((w) => w.sendAt);
    for (let i = 1; i < all.length; i++) assert.ok((all[i] as number) - (all[i - 1] as number) >= Math.floor(interval));
    await drain();
  });

  it('batch: closed by size or by time, sent as one request, retried whole under its id, logged once', async () => {
    const lane = await subscribe({ batch: { maxEvents: 3, maxWaitMs: 10_000 } });
    const ids = await queue(lane, 2);
    const waiting = await claim(T);
    assert.deepEqual(waiting.work, []);
    assert.equal(waiting.wakeAt, T + 10_000, 'two of three: the batch waits for the oldest to have waited maxWaitMs');
    await store().insertDeliveries(env, [
      { id: `dlv_${lane.id}_third`, eventId: 'evt_third', subscriptionId: lane.id, topic: 'work', status: 'pending', nextAttemptAt: T, createdAt: T },
    ]);
    const full = await claim(T);
    assert.equal(full.work.length, 1, 'one request');
    const batch = full.work[0]?.batch;
    assert.ok(batch?.id.startsWith('bat_'));
    if (!batch) return;
    assert.deepEqual(
      batch.deliveries.map((d) => d.id),
      [...ids, `dlv_${lane.id}_third`],
    );
    assert.equal((await store().getDelivery(env, ids[0] as string))?.batchId, batch.id);
    const members = batch.deliveries.map((d) => d.id);
    const settleBatch = (decision: SettleDecision, now: number, number: number) =>
      store().queue.settle([
        {
          environmentId: env,
          deliveryId: batch.id,
          members,
          workerId: 'w1',
          now,
          decision,
          attempt: {
            id: `att_${batch.id}_${number}`,
            deliveryId: batch.id,
            subscriptionId: lane.id,
            number,
            startedAt: now,
            durationMs: 1,
            requestHeaders: {},
            responseStatus: decision.kind === 'succeeded' ? 200 : 500,
            responseBody: '',
            error: null,
            outcome: decision.kind === 'succeeded' ? 'succeeded' : 'failed',
          },
        },
      ]);
    const [retry] = await settleBatch({ kind: 'retry', nextAttemptAt: T + 5000 }, T, 1);
    assert.equal(retry?.settled, true);
    for (const id of members) assert.equal((await store().getDelivery(env, id))?.status, 'pending');
    assert.deepEqual((await claim(T + 4999)).work, []);
    const again = await claim(T + 5000);
    assert.equal(again.work[0]?.batch?.id, batch.id, 'the retry keeps the batch and its id');
    assert.deepEqual(
      again.work[0]?.batch?.deliveries.map((d) => [d.id, d.attempts]),
      members.map((id) => [id, 1]),
    );
    await settleBatch({ kind: 'succeeded' }, T + 5000, 2);
    for (const id of members) {
      assert.equal((await store().getDelivery(env, id))?.status, 'succeeded');
      assert.deepEqual(
        (await store().listAttempts(env, id, { limit: 10, after: null })).data.map((a) => [a.deliveryId, a.number]),
        [
          [batch.id, 1],
          [batch.id, 2],
        ],
        'each delivery shows its batch\'s attempts',
      );
    }
    await store().insertDeliveries(env, [
      { id: `dlv_${lane.id}_late`, eventId: 'evt_late', subscriptionId: lane.id, topic: 'work', status: 'pending', nextAttemptAt: T + 6000, createdAt: T },
    ]);
    assert.deepEqual((await claim(T + 15_999)).work, []);
    const byTime = await claim(T + 16_000);
    assert.deepEqual(
      byTime.work[0]?.batch?.deliveries.map((d) => d.id),
      [`dlv_${lane.id}_late`],
      'closed by time: whatever is due once the oldest has waited maxWaitMs',
    );
    await drain();
  });

  it('circuit breaker: failing attempts open it; retries go first and on schedule, first attempts wait for a probe; a success closes it', async () => {
    const lane = await subscribe({ maxRetries: 25 });
    const ids = await queue(lane, 40);
    const first = await claim(T, { perSubscriptionCap: 5 });
    assert.equal(first.work.length, 5);
    const effects = [];
    for (const [i, w] of first.work.entries()) {
      effects.push(await settle(w.delivery.id, lane.id, { kind: 'retry', nextAttemptAt: T + 1000 + i }, T + 10));
    }
    assert.deepEqual(
      effects.map((e) => e.breaker?.change ?? null),
      [null, null, null, null, 'opened'],
    );
    const opened = effects[4]?.breaker;
    assert.ok(opened?.change === 'opened');
    const probeAt = opened.probeAt;
    assert.equal(probeAt, T + 10 + PROBE_FIRST_MS);
    const stats = await store().subscriptionStats(env, lane.id);
    assert.deepEqual([stats.breaker.openedAt, stats.breaker.failures], [T + 10, FAILURES_TO_OPEN]);

    // Open: first attempts (35 due) wait; the retries go when due, before any first attempt.
    assert.deepEqual((await claim(T + 999, { perSubscriptionCap: 5 })).work, [], 'no first attempt while open, no retry before its time');
    const retries = await claim(T + 1004, { perSubscriptionCap: 5 });
    assert.deepEqual(
      retries.work.map((w) => w.delivery.attempts),
      [1, 1, 1, 1, 1],
      'the five retries, on schedule, not the backlog',
    );
    for (const w of retries.work) await settle(w.delivery.id, lane.id, { kind: 'retry', nextAttemptAt: T + 60_000 }, T + 1005, 'w1', 2);
    assert.equal(await store().queue.nextDueAt(T + 1005), probeAt, 'the worker wakes for the probe');
    const probe = await claim(probeAt, { perSubscriptionCap: 5 });
    assert.deepEqual(
      probe.work.map((w) => w.delivery.attempts),
      [0],
      'one first attempt as the probe',
    );
    assert.deepEqual((await claim(probeAt + 1, { perSubscriptionCap: 5 })).work, [], 'the next probe waits the cooldown');
    const closed = await settle(probe.work[0]?.delivery.id as string, lane.id, { kind: 'succeeded' }, probeAt + 2);
    assert.deepEqual(closed.breaker, { change: 'closed' });
    assert.equal((await store().subscriptionStats(env, lane.id)).breaker.openedAt, null);
    const flowing = await claim(probeAt + 3, { perSubscriptionCap: 5 });
    assert.equal(flowing.work.length, 5, 'closed: first attempts take every free slot again');
    assert.ok(ids.length === 40);
    await drain();
  });

  if (dialect === 'postgres') {
    it('concurrent claims by several workers hold the cap and FIFO (lanes are locked, not the queue)', async () => {
      const capped = await subscribe();
      const fifo = await subscribe({ ordering: 'fifo' });
      await queue(capped, 40);
      await queue(fifo, 10);
      const claims = await Promise.all(
        Array.from({ length: 12 }, (_, i) => claim(T, { workerId: `w${i}`, limit: 3, perSubscriptionCap: 4 })),
      );
      const work = claims.flatMap((c) => c.work);
      assert.ok(work.filter((w) => w.delivery.subscriptionId === capped.id).length <= 4);
      assert.ok(work.filter((w) => w.delivery.subscriptionId === fifo.id).length <= 1);
      const leased = await claimDeliveries(store(), { workerId: 'wx', now: T, limit: 100, perSubscriptionCap: 4, leaseMs: 30_000 });
      const inFlight = (id: string) =>
        work.filter((w) => w.delivery.subscriptionId === id).length + leased.filter((d) => d.subscriptionId === id).length;
      assert.equal(inFlight(capped.id), 4, 'the cap is reached, never passed');
      assert.equal(inFlight(fifo.id), 1);
      await drain();
    });
  }
});

export type { Store };
