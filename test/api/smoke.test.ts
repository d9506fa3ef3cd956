import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeApi } from '../../src/testing/test-app.ts';

describeApi('smoke', (api) => {
  test('category round trip', async () => {
    const admin = await api().environment();
    const created = await api().call('POST', '/v1/categories', { as: admin, body: { name: 'customer', description: 'c' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const list = await api().call('GET', '/v1/categories', { as: admin });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.data.map((c: { name: string }) => c.name), ['customer']);
  });
});
