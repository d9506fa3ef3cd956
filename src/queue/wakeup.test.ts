import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestDatabase } from '../testing/test-store.ts';
import { LocalWakeup, PostgresWakeup } from './wakeup.ts';

const within = async (promise: Promise<void>, ms: number): Promise<boolean> =>
  Promise.race([promise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

test('a notify wakes a waiter at once', async () => {
  const wakeup = new LocalWakeup();
  const waiting = wakeup.wait(10_000);
  wakeup.notify();
  assert.equal(await within(waiting, 200), true);
});

test('a notify with nobody waiting is kept for the next wait', async () => {
  const wakeup = new LocalWakeup();
  wakeup.notify();
  assert.equal(await within(wakeup.wait(10_000), 200), true);
});

test('a waiter withdrawn by its abort signal does not swallow the next notify', async () => {
  const wakeup = new LocalWakeup();
  const stop = new AbortController();
  const first = wakeup.wait(10_000, stop.signal);
  stop.abort();
  assert.equal(await within(first, 200), true);
  wakeup.notify();
  assert.equal(await within(wakeup.wait(10_000), 200), true, 'the notify reached the later wait');
});

test('without a notify the wait ends after its time', async () => {
  const wakeup = new LocalWakeup();
  assert.equal(await within(wakeup.wait(30), 1000), true);
});

test("PostgreSQL: a NOTIFY reaches another process's workers, and our own does not wake ours a second time", async () => {
  const database = await createTestDatabase('postgres');
  const ours = await PostgresWakeup.open(database.url, true);
  const theirs = await PostgresWakeup.open(database.url, true);
  try {
    const ourWait = ours.wait(5000);
    const theirWait = theirs.wait(5000);
    ours.notify();
    assert.equal(await within(ourWait, 2000), true, 'ours woke on the notify');
    assert.equal(await within(theirWait, 2000), true, 'theirs woke on the NOTIFY');
    // Give our NOTIFY time to come back to our own LISTEN: it must not be kept as a fresh wake-up.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await within(ours.wait(1000), 500), false, 'the echo of our own NOTIFY did not wake us again');
  } finally {
    await ours.close();
    await theirs.close();
    await database.drop();
  }
});
