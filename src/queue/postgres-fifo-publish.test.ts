/**
 * FIFO order is commit order on PostgreSQL: a publish to a FIFO subscription holds its lane from
 * before its deliveries draw their seq until it commits. Shown here by holding the lane from
 * another connection: the FIFO publish waits for it, a publish to a plain subscription does not.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { StoredEvent } from '../domain/types.ts';
import { type TestStore, makeTestStore, testSubscription } from '../testing/test-store.ts';

const ENV = 'env_fifo_publish';
let testStore: TestStore;
before(async () => {
  testStore = await makeTestStore('postgres');
  await testStore.store.insertSubscription(ENV, testSubscription({ id: 'sub_fifo', ordering: 'fifo' }));
  await testStore.store.insertSubscription(ENV, testSubscription({ id: 'sub_plain' }));
});
after(async () => {
  await testStore.cleanup();
});

const event = (id: string): StoredEvent => ({
  id,
  type: 'order.created',
  source: null,
  subject: null,
  time: 1_000,
  dataJson: '{}',
  context: [],
  topic: 'work',
  deliverAt: 1_000,
  cancelledAt: null,
  createdAt: 1_000,
});

const publishTo = (subscriptionId: string, eventId: string, fifo: boolean) =>
  testStore.store.acceptEvents(ENV, [event(eventId)], { month: '2026-01', limit: null }, [
    { id: `dlv_${eventId}`, eventId, subscriptionId, topic: 'work', status: 'pending', nextAttemptAt: 1_000, createdAt: 1_000, fifo },
  ]);

test('a publish to a FIFO subscription waits for its lane; one to a plain subscription does not', { timeout: 20_000 }, async () => {
  const holder = new pg.Client({ connectionString: testStore.url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query("SELECT 1 FROM lanes WHERE environment_id = $1 AND subscription_id IN ('sub_fifo', 'sub_plain') FOR UPDATE", [ENV]);
    let fifoDone = false;
    const fifo = publishTo('sub_fifo', 'e_fifo', true).then((outcome) => {
      fifoDone = true;
      return outcome;
    });
    const plain = await publishTo('sub_plain', 'e_plain', false);
    assert.equal(plain.kind, 'accepted', 'a plain lane is not locked by a publish');
    assert.equal(fifoDone, false, 'the FIFO publish waits for the lane');
    await holder.query('COMMIT');
    assert.equal((await fifo).kind, 'accepted');
    const rows = await holder.query<{ id: string; seq: string }>(
      'SELECT id, seq FROM deliveries WHERE environment_id = $1 ORDER BY seq',
      [ENV],
    );
    assert.deepEqual(
      rows.rows.map((r) => r.id),
      ['dlv_e_plain', 'dlv_e_fifo'],
      'the FIFO delivery drew its seq after the lane was free',
    );
  } finally {
    await holder.end();
  }
});
