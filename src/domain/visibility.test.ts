import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { App } from './types.ts';
import { fullView, mayAccessApp, maySeeTopic, viewOf } from './visibility.ts';

const app = (id: string, permissions: string[]): App => ({ id, name: id, permissions, createdAt: 0, updatedAt: 0 });
const acme = app('app_acme', ['acme:read', 'acme:admin']);

test('admin and publisher keys see every topic, even one whose owner is unknown', () => {
  for (const role of ['admin', 'publisher'] as const) {
    const viewer = { role, permissions: [] };
    assert.ok(maySeeTopic(viewer, { appId: acme.id }, acme));
    assert.ok(maySeeTopic(viewer, null, null));
  }
});

test('a subscriber key sees topics of no app, and an app topic with one of its permissions', () => {
  const none = { role: 'subscriber' as const, permissions: [] };
  const one = { role: 'subscriber' as const, permissions: ['acme:admin'] };
  assert.ok(maySeeTopic(none, { appId: null }, null));
  assert.ok(!maySeeTopic(none, { appId: acme.id }, acme));
  assert.ok(maySeeTopic(one, { appId: acme.id }, acme));
  assert.ok(mayAccessApp(one, acme));
});

test('a subscriber key sees no topic whose owner cannot be found or does not match', () => {
  const one = { role: 'subscriber' as const, permissions: ['acme:read'] };
  assert.ok(!maySeeTopic(one, null, null));
  assert.ok(!maySeeTopic(one, { appId: acme.id }, null));
  assert.ok(!maySeeTopic(one, { appId: 'app_other' }, acme));
});

test('viewOf keeps a subscriber key its permissions (sorted, once) and any other role everything', () => {
  assert.deepEqual(viewOf({ role: 'subscriber', permissions: ['b', 'a', 'b'] }), { role: 'subscriber', permissions: ['a', 'b'] });
  assert.deepEqual(viewOf({ role: 'publisher', permissions: ['x'] }), fullView());
  // A key object carries more than its view; none of it is kept.
  assert.deepEqual(Object.keys(viewOf({ role: 'admin', permissions: [], id: 'key_1' } as never)).sort(), ['permissions', 'role']);
});
