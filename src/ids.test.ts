import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTime, isValid } from 'ulid';
import { newId } from './ids.ts';

const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

test('ids are the prefix and a ULID whose time is the one given', () => {
  const at = Date.UTC(2031, 4, 6, 7, 8, 9, 10);
  const id = newId('evt', at);
  assert.match(id, /^evt_/);
  const ulid = id.slice(4);
  assert.match(ulid, ULID);
  assert.ok(isValid(ulid));
  assert.equal(decodeTime(ulid), at);
});

test('ids made in one millisecond, or for an earlier one, still sort in the order they were made', () => {
  const at = Date.UTC(2032, 0, 1);
  const ids = Array.from({ length: 5000 }, (_, i) => newId('dlv', i % 3 === 2 ? at - 1000 : at));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  // A later millisecond starts a fresh random part, after everything made before.
  const later = newId('dlv', at + 1);
  assert.ok(later > (ids.at(-1) as string));
  assert.equal(decodeTime(later.slice(4)), at + 1);
});

test('the random part is drawn afresh for each new millisecond', () => {
  const base = Date.UTC(2033, 0, 1);
  const randoms = Array.from({ length: 200 }, (_, i) => newId('att', base + i).slice(4 + 10));
  assert.equal(new Set(randoms).size, randoms.length);
});

test('a time no ULID can hold is refused', () => {
  assert.throws(() => newId('key', 2 ** 48));
  assert.throws(() => newId('key', 1.5 + 2 ** 47));
});

test('every prefix Herald uses makes ids, among them bat_ for batches', () => {
  for (const prefix of ['env', 'key', 'app', 'sub', 'evt', 'dlv', 'att', 'bat', 'msg'] as const) {
    assert.match(newId(prefix), new RegExp(`^${prefix}_[0-7][0-9A-HJKMNP-TV-Z]{25}$`));
  }
});
