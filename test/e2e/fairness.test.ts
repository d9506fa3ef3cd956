/**
 * Fairness across tenants (SPEC §5), on real processes and real databases: environment A's
 * subscription hangs for its whole timeout with a queue behind it, environment B has 20,000 events
 * queued to a healthy but slowish receiver, and environment C's single event must still arrive
 * within 1 s of its publish. SQLite runs one `serve --role all`; PostgreSQL runs `--role api` and
 * `--role worker` as separate processes, so C's wake-up crosses processes (LISTEN/NOTIFY).
 *
 * Also measures (and only reports) how long one claim takes with 20,000 due rows, since the claim
 * ranks every due row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  type HeraldProcess,
  type HeraldWorkerProcess,
  startHerald,
  startHeraldWorker,
} from '../../src/testing/herald-process.ts';
import { TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { DIALECTS, type TestDatabase, createTestDatabase, makeTestStore, queueDeliveries, claimDeliveries } from '../../src/testing/test-store.ts';

const ROOT_TOKEN = 'root-fairness';
const BACKLOG = 20_000;
const PER_CALL = 500;
const HANGING_EVENTS = 500;
const CAP = 16;
/** A's receiver never answers within its subscription's timeout. */
const HANG_TIMEOUT_MS = 2000;
/** B's receiver: healthy, but 16 in flight at 50 ms each is ~320/s, so 20,000 stay queued throughout. */
const SLOW_MS = 50;
const PROBES = 3;
const LATENCY_LIMIT_MS = 1000;

interface Tenant {
  envId: string;
  key: string;
}

