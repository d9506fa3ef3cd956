import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalWakeup } from './wakeup.ts';

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
