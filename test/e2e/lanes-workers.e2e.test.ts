/**
 * Subscription lanes across worker processes (SPEC §4 `ordering`, `rateLimitPerSecond`; §5), on
 * real processes and PostgreSQL: one `serve --role api` and two `serve --role worker` processes on
 * one database, where each claim locks the lanes it takes (FOR UPDATE SKIP LOCKED), so the gates
 * must hold across the workers.
 *
 * - A 20/s subscription drained by both workers at once (100 events; another 100, at most twice,
 *   until both workers have served it): no 1 s window at the receiver holds more than 20 requests.
 * - A FIFO subscription with 200 events, and kill -9 of the worker holding its head after ~60
 *   arrived: the other worker takes the lane over once the lease expires (HERALD_LEASE_MS=2000,
 *   reaped by the survivor's maintenance); every event arrives, first arrivals in publish order,
 *   never two requests in flight; the only repeat allowed is the event in flight at the kill.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { busiestWindow, describeWindow, firstArrivals, stepsBack, webhookIds } from '../../src/testing/arrivals.ts';
import {
  type HeraldCredentials,
  type HeraldProcess,
  type HeraldWorkerProcess,
  bootstrapCredentials,
  callHerald,
  startHerald,
  startHeraldWorker,
} from '../../src/testing/herald-process.ts';
import { type Reply, TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type TestDatabase, createTestDatabase } from '../../src/testing/test-store.ts';

const TYPE = 'lane.tested';
const BASE_ENV = {
  HERALD_ALLOW_PRIVATE_URLS: 'true',
  HERALD_RETRY_SCHEDULE: '50ms,100ms',
  HERALD_LOG_LEVEL: 'warn',
};
/** Short leases, so the killed worker's FIFO head goes back to the queue soon (the reaper runs every 5 s). */
const WORKER_ENV = { ...BASE_ENV, HERALD_LEASE_MS: '2000' };

const eventIds = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

/** The pid in a lease holder's name (`host:pid:nonce`, see delivery-service.ts). */
const pidOf = (lockedBy: string) => Number(lockedBy.split(':').at(-2));

