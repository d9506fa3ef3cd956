/**
 * Publishes to one environment on PostgreSQL do not wait for each other when it has no quota:
 * an accept whose transaction is still open does not hold up another publish to that environment.
 * With a quota they do take turns, so that the quota holds.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { type TestStore, makeTestStore, testEnvironment, testEvent } from '../../testing/test-store.ts';
import { QUOTA_EXCEEDED } from '../kysely-event-store.ts';
import { eventToRow } from '../rows.ts';
import type { Database } from '../schema.ts';
import type { QuotaCheck } from '../store.ts';
import { acceptOnPostgres } from './postgres-accept.ts';

let testStore: TestStore;
/** A second connection pool, as another Herald process would have. */
let other: Kysely<Database>;
before(async () => {
  testStore = await makeTestStore('postgres');
  other = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: testStore.url, max: 2 }) }) });
});
after(async () => {
  await other.destroy();
  await testStore.cleanup();
});

const newEnvironment = () => testEnvironment(testStore.store, 'pgaccept');

const event = (id: string) => testEvent(id);

/**
 * Accepts `held` in a transaction on the other pool and keeps that transaction open while
 * `meanwhile` runs (for at most `waitMs`); commits, then returns what `meanwhile` gave (or
 * 'waited' if it had not finished by then) and what the held accept returned.
 */
async function whileHeld<T>(
  environmentId: string,
  held: string,
  quota: QuotaCheck,
  meanwhile: () => Promise<T>,
  waitMs: number,
): Promise<{ meanwhile: T | 'waited'; held: string[] | typeof QUOTA_EXCEEDED; late: Promise<T> }> {
  let late: Promise<T> | undefined;
  let during: T | 'waited' = 'waited';
  const heldResult = await other.transaction().execute(async (trx) => {
    const accepted = await acceptOnPostgres(trx, environmentId, [eventToRow(environmentId, event(held))], [], quota, []);
    late = meanwhile();
    during = await Promise.race([late, sleep(waitMs).then(() => 'waited' as const)]);
    return accepted;
  });
  if (late === undefined) throw new Error('the held accept failed');
  return { meanwhile: during, held: heldResult, late };
}

async function shardRows(environmentId: string): Promise<number> {
  const rows = await other.selectFrom('monthly_usage').select('shard').where('environment_id', '=', environmentId).execute();
  return rows.length;
}

test('without a quota, a publish commits while another publish to the same environment is still open', async () => {
  const env = await newEnvironment();
  const quota = { month: '2026-05', limit: null };
  // Earlier publishes have made shard rows: the held accept writes into one of them.
  await Promise.all(Array.from({ length: 20 }, (_, i) => testStore.store.acceptEvents(env, [event(`warm${i}`)], quota)));
  for (let round = 0; round < 5; round++) {
    const result = await whileHeld(
      env,
      `held${round}`,
      quota,
      () => testStore.store.acceptEvents(env, [event(`free${round}`)], quota),
      5_000,
    );
    assert.notEqual(result.meanwhile, 'waited', `round ${round}: the second publish waited for the first to commit`);
    assert.deepEqual(result.held, [`held${round}`]);
  }
  assert.equal(await testStore.store.getMonthlyUsage(env, '2026-05'), 30);
  assert.ok((await shardRows(env)) >= 2);
});

test('with a quota, a publish waits for the open one, and the quota counts every shard', async () => {
  const env = await newEnvironment();
  const unlimited = { month: '2026-06', limit: null };
  for (let round = 0; round < 4; round++) {
    const free = () => testStore.store.acceptEvents(env, [event(`free${round}`)], unlimited);
    assert.notEqual((await whileHeld(env, `warm${round}`, unlimited, free, 5_000)).meanwhile, 'waited');
  }
  // Two publishes were open at once: the 8 events are counted in two shard rows or more.
  assert.ok((await shardRows(env)) >= 2);
  const quota = { month: '2026-06', limit: 9 };
  const result = await whileHeld(env, 'held', quota, () => testStore.store.acceptEvents(env, [event('late')], quota), 300);
  assert.deepEqual(result.held, ['held']);
  assert.equal(result.meanwhile, 'waited');
  // Committed after the held one: the quota (8 + 1 of 9) has no room left for it.
  assert.deepEqual(await result.late, { kind: 'quota_exceeded', published: 9 });
  assert.equal(await testStore.store.getMonthlyUsage(env, '2026-06'), 9);
});