for (const dialect of DIALECTS) {
  describe(`fairness [${dialect}]: a hanging tenant and a 20,000-event backlog do not delay another tenant's single event`, () => {
    let database: TestDatabase;
    let api: HeraldProcess | undefined;
    let worker: HeraldWorkerProcess | undefined;
    const hanging = new TestReceiver(() => ({ status: 204, delayMs: 60_000 }));
    const slow = new TestReceiver(() => ({ status: 204, delayMs: SLOW_MS }));
    const fast = new TestReceiver(() => ({ status: 204 }));

    const call = async (method: string, path: string, body: unknown, as: Tenant | null) => {
      if (!api) throw new Error('no server');
      const response = await fetch(`${api.url}${path}`, {
        method,
        headers: {
          'content-type': 'application/json',
          ...(as ? { 'x-environment-id': as.envId, 'x-auth-token': as.key } : { authorization: `Bearer ${ROOT_TOKEN}` }),
        },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back.
      return { status: response.status, body: (text ? JSON.parse(text) : null) as any };
    };

    /** A new environment with one event type, one topic and one subscription to `url`. */
    const tenant = async (name: string, url: string, subscription: Record<string, unknown> = {}): Promise<Tenant> => {
      const created = await call('POST', '/v1/environments', { name }, null);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const t = { envId: created.body.id as string, key: created.body.apiKey as string };
      assert.equal((await call('POST', '/v1/event-types', { name: 'work.done', schema: { type: 'object' } }, t)).status, 201);
      assert.equal((await call('POST', '/v1/topics', { name: 'work', eventTypes: ['work.done'] }, t)).status, 201);
      const sub = await call('POST', '/v1/topics/work/subscriptions', { name: 'hook', url, ...subscription }, t);
      assert.equal(sub.status, 201, JSON.stringify(sub.body));
      return t;
    };

    const publish = async (t: Tenant, ids: string[]) => {
      const events = ids.map((id) => ({ id, type: 'work.done', data: { id } }));
      const answer = await call('POST', '/v1/topics/work/events/publish', { events }, t);
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
    };

    before(async () => {
      database = await createTestDatabase(dialect);
      await Promise.all([hanging.start(), slow.start(), fast.start()]);
      const env = {
        HERALD_ROOT_TOKEN: ROOT_TOKEN,
        HERALD_ALLOW_PRIVATE_URLS: 'true',
        HERALD_RETRY_SCHEDULE: '50ms,100ms',
        HERALD_MAX_INFLIGHT_PER_SUBSCRIPTION: String(CAP),
        HERALD_LOG_LEVEL: 'warn',
      };
      if (dialect === 'sqlite') {
        api = await startHerald(database.url, env);
      } else {
        api = await startHerald(database.url, env, 'api');
        worker = await startHeraldWorker(database.url, env);
      }
    });
    after(async () => {
      await worker?.stop('SIGKILL');
      await api?.stop('SIGKILL');
      await Promise.all([hanging.stop(), slow.stop(), fast.stop()]);
      await database.drop();
    });

    test(`C's event arrives within ${LATENCY_LIMIT_MS} ms while A hangs and B has a 20,000-event backlog`, { timeout: 60_000 }, async () => {
      // A: every request hangs until its 2 s timeout; many retries and no auto-disable keep it hanging.
      const a = await tenant('a-hanging', hanging.url, { timeoutMs: HANG_TIMEOUT_MS, maxRetries: 25, disableAfterFailures: 1000 });
      const b = await tenant('b-backlog', slow.url);
      const c = await tenant('c-single', fast.url);

      const publishStart = Date.now();
      await publish(
        a,
        Array.from({ length: HANGING_EVENTS }, (_, i) => `a-${i}`),
      );
      for (let call_ = 0; call_ < BACKLOG / PER_CALL; call_++) {
        await publish(
          b,
          Array.from({ length: PER_CALL }, (_, i) => `b-${call_ * PER_CALL + i}`),
        );
      }
      const publishMs = Date.now() - publishStart;
      // A is at its cap of hanging requests and B is flowing before C publishes.
      await eventually(async () => hanging.received.length >= CAP, 10_000, "A's requests hanging");
      await eventually(async () => slow.received.length >= 100, 10_000, "B's backlog flowing");

      const latencies: number[] = [];
      const acceptedAfter: number[] = [];
      for (let probe = 0; probe < PROBES; probe++) {
        const id = `c-${probe}`;
        const sentAt = Date.now();
        await publish(c, [id]);
        acceptedAfter.push(Date.now() - sentAt);
        const arrived = await eventually(
          async () => fast.received.find((r) => r.headers['webhook-id'] === id),
          10_000,
          `C's event ${id}`,
        );
        latencies.push(arrived.at - sentAt);
        // Spread the probes across A's timeouts and retries.
        await new Promise((r) => setTimeout(r, 700));
      }
      const bDelivered = new Set(slow.received.map((r) => r.headers['webhook-id'])).size;
      console.log(
        `fairness [${dialect}]: published ${HANGING_EVENTS} (A) + ${BACKLOG} (B) events in ${publishMs} ms; ` +
          `C's latencies ${latencies.join(', ')} ms (202 after ${acceptedAfter.join(', ')} ms); meanwhile B got ${bDelivered} and A ${hanging.received.length} requests`,
      );
      assert.ok(bDelivered < BACKLOG, 'B drained its backlog: the test did not test a backlog');
      for (const latency of latencies) assert.ok(latency <= LATENCY_LIMIT_MS, `C waited ${latency} ms (${latencies.join(', ')})`);
    });
  });
}

describe('the claim itself: rank 1 of every subscription first, in-flight deliveries count toward the cap', () => {
  for (const dialect of DIALECTS) {
    test(dialect, async () => {
      const { store, cleanup } = await makeTestStore(dialect);
      try {
        const now = Date.now();
        const queue = (environmentId: string, subscriptionId: string, count: number, from: number) =>
          queueDeliveries(store, environmentId, subscriptionId, count, from, now);
        const claim = (limit: number) =>
          claimDeliveries(store, { workerId: 'w', now, limit, perSubscriptionCap: 4, leaseMs: 30_000 });
        const subs = (claimed: { subscriptionId: string }[]) => claimed.map((d) => d.subscriptionId).sort();
        // sub_busy's oldest 3 go in flight first: its next delivery ranks 4th, one under the cap of 4.
        await queue('env_b', 'sub_busy', 50, now - 20_000);
        assert.equal((await claim(3)).length, 3);
        // Then another backlog (older than everything else left) and two small tenants.
        await queue('env_a', 'sub_hot', 50, now - 30_000);
        await queue('env_c', 'sub_one', 1, now - 100);
        await queue('env_d', 'sub_two', 2, now - 50);
        assert.deepEqual(subs(await claim(3)), ['sub_hot', 'sub_one', 'sub_two'], 'rank 1 of every subscription first');
        assert.deepEqual(subs(await claim(3)), ['sub_hot', 'sub_hot', 'sub_two'], 'then rank 2, then rank 3');
        assert.deepEqual(subs(await claim(100)), ['sub_busy', 'sub_hot'], "rank 4: sub_busy's in-flight 3 count");
        assert.deepEqual(await claim(100), [], 'sub_busy and sub_hot are at their cap of 4 in flight');
      } finally {
        await cleanup();
      }
    });
  }
});

describe('claim cost with 20,000 due rows (measured, not asserted)', () => {
  for (const dialect of DIALECTS) {
    // One subscription's backlog, and the same spread over 200 subscriptions; a fresh database each.
    for (const subscriptions of [1, 200]) {
      test(`${dialect}, ${subscriptions} subscription(s)`, async () => {
        const { store, url, cleanup } = await makeTestStore(dialect);
        try {
          const now = Date.now();
          const environmentId = 'env_claimcost';
          const deliveries = Array.from({ length: BACKLOG }, (_, i) => ({
            id: `dlv_${String(i).padStart(8, '0')}`,
            eventId: `evt_${i}`,
            subscriptionId: `sub_${i % subscriptions}`,
            topic: 'work',
            status: 'pending' as const,
            nextAttemptAt: now - BACKLOG + i,
            createdAt: now,
          }));
          await store.insertDeliveries(environmentId, deliveries);
          /** Median, min and max of 5 claims of up to 100 (each released again, so the backlog stays). */
          const measure = async () => {
            const timings: number[] = [];
            for (let round = 0; round < 5; round++) {
              const started = performance.now();
              const claimed = await claimDeliveries(store, {
                workerId: `w${round}`,
                now: Date.now(),
                limit: 100,
                perSubscriptionCap: CAP,
                leaseMs: 30_000,
              });
              timings.push(performance.now() - started);
              assert.ok(claimed.length > 0);
              await store.queue.reapExpired(Number.MAX_SAFE_INTEGER);
            }
            timings.sort((x, y) => x - y);
            return `median ${timings[2]?.toFixed(1)} ms (min ${timings[0]?.toFixed(1)}, max ${timings[4]?.toFixed(1)})`;
          };
          const label = `claim [${dialect}]: ${BACKLOG} due rows over ${subscriptions} subscription(s)`;
          console.log(`${label}: ${await measure()}`);
          if (dialect === 'postgres') {
            // A burst this fresh has no planner statistics yet (autovacuum analyzes within a minute or so).
            const db = new pg.Client({ connectionString: url });
            await db.connect();
            try {
              await db.query('ANALYZE deliveries');
            } finally {
              await db.end();
            }
            console.log(`${label}, after ANALYZE: ${await measure()}`);
          }
        } finally {
          await cleanup();
        }
      });
    }
  }
});
