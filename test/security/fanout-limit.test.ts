/**
 * One publish call cannot turn a topic with many subscriptions into unbounded rows (SPEC §7):
 * a call that would create more than HERALD_MAX_DELIVERIES_PER_PUBLISH deliveries is refused
 * whole with 400, and nothing is stored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertProblem } from '../../src/testing/assertions.ts';
import { describeApi } from '../../src/testing/test-app.ts';

describeApi(
  'security: deliveries per publish call',
  (api) => {
    test('a call over the limit is refused whole; one within it is accepted', async () => {
      const admin = await api().environment();
      const call = (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });
      assert.equal((await call('POST', '/v1/event-types', { name: 'order.created' })).status, 201);
      assert.equal((await call('POST', '/v1/topics', { name: 'orders', eventTypes: ['order.created'] })).status, 201);
      for (let i = 0; i < 3; i++) {
        const sub = await call('POST', '/v1/topics/orders/subscriptions', { name: `s${i}`, url: `http://127.0.0.1:9/hook/${i}` });
        assert.equal(sub.status, 201);
      }
      const events = (n: number) => ({ events: Array.from({ length: n }, (_, i) => ({ type: 'order.created', data: { i } })) });

      for (const url of ['/v1/topics/orders/events/publish', '/v1/events/publish']) {
        const refused = await call('POST', url, events(2)); // 2 events × 3 subscriptions = 6 > 5
        assertProblem(refused, 400, url);
        assert.match(refused.body.detail, /6 deliveries.*more than the 5/);
        assert.deepEqual(refused.body.errors, [{ path: '/events', message: 'would create more than 5 deliveries' }]);
      }
      assert.equal((await call('GET', '/v1/events')).body.data.length, 0, 'nothing was stored');
      assert.equal((await call('GET', '/v1/usage')).body.published, 0, 'nothing was counted');

      const accepted = await call('POST', '/v1/topics/orders/events/publish', events(1));
      assert.equal(accepted.status, 202);
      assert.equal(accepted.body.events[0].deliveries, 3);
    });
  },
  { maxDeliveriesPerPublish: 5 },
);
