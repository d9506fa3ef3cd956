/**
 * SQLite's claim says whether it left due deliveries waiting for a slot (ClaimedBatch.moreDue):
 * the worker claims again after a settle only when it did. PostgreSQL's claim cannot tell and
 * always says it may have (kysely-delivery-store.ts), so only SQLite is tested here.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { makeTestStore, queueDeliveries, type TestStore } from '../testing/test-store.ts';

let testStore: TestStore;
before(async () => {
  testStore = await makeTestStore('sqlite');
});
after(async () => {
  await testStore.cleanup();
});

const now = Date.now();
const queue = (subscriptionId: string, count: number, due = now - 1000) =>
  queueDeliveries(testStore.store, 'env_more', subscriptionId, count, due, now);
const claim = (limit: number, cap = 4) =>
  testStore.store.queue.claim({ workerId: 'w', now, limit, perSubscriptionCap: cap, leaseMs: 30_000 });

test('moreDue says whether the claim left due deliveries waiting for a slot', async () => {
  await queue('sub_a', 2);
  await queue('sub_later', 3, now + 60_000);
  let batch = await claim(10);
  assert.equal(batch.work.length, 2);
  assert.equal(batch.moreDue, false, 'everything due was taken; what is not due yet is not waiting for a slot');

  await queue('sub_b', 6);
  batch = await claim(3);
  assert.equal(batch.work.length, 3);
  assert.equal(batch.moreDue, true, 'the batch was full with more due');

  batch = await claim(10);
  assert.equal(batch.work.length, 1, "sub_b's fourth, up to its cap");
  assert.equal(batch.moreDue, true, 'sub_b is at its cap with two due');

  batch = await claim(10);
  assert.deepEqual(batch.work, []);
  assert.equal(batch.moreDue, true, 'still waiting for a slot under the cap');
});

test("claimDueWork reads each delivery's event and subscription; null where they are gone", async () => {
  const batch = await claim(10, 100);
  assert.ok(batch.work.length >= 2, "sub_b's last two");
  for (const { delivery, event, subscription } of batch.work) {
    assert.equal(delivery.status, 'delivering');
    // The test queue made deliveries without events or subscriptions.
    assert.equal(event, null);
    assert.equal(subscription, null);
  }
  assert.equal(batch.moreDue, false);
});
