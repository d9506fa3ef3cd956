/** SPEC §3 conventions that hold for every route: problem+json errors, body limits, OpenAPI, health. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, describeApi } from '../../src/testing/test-app.ts';

function assertProblem(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  assert.equal(answer.body.status, status);
  assert.equal(answer.body.type, `https://herald.dev/errors#${code}`);
  assert.equal(typeof answer.body.title, 'string');
  assert.equal(typeof answer.body.detail, 'string');
}

describeApi(
  'HTTP conventions',
  (api) => {
    const categoryCount = async (as: { environmentId: string; key: string }) =>
      (await api().call('GET', '/v1/categories', { as })).body.data.length as number;

    test('bodies that are not JSON objects are refused with the right 4xx, changing nothing', async () => {
      const admin = await api().environment();
      const json = { 'content-type': 'application/json' };
      const cases: [string, Record<string, string>, string | Buffer, number, string][] = [
        ['truncated JSON', json, '{"name":', 400, 'invalid_json'],
        ['empty body', json, '', 400, 'invalid_json'],
        ['JSON array', json, '[]', 400, 'validation_failed'],
        ['JSON string', json, '"customer"', 400, 'validation_failed'],
        ['text/plain', { 'content-type': 'text/plain' }, 'name=customer', 415, 'unsupported_media_type'],
        ['form', { 'content-type': 'application/x-www-form-urlencoded' }, 'name=customer', 415, 'unsupported_media_type'],
        ['prototype poisoning', json, '{"name":"x","__proto__":{"admin":true}}', 400, 'invalid_json'],
        ['deep nesting', json, `{"name":"x","description":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, 400, 'validation_failed'],
        ['2 MiB body', json, JSON.stringify({ name: 'x', description: 'y'.repeat(2 * 1024 * 1024) }), 413, 'payload_too_large'],
        ['invalid UTF-8', json, Buffer.from([0x7b, 0x22, 0x6e, 0xff, 0xfe, 0x22, 0x7d]), 400, 'invalid_json'],
      ];
      for (const [label, headers, payload, status, code] of cases) {
        const answer = await api().call('POST', '/v1/categories', { as: admin, headers, payload });
        assert.equal(answer.status, status, `${label}: ${JSON.stringify(answer.body)}`);
        assertProblem(answer, status, code);
      }
      assert.equal(await categoryCount(admin), 0);
    });

    test('a publish body with 100,000 nested arrays in data is a 400, not a crash', async () => {
      const admin = await api().environment();
      const payload = `{"events":[{"type":"a","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`;
      const answer = await api().call('POST', '/v1/events/publish', {
        as: admin,
        headers: { 'content-type': 'application/json' },
        payload,
      });
      assertProblem(answer, 400, 'validation_failed');
    });

    test('validation problems list every field by JSON pointer', async () => {
      const admin = await api().environment();
      const answer = await api().call('POST', '/v1/categories', { as: admin, body: { name: 7, colour: 'red' } });
      assertProblem(answer, 400, 'validation_failed');
      const paths = answer.body.errors.map((e: { path: string }) => e.path).sort();
      assert.deepEqual(paths, ['/colour', '/name']);
    });

    test('query strings and paths are validated too', async () => {
      const admin = await api().environment();
      for (const url of ['/v1/categories?limit=0', '/v1/categories?limit=251', '/v1/categories?limit=abc', '/v1/categories?colour=red']) {
        const answer = await api().call('GET', url, { as: admin });
        assertProblem(answer, 400, 'validation_failed');
        assert.match(answer.body.errors[0].path, /^querystring:/);
      }
      assertProblem(await api().call('GET', '/v1/categories?cursor=bm90LWEtY3Vyc29y', { as: admin }), 400, 'validation_failed');
      assertProblem(await api().call('GET', `/v1/categories/${'x'.repeat(200)}`, { as: admin }), 400, 'validation_failed');
    });

    test('unknown routes are problem+json 404s', async () => {
      const admin = await api().environment();
      assertProblem(await api().call('GET', '/v1/nothing-here', { as: admin }), 404, 'not_found');
      assertProblem(await api().call('GET', '/nothing-here'), 404, 'not_found');
    });

    test('lists answer {data, meta: {nextCursor, hasNextPage}} and page through everything once', async () => {
      const admin = await api().environment();
      for (const name of ['e', 'a', 'd', 'c', 'b']) {
        assert.equal((await api().call('POST', '/v1/categories', { as: admin, body: { name } })).status, 201);
      }
      const seen: string[] = [];
      let url = '/v1/categories?limit=2';
      for (let i = 0; i < 5; i++) {
        const page = await api().call('GET', url, { as: admin });
        assert.equal(page.status, 200);
        seen.push(...page.body.data.map((c: { name: string }) => c.name));
        assert.equal(page.body.meta.hasNextPage, page.body.meta.nextCursor !== null);
        if (!page.body.meta.hasNextPage) break;
        url = `/v1/categories?limit=2&cursor=${page.body.meta.nextCursor}`;
      }
      assert.deepEqual(seen, ['a', 'b', 'c', 'd', 'e']);
      const defaults = await api().call('GET', '/v1/categories', { as: admin });
      assert.deepEqual(defaults.body.meta, { nextCursor: null, hasNextPage: false });
    });

    test('OpenAPI 3.1 describes every /v1 route from the schemas that validate it', async () => {
      const answer = await api().call('GET', '/openapi.json');
      assert.equal(answer.status, 200);
      const doc = answer.body;
      assert.equal(doc.openapi, '3.1.0');
      const expected: [string, string][] = [
        ['post', '/v1/environments'],
        ['patch', '/v1/environments/{id}'],
        ['post', '/v1/api-keys'],
        ['post', '/v1/categories'],
        ['post', '/v1/event-types'],
        ['post', '/v1/event-types/generate-schema'],
        ['post', '/v1/apps'],
        ['post', '/v1/topics'],
        ['post', '/v1/topics/{topic}/events/publish'],
        ['post', '/v1/events/publish'],
        ['get', '/v1/events'],
        ['get', '/v1/events/{id}'],
        ['get', '/v1/usage'],
        ['get', '/healthz'],
        ['get', '/readyz'],
      ];
      for (const [method, path] of expected) assert.ok(doc.paths[path]?.[method], `${method} ${path} documented`);
      const publish = doc.paths['/v1/topics/{topic}/events/publish'].post;
      const schema = publish.requestBody.content['application/json'].schema;
      assert.deepEqual(schema.required, ['events']);
      assert.equal(schema.properties.events.items.additionalProperties, false);
      assert.ok(doc.components.securitySchemes.authToken);
    });

    test('/docs renders the API reference; /healthz and /readyz answer without credentials', async () => {
      const docs = await api().call('GET', '/docs');
      assert.equal(docs.status, 200);
      assert.match(String(docs.headers['content-type']), /text\/html/);
      assert.deepEqual((await api().call('GET', '/healthz')).body, { status: 'ok' });
      assert.deepEqual((await api().call('GET', '/readyz')).body, { status: 'ready' });
    });
  },
  { maxBodyBytes: 1024 * 1024 },
);
