/**
 * The PostgreSQL claim is one call of herald_claim on a pooled connection: a claim that fails
 * must leave no transaction (or claim lock) behind on the connection it used, and values that
 * are not whole numbers are refused before anything is sent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type TestStore, makeTestStore } from '../../testing/test-store.ts';

let testStore: TestStore;
before(async () => {
  testStore = await makeTestStore('postgres');
});
after(() => testStore.cleanup());

const options = { workerId: "host:1:it's-quoted", now: 1_000, limit: 10, perSubscriptionCap: 4, leaseMs: 30_000 };

test('a failing claim rolls back, and every pooled connection still claims afterwards', async () => {
  const store = testStore.store;
  // LIMIT -1 is refused by the server mid-query, after BEGIN and the lock.
  await assert.rejects(store.claimDueDeliveries({ ...options, limit: -1 }), /LIMIT must not be negative/);
  // More claims at once than the pool has connections: an aborted transaction left on any of
  // them would fail these with "current transaction is aborted".
  const claims = await Promise.all(Array.from({ length: 12 }, () => store.claimDueDeliveries(options)));
  assert.deepEqual(claims.map((c) => c.length), Array(12).fill(0));
});

test('a value that is not a whole number is refused before anything is sent', async () => {
  await assert.rejects(testStore.store.claimDueDeliveries({ ...options, now: 1.5 }), /now must be a whole number/);
});
