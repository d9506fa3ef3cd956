/**
 * At-least-once across crashes (SPEC §2, §5), on real processes and real databases: 2,000 events
 * to a slow receiver, SIGKILL mid-delivery, and every event must still arrive (duplicates are
 * allowed and reported) with every delivery ending `succeeded`.
 *
 * SQLite: one `serve --role all` process, killed and restarted on the same file (a restart
 * releases every lease at once). PostgreSQL: one `--role api` and two `--role worker` processes;
 * one worker is killed and the other, with the lease reaper (HERALD_LEASE_MS=2000), finishes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  type HeraldCredentials,
  type HeraldProcess,
  type HeraldWorkerProcess,
  bootstrapCredentials,
  callHerald,
  startHerald,
  startHeraldWorker,
} from '../../src/testing/herald-process.ts';
import { TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type TestDatabase, createTestDatabase } from '../../src/testing/test-store.ts';

const EVENTS = 2000;
const PER_CALL = 100;
/** The receiver answers 204 after this long: slow enough that a kill lands mid-way. */
const RECEIVER_DELAY_MS = 20;

const BASE_ENV = {
  HERALD_ALLOW_PRIVATE_URLS: 'true',
  HERALD_RETRY_SCHEDULE: '50ms,100ms',
  HERALD_LOG_LEVEL: 'warn',
};

/** Event type, topic and one subscription to the receiver; returns the subscription id. */
async function setUp(c: HeraldCredentials, receiverUrl: string): Promise<string> {
  const type = await callHerald(c, 'POST', '/v1/event-types', { name: 'crash.tested', schema: { type: 'object' } });
  assert.equal(type.status, 201, JSON.stringify(type.body));
  const topic = await callHerald(c, 'POST', '/v1/topics', { name: 'crash', eventTypes: ['crash.tested'] });
  assert.equal(topic.status, 201, JSON.stringify(topic.body));
  const sub = await callHerald(c, 'POST', '/v1/topics/crash/subscriptions', { name: 'slow', url: receiverUrl, maxRetries: 10 });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  return sub.body.id as string;
}

/** Publishes EVENTS events in calls of PER_CALL, each answered 202; returns their ids. */
async function publishAll(c: HeraldCredentials, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let call_ = 0; call_ < EVENTS / PER_CALL; call_++) {
    const events = Array.from({ length: PER_CALL }, (_, i) => {
      const id = `${prefix}-${call_ * PER_CALL + i}`;
      ids.push(id);
      return { id, type: 'crash.tested', data: { n: call_ * PER_CALL + i } };
    });
    const published = await callHerald(c, 'POST', '/v1/topics/crash/events/publish', { events });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    assert.ok(published.body.events.every((e: { deliveries: number }) => e.deliveries === 1));
  }
  return ids;
}

/** Distinct webhook-ids seen, and how many requests repeated one already seen. */
function tally(receiver: TestReceiver): { distinct: Set<string>; duplicates: number } {
  const distinct = new Set(receiver.received.map((r) => String(r.headers['webhook-id'])));
  return { distinct, duplicates: receiver.received.length - distinct.size };
}

/** Every delivery of the subscription, through the API (pages of 250). */
async function allDeliveries(c: HeraldCredentials, subscriptionId: string) {
  const found: { eventId: string; status: string; attempts: number }[] = [];
  let cursor: string | null = null;
  do {
    const page = await callHerald(
      c,
      'GET',
      `/v1/subscriptions/${subscriptionId}/deliveries?limit=250${cursor ? `&cursor=${cursor}` : ''}`,
    );
    assert.equal(page.status, 200, JSON.stringify(page.body));
    found.push(...page.body.data);
    cursor = page.body.meta.nextCursor;
  } while (cursor);
  return found;
}

/** The checks both dialects share once the crash is over. */
async function assertEverythingArrived(
  label: string,
  c: HeraldCredentials,
  subscriptionId: string,
  receiver: TestReceiver,
  ids: string[],
  timing: { seenAtKill: number; publishMs: number; killedAt: number },
): Promise<void> {
  await eventually(async () => tally(receiver).distinct.size >= EVENTS, 45_000, `all ${EVENTS} events at the receiver`);
  const recoveredMs = Date.now() - timing.killedAt;
  const { distinct, duplicates } = tally(receiver);
  const missing = ids.filter((id) => !distinct.has(id));
  assert.deepEqual(missing, [], `${missing.length} events never arrived`);
  const stats = await eventually(async () => {
    const answer = await callHerald(c, 'GET', `/v1/subscriptions/${subscriptionId}/stats`);
    return answer.body.counts.succeeded === EVENTS ? answer.body : undefined;
  }, 15_000, 'every delivery succeeded');
  assert.deepEqual(stats.counts, { scheduled: 0, pending: 0, delivering: 0, succeeded: EVENTS, failed: 0, cancelled: 0 });
  const deliveries = await allDeliveries(c, subscriptionId);
  assert.equal(deliveries.length, EVENTS);
  assert.ok(deliveries.every((d) => d.status === 'succeeded'));
  assert.deepEqual(new Set(deliveries.map((d) => d.eventId)), new Set(ids));
  console.log(
    `crash-safety [${label}]: published in ${timing.publishMs} ms; killed after ${timing.seenAtKill} requests; ` +
      `all arrived ${recoveredMs} ms after the kill; ${receiver.received.length} requests for ` +
      `${distinct.size} events: ${duplicates} duplicate(s), 0 missing`,
  );
}