describe('lanes across worker processes [postgres]: one api and two worker processes', () => {
  let database: TestDatabase;
  let api: HeraldProcess | undefined;
  let c: HeraldCredentials;
  const workers: HeraldWorkerProcess[] = [];
  const receivers: TestReceiver[] = [];
  let db: pg.Client | undefined;

  before(async () => {
    database = await createTestDatabase('postgres');
    api = await startHerald(database.url, BASE_ENV, 'api');
    c = bootstrapCredentials(api);
    const type = await callHerald(c, 'POST', '/v1/event-types', { name: TYPE });
    assert.equal(type.status, 201, JSON.stringify(type.body));
    workers.push(...(await Promise.all([startHeraldWorker(database.url, WORKER_ENV), startHeraldWorker(database.url, WORKER_ENV)])));
    db = new pg.Client({ connectionString: database.url });
    await db.connect();
  });
  after(async () => {
    for (const worker of workers) await worker.stop('SIGKILL');
    await api?.stop('SIGKILL');
    for (const r of receivers) await r.stop();
    await db?.end();
    await database.drop();
  });

  const receiver = async (script: () => Reply) => {
    const r = await new TestReceiver(script).start();
    receivers.push(r);
    return r;
  };

  /** A topic of its own with one subscription to `url`; `publish` sends `ids` in calls of `perCall`, in order. */
  const subscribed = async (topic: string, url: string, extra: Record<string, unknown>) => {
    const made = await callHerald(c, 'POST', '/v1/topics', { name: topic, eventTypes: [TYPE] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const created = await callHerald(c, 'POST', `/v1/topics/${topic}/subscriptions`, { name: 'sub', url, ...extra });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const publish = async (ids: readonly string[], perCall: number) => {
      for (let from = 0; from < ids.length; from += perCall) {
        const events = ids.slice(from, from + perCall).map((eventId) => ({ id: eventId, type: TYPE }));
        const answer = await callHerald(c, 'POST', `/v1/topics/${topic}/events/publish`, { events });
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
      }
    };
    const succeeded = (count: number, timeoutMs: number) =>
      eventually(
        async () => {
          const stats = await callHerald(c, 'GET', `/v1/subscriptions/${id}/stats`);
          const want = { scheduled: 0, pending: 0, delivering: 0, succeeded: count, failed: 0, cancelled: 0 };
          return JSON.stringify(stats.body.counts) === JSON.stringify(want) ? stats.body : undefined;
        },
        timeoutMs,
        `${count} deliveries succeeded`,
      );
    return { id, publish, succeeded };
  };

  /** The pids of the workers holding a lease on one of the subscription's deliveries now. */
  const holders = async (subscriptionId: string): Promise<number[]> => {
    const found = await (db as pg.Client).query<{ locked_by: string }>(
      "SELECT locked_by FROM deliveries WHERE subscription_id = $1 AND status = 'delivering' AND locked_by IS NOT NULL",
      [subscriptionId],
    );
    return found.rows.map((row) => pidOf(row.locked_by));
  };

  test('a 20/s subscription drained by both workers at once: never more than 20 in any 1 s window', { timeout: 60_000 }, async () => {
    const RATE = 20;
    const hook = await receiver(() => ({ status: 204 }));
    const sub = await subscribed('rated', hook.url, { rateLimitPerSecond: RATE });
    const pids = workers.map((w) => w.child.pid as number);
    // Which workers took part: the lane's leased deliveries name their holder. A lane tends to
    // stay with one worker for a second or two (the other, having lost the race for the lane's
    // lock, sleeps its poll interval), so if one round of 100 went all to one worker, another
    // round is published (at most three), until both have served the lane.
    const seen = new Set<number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const pid of await holders(sub.id)) seen.add(pid);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const ids: string[] = [];
    try {
      for (let round = 0; round < 3 && seen.size < pids.length; round++) {
        const batch = eventIds(`rated-${round}`, 100);
        ids.push(...batch);
        await sub.publish(batch, 50);
        await hook.waitFor(ids.length, 20_000);
      }
    } finally {
      watching = false;
      await watcher;
    }
    await sub.succeeded(ids.length, 10_000);

    assert.deepEqual([...new Set(webhookIds(hook.received))].sort(), ids);
    assert.equal(hook.received.length, ids.length);
    assert.deepEqual(
      [...seen].sort(),
      [...pids].sort(),
      `both workers served the lane (seen holding its leases: ${[...seen].join(', ')}; workers ${pids.join(', ')})`,
    );
    const window = busiestWindow(hook.received, 1000);
    console.log(
      `lanes-workers rate 20/s: ${ids.length} requests (${ids.length / 100} round(s)) served by workers ${[...seen].join(', ')}; busiest 1 s window ${window.count}`,
    );
    assert.ok(window.count <= RATE, `a 1 s window held ${describeWindow(window)}`);
    // Each round of 100 requests, at most 20 a second, spans at least 4 s.
    const first = hook.received.slice(0, 100).map((r) => r.startedAt);
    const span = Math.max(...first) - Math.min(...first);
    assert.ok(span >= 4000, `the first 100 requests arrived within ${span.toFixed(0)} ms`);
  });

  test(
    'FIFO, kill -9 of the worker holding the head after ~60 arrived: all 200 arrive in publish order, never two in flight',
    { timeout: 60_000 },
    async () => {
      const ids = eventIds('fifo', 200);
      // Held long enough that the kill lands while a request is open.
      const hook = await receiver(() => ({ status: 204, delayMs: 20 }));
      const sub = await subscribed('ordered', hook.url, { ordering: 'fifo', maxRetries: 10 });
      await sub.publish(ids, 20);
      await hook.waitFor(60, 20_000);

      const pids = workers.map((w) => w.child.pid as number);
      const victimPid = await eventually(
        async () => (await holders(sub.id)).find((pid) => pids.includes(pid)),
        10_000,
        'a worker holding the FIFO head',
      );
      const victim = workers.find((w) => w.child.pid === victimPid) as HeraldWorkerProcess;
      const survivor = workers.find((w) => w !== victim) as HeraldWorkerProcess;
      await victim.stop('SIGKILL');
      const killedAt = Date.now();
      const seenAtKill = hook.received.length;
      const heldAtKill = (await holders(sub.id)).filter((pid) => pid === victimPid).length;
      assert.ok(new Set(webhookIds(hook.received)).size < ids.length, 'all arrived before the kill: nothing was tested');

      await eventually(async () => new Set(webhookIds(hook.received)).size >= ids.length, 30_000, 'all 200 events at the receiver');
      await sub.succeeded(200, 15_000);
      const sinceKill = hook.received.slice(seenAtKill);
      const resumedMs = sinceKill[0] ? sinceKill[0].at - killedAt : null;

      const got = webhookIds(hook.received);
      const repeated = [...new Set(got.filter((id, i) => got.indexOf(id) !== i))];
      console.log(
        `lanes-workers fifo: killed worker ${victimPid} after ${seenAtKill} requests, holding ${heldAtKill} lease(s) of the lane; ` +
          `next request ${resumedMs} ms after the kill; ${got.length} requests for ${new Set(got).size} events, repeated: ${repeated.join(', ') || 'none'}`,
      );
      assert.deepEqual(firstArrivals(got), ids, 'first arrivals in publish order');
      assert.deepEqual(stepsBack(got, ids), [], 'a request arrived after one published later than it');
      assert.equal(hook.maxOpen, 1, `at most one request in flight (saw ${hook.maxOpen})`);
      // At-least-once: only the event in flight at the kill may come twice.
      assert.ok(repeated.length <= 1 && got.length <= ids.length + 1, `repeated: ${repeated.join(', ')} (${got.length} requests)`);
      for (const id of repeated) {
        const first = got.indexOf(id);
        assert.ok(Math.abs(first - (seenAtKill - 1)) <= 1, `${id} (first at ${first}) repeated, but the kill came after request ${seenAtKill}`);
      }
      assert.equal(survivor.child.exitCode, null, `the surviving worker died: ${survivor.errors()}`);
      assert.doesNotMatch(survivor.errors(), /herald worker:/, 'the surviving worker logged errors');
    },
  );
});
