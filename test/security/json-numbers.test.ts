/**
 * Numbers JSON can carry but a double cannot (issue 12, part 4): refused with a 400 naming the path
 * wherever user JSON comes in (schemas, examples, event data), and nothing is stored; numbers a
 * double holds, or merely rounds, are accepted and stored exactly as JSON.parse reads them.
 * The bodies are raw text: JSON.stringify cannot write 1e400.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';

type Api = () => TestApi;

const send = (api: Api, as: Caller, method: string, url: string, payload: string) =>
  api().call(method, url, { as, payload, headers: { 'content-type': 'application/json' } });

function assertRefused(answer: Answer, path: string, pattern: RegExp): void {
  assert.equal(answer.status, 400, JSON.stringify(answer.body));
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  assert.equal(answer.body.errors?.[0]?.path, path, JSON.stringify(answer.body));
  assert.match(answer.body.errors[0].message, pattern);
  assert.match(answer.body.detail, pattern);
}

async function eventCount(api: Api, as: Caller): Promise<number> {
  const list = await api().call('GET', '/v1/events?limit=250', { as });
  assert.equal(list.status, 200);
  return list.body.data.length;
}

/** An environment with event type `n.changed` in topic `numbers`. */
async function registry(api: Api): Promise<Caller> {
  const admin = await api().environment('numbers');
  assert.equal((await api().call('POST', '/v1/event-types', { as: admin, body: { name: 'n.changed' } })).status, 201);
  const topic = { name: 'numbers', eventTypes: ['n.changed'] };
  assert.equal((await api().call('POST', '/v1/topics', { as: admin, body: topic })).status, 201);
  return admin;
}

describeApi('JSON numbers a double cannot hold', (api) => {
  test('a schema holding 1e400 is refused and no event type is stored; a PATCH to one changes nothing', async () => {
    const admin = await registry(api);
    const body = '{"name":"big","schema":{"minProperties":1e400}}';
    const created = await send(api, admin, 'POST', '/v1/event-types', body);
    assertRefused(created, '/schema/minProperties', /1e400.*Infinity/);
    assert.equal((await api().call('GET', '/v1/event-types/big', { as: admin })).status, 404);

    const before = await api().call('GET', '/v1/event-types/n.changed', { as: admin });
    const patched = await send(api, admin, 'PATCH', '/v1/event-types/n.changed', '{"schema":{"maxLength":1E+309}}');
    assertRefused(patched, '/schema/maxLength', /1E\+309/);
    assert.deepEqual((await api().call('GET', '/v1/event-types/n.changed', { as: admin })).body, before.body);
  });

  test('an example holding 1e400 is refused and no event type is stored', async () => {
    const admin = await registry(api);
    const created = await send(api, admin, 'POST', '/v1/event-types', '{"name":"ex","example":{"a":[1,1e400]}}');
    assertRefused(created, '/example/a/1', /1e400/);
    assert.equal((await api().call('GET', '/v1/event-types/ex', { as: admin })).status, 404);
  });

  test('data with 1e400, 1e-400 or 9007199254740993 is refused on both publish routes; nothing is stored', async () => {
    const admin = await registry(api);
    const cases: [string, RegExp][] = [
      ['1e400', /1e400 is too large.*Infinity/],
      ['-1e400', /-Infinity/],
      ['1e-400', /1e-400 is too small.*would become 0/],
      ['9007199254740993', /9007199254740993 .*send such values as strings/],
      ['-12345678901234567890', /as strings/],
    ];
    for (const [number, pattern] of cases) {
      for (const url of ['/v1/topics/numbers/events/publish', '/v1/events/publish']) {
        const payload = `{"events":[{"type":"n.changed","data":{"ok":1}},{"type":"n.changed","data":{"n":${number}}}]}`;
        assertRefused(await send(api, admin, 'POST', url, payload), '/events/1/data/n', pattern);
      }
    }
    assert.equal(await eventCount(api, admin), 0);
  });

  test('numbers a double holds or rounds, and unsafe ones inside strings, are stored as read', async () => {
    const admin = await registry(api);
    const data =
      '{"a":1.5,"b":0.1,"c":9007199254740991,"d":-9007199254740991,"e":1e300,"f":5e-324,"g":0e400,' +
      '"s":"1e400","t":" 9007199254740993 ","1e400":true}';
    const payload = `{"events":[{"type":"n.changed","id":"ok-1","data":${data}}]}`;
    const answer = await send(api, admin, 'POST', '/v1/topics/numbers/events/publish', payload);
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const stored = await api().call('GET', '/v1/events/ok-1', { as: admin });
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.body.data, JSON.parse(data));
    assert.equal(stored.body.data.c, Number.MAX_SAFE_INTEGER);
    assert.equal(stored.body.data.g, 0);
  });

  test('a schema with 1e300 is kept, and data judged against it answers 400 or 202, never 500', async () => {
    const admin = await api().environment('numbers-schema');
    const schema = '{"type":"object","properties":{"n":{"maximum":1e300}}}';
    const created = await send(api, admin, 'POST', '/v1/event-types', `{"name":"bounded","schema":${schema}}`);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.schema.properties.n.maximum, 1e300);
    const topic = { name: 'b', eventTypes: ['bounded'] };
    assert.equal((await api().call('POST', '/v1/topics', { as: admin, body: topic })).status, 201);
    const publish = (n: string) =>
      send(api, admin, 'POST', '/v1/topics/b/events/publish', `{"events":[{"type":"bounded","data":{"n":${n}}}]}`);
    assert.equal((await publish('1e299')).status, 202);
    assert.equal((await publish('1e301')).status, 400);
  });
});
