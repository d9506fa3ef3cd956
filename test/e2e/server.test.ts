/**
 * Herald as a user runs it: a real process per dialect, first-start bootstrap, the README's curl
 * walk-through over real HTTP, restart, kill -9 durability, and the CLI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type HeraldProcess, heraldEnv, runHerald, startHerald } from '../../src/testing/herald-process.ts';
import { DIALECTS, type TestDatabase, createTestDatabase } from '../../src/testing/test-store.ts';

for (const dialect of DIALECTS) {
  describe(`herald serve [${dialect}]`, () => {
    let database: TestDatabase;
    let server: HeraldProcess | undefined;
    let envId = '';
    let adminKey = '';

    const call = async (method: string, path: string, body?: unknown, key = adminKey) => {
      if (!server) throw new Error('no server');
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          'x-environment-id': envId,
          'x-auth-token': key,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
    };

    before(async () => {
      database = await createTestDatabase(dialect);
    });
    after(async () => {
      await server?.stop('SIGKILL');
      await database.drop();
    });

    test('first start creates environment "default" and prints its id and admin key once', async () => {
      server = await startHerald(database.url, { HERALD_ROOT_TOKEN: 'root-e2e' });
      const output = server.output();
      envId = /^HERALD_ENV_ID=(env_\w+)$/m.exec(output)?.[1] ?? '';
      adminKey = /^HERALD_ADMIN_KEY=(\S+)$/m.exec(output)?.[1] ?? '';
      assert.ok(envId && adminKey, output);
      assert.match(output, /\/portal/);
      const envs = await fetch(`${server.url}/v1/environments`, { headers: { authorization: 'Bearer root-e2e' } });
      const listed = (await envs.json()) as { data: { id: string; name: string }[] };
      assert.deepEqual(
        listed.data.map((e) => [e.id, e.name]),
        [[envId, 'default']],
      );
    });

    test('the README walk-through: category, event type, topic, publish, read back', async () => {
      assert.equal((await call('POST', '/v1/categories', { name: 'customer', description: 'Customer events' })).status, 201);
      const type = await call('POST', '/v1/event-types', {
        name: 'customer.created',
        category: 'customer',
        schema: { type: 'object', properties: { email: { type: 'string', format: 'email' } }, required: ['email'] },
        example: { email: 'ada@example.com' },
      });
      assert.equal(type.status, 201, JSON.stringify(type.body));
      assert.equal((await call('POST', '/v1/topics', { name: 'customers', eventTypes: ['customer.created'] })).status, 201);
      const published = await call('POST', '/v1/topics/customers/events/publish', {
        events: [{ id: 'cust-1', type: 'customer.created', data: { email: 'ada@example.com' } }],
      });
      assert.equal(published.status, 202, JSON.stringify(published.body));
      assert.deepEqual(published.body, { events: [{ id: 'cust-1', status: 'accepted', deliveries: 0 }] });
      const bad = await call('POST', '/v1/topics/customers/events/publish', {
        events: [{ type: 'customer.created', data: { email: 'not an email' } }],
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      const stored = await call('GET', '/v1/events/cust-1');
      assert.deepEqual(stored.body.data, { email: 'ada@example.com' });
    });

    test('a restart keeps everything and does not bootstrap again', async () => {
      assert.equal(await server?.stop('SIGTERM'), 0);
      server = await startHerald(database.url);
      assert.doesNotMatch(server.output(), /HERALD_ADMIN_KEY/);
      assert.equal((await call('GET', '/v1/events/cust-1')).status, 200);
    });

    test('kill -9 right after a 202 loses nothing that was accepted', async () => {
      const events = Array.from({ length: 200 }, (_, i) => ({ id: `k9-${i}`, type: 'customer.created', data: { email: `u${i}@example.com` } }));
      const published = await call('POST', '/v1/topics/customers/events/publish', { events });
      assert.equal(published.status, 202);
      await server?.stop('SIGKILL');
      server = await startHerald(database.url);
      let count = 0;
      let cursor: string | null = null;
      do {
        const page: { body: { data: { id: string }[]; meta: { nextCursor: string | null } } } = await call(
          'GET',
          `/v1/events?limit=250${cursor ? `&cursor=${cursor}` : ''}`,
        );
        count += page.body.data.filter((e) => e.id.startsWith('k9-')).length;
        cursor = page.body.meta.nextCursor;
      } while (cursor);
      assert.equal(count, 200);
    });

    test('the CLI: migrate, env create, key create', async () => {
      const env = heraldEnv(database.url);
      const migrated = runHerald(['migrate'], env);
      assert.equal(migrated.status, 0, migrated.stderr);
      const created = runHerald(['env', 'create', '--name', 'cli-made', '--quota', '10'], env);
      assert.equal(created.status, 0, created.stderr);
      const newEnv = /^HERALD_ENV_ID=(env_\w+)$/m.exec(created.stdout)?.[1];
      assert.ok(newEnv, created.stdout);
      const key = runHerald(['key', 'create', '--env', envId, '--name', 'ci', '--role', 'publisher'], env);
      assert.equal(key.status, 0, key.stderr);
      const token = /^HERALD_API_KEY=(\S+)$/m.exec(key.stdout)?.[1];
      assert.ok(token);
      assert.equal((await call('GET', '/v1/usage', undefined, token)).status, 200);
      assert.equal((await call('POST', '/v1/categories', { name: 'nope' }, token)).status, 403);
      const badRole = runHerald(['key', 'create', '--env', envId, '--name', 'x', '--role', 'root'], env);
      assert.notEqual(badRole.status, 0);
      const unknownEnv = runHerald(['key', 'create', '--env', 'env_missing', '--name', 'x'], env);
      assert.notEqual(unknownEnv.status, 0);
      assert.match(unknownEnv.stderr, /no environment/);
    });

    test('a bad configuration value stops start-up with a message naming the variable', () => {
      const result = runHerald(['migrate'], heraldEnv(database.url, { HERALD_RETENTION_DAYS: 'forever' }));
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /HERALD_RETENTION_DAYS/);
    });
  });
}