describe('crash safety [sqlite]: kill -9 of `serve --role all` mid-delivery, restart on the same file', () => {
  let database: TestDatabase;
  let receiver: TestReceiver;
  let server: HeraldProcess | undefined;

  before(async () => {
    database = await createTestDatabase('sqlite');
    receiver = await new TestReceiver(() => ({ status: 204, delayMs: RECEIVER_DELAY_MS })).start();
  });
  after(async () => {
    await server?.stop('SIGKILL');
    await receiver.stop();
    await database.drop();
  });

  // A timeout, so a worker that starves its own process (it has happened) fails here instead of hanging.
  test('every one of 2,000 accepted events arrives at least once; every delivery ends succeeded', { timeout: 75_000 }, async () => {
    server = await startHerald(database.url, BASE_ENV);
    const c = bootstrapCredentials(server);
    const subscriptionId = await setUp(c, receiver.url);
    const publishStart = Date.now();
    const ids = await publishAll(c, 'sq');
    const publishMs = Date.now() - publishStart;
    await eventually(async () => receiver.received.length >= EVENTS / 4, 30_000, 'a quarter delivered');
    await server.stop('SIGKILL');
    const killedAt = Date.now();
    const seenAtKill = receiver.received.length;
    assert.ok(tally(receiver).distinct.size < EVENTS, `all ${EVENTS} arrived before the kill: nothing was tested`);

    server = await startHerald(database.url, BASE_ENV);
    await assertEverythingArrived('sqlite', { ...c, url: server.url }, subscriptionId, receiver, ids, { seenAtKill, publishMs, killedAt });
  });
});

describe('crash safety [postgres]: one api and two worker processes, kill -9 of one worker mid-delivery', () => {
  let database: TestDatabase;
  let receiver: TestReceiver;
  let api: HeraldProcess | undefined;
  const workers: HeraldWorkerProcess[] = [];

  before(async () => {
    database = await createTestDatabase('postgres');
    receiver = await new TestReceiver(() => ({ status: 204, delayMs: RECEIVER_DELAY_MS })).start();
  });
  after(async () => {
    for (const worker of workers) await worker.stop('SIGKILL');
    await api?.stop('SIGKILL');
    await receiver.stop();
    await database.drop();
  });

  test('the surviving worker and the lease reaper deliver all 2,000 events; every delivery ends succeeded', { timeout: 75_000 }, async () => {
    api = await startHerald(database.url, BASE_ENV, 'api');
    const c = bootstrapCredentials(api);
    const subscriptionId = await setUp(c, receiver.url);
    const workerEnv = { ...BASE_ENV, HERALD_LEASE_MS: '2000' };
    const started = await Promise.all([startHeraldWorker(database.url, workerEnv), startHeraldWorker(database.url, workerEnv)]);
    for (const worker of started) {
      assert.ok(worker);
      workers.push(worker);
    }

    const publishStart = Date.now();
    const ids = await publishAll(c, 'pg');
    const publishMs = Date.now() - publishStart;
    await eventually(async () => receiver.received.length >= EVENTS / 4, 30_000, 'a quarter delivered');
    // Kill a worker while it holds leases, so the reaper and the other worker have something to
    // recover. Which one holds them is up to timing: one subscription's in-flight cap can be
    // filled by either worker's claims, and the one that settles refills its own freed slots first.
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    let leasesAtKill = 0;
    let killedAt = 0;
    let victim = workers[0] as HeraldWorkerProcess;
    let survivor = workers[1] as HeraldWorkerProcess;
    try {
      leasesAtKill = await eventually(async () => {
        for (const [i, worker] of workers.entries()) {
          const held = await db.query<{ n: string }>(
            "SELECT count(*) AS n FROM deliveries WHERE status = 'delivering' AND locked_by LIKE $1",
            [`%:${worker.child.pid}:%`],
          );
          const n = Number(held.rows[0]?.n);
          if (n > 0) {
            victim = worker;
            survivor = workers[1 - i] as HeraldWorkerProcess;
            return n;
          }
        }
        return undefined;
      }, 10_000, 'a worker holding leases');
      await victim.stop('SIGKILL');
      killedAt = Date.now();
    } finally {
      await db.end();
    }
    console.log(`crash-safety [postgres]: the killed worker held about ${leasesAtKill} lease(s)`);
    const seenAtKill = receiver.received.length;
    assert.ok(tally(receiver).distinct.size < EVENTS, `all ${EVENTS} arrived before the kill: nothing was tested`);

    await assertEverythingArrived('postgres', c, subscriptionId, receiver, ids, { seenAtKill, publishMs, killedAt });
    assert.equal(survivor.child.exitCode, null, `the surviving worker died: ${survivor.errors()}`);
    assert.doesNotMatch(survivor.errors(), /herald worker:/, 'the surviving worker logged errors');
  });
});
