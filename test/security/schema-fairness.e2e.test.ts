/**
 * One tenant's costly schemas do not stall the others (SPEC §7): while an environment publishes
 * the worst schemas we know of, as fast as it is answered, another environment's requests (a
 * read, a publish its schema accepts, one it refuses) are each answered within 100 ms.
 *
 * Run against a real `herald serve` and in the e2e phase (one test file at a time), so that what
 * is measured is Herald under attack, not other test files competing for the machine's two cores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type HeraldProcess, startHerald } from '../../src/testing/herald-process.ts';
import { EXPONENTIAL_SCHEMA, REDOS_SCHEMA, almostMatching, nestedArrays } from '../../src/testing/hostile-schemas.ts';
import { DIALECTS, type TestDatabase, createTestDatabase } from '../../src/testing/test-store.ts';

const ROOT_TOKEN = 'fairness-root-token';
/** HERALD_SCHEMA_TIMEOUT_MS: short, so the attacker's threads are killed and replaced often. */
const TIMEOUT_MS = 400;
const ATTACKERS = 4;

interface Tenant {
  environmentId: string;
  key: string;
}

for (const dialect of DIALECTS) {
  describe(`security: schema fairness [${dialect}]`, () => {
    let database: TestDatabase;
    let server: HeraldProcess;

    before(async () => {
      database = await createTestDatabase(dialect);
      server = await startHerald(database.url, { HERALD_ROOT_TOKEN: ROOT_TOKEN, HERALD_SCHEMA_TIMEOUT_MS: String(TIMEOUT_MS) });
    });
    after(async () => {
      await server?.stop('SIGKILL');
      await database?.drop();
    });

    const call = async (as: Tenant, method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          'x-environment-id': as.environmentId,
          'x-auth-token': as.key,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      await response.arrayBuffer();
      return response.status;
    };
    const tenant = async (name: string): Promise<Tenant> => {
      const response = await fetch(`${server.url}/v1/environments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ROOT_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      assert.equal(response.status, 201);
      const created = (await response.json()) as { id: string; apiKey: string };
      return { environmentId: created.id, key: created.apiKey };
    };
    /** An event type with `schema` in a topic of its own; returns a publish of one event of it. */
    const typeWithSchema = async (as: Tenant, name: string, schema: unknown) => {
      assert.equal(await call(as, 'POST', '/v1/event-types', { name, schema }), 201);
      assert.equal(await call(as, 'POST', '/v1/topics', { name: `t-${name}`, eventTypes: [name] }), 201);
      return (data: unknown) => call(as, 'POST', `/v1/topics/t-${name}/events/publish`, { events: [{ type: name, data }] });
    };

    test('another environment is answered within 100 ms while the worst schemas are published', { timeout: 120_000 }, async () => {
      const attacker = await tenant('attacker');
      const victim = await tenant('victim');
      const exponential = await typeWithSchema(attacker, 'exponential', EXPONENTIAL_SCHEMA);
      const redos = await typeWithSchema(attacker, 'redos', REDOS_SCHEMA);
      const order = await typeWithSchema(victim, 'order.created', {
        type: 'object',
        properties: { id: { type: 'string', pattern: '^o_[0-9]+$' } },
        required: ['id'],
      });
      assert.equal(await order({ id: 'o_0' }), 202);

      let attacking = true;
      const attackerAnswers: number[] = [];
      const attack = async () => {
        while (attacking) {
          attackerAnswers.push(await exponential(nestedArrays(40)));
          attackerAnswers.push(await redos(almostMatching(50_000)));
        }
      };
      const attacks = Array.from({ length: ATTACKERS }, attack);

      const latencies: { what: string; ms: number }[] = [];
      const timed = async (what: string, request: () => Promise<number>, expected: number) => {
        const started = performance.now();
        const status = await request();
        latencies.push({ what, ms: performance.now() - started });
        assert.equal(status, expected, what);
      };
      // Several of the attacker's threads are killed and replaced in this time.
      const deadline = performance.now() + 10 * TIMEOUT_MS;
      for (let i = 1; performance.now() < deadline; i++) {
        await timed('GET /v1/topics', () => call(victim, 'GET', '/v1/topics'), 200);
        await timed('publish (valid)', () => order({ id: `o_${i}` }), 202);
        await timed('publish (refused by its schema)', () => order({ id: 'x' }), 400);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      attacking = false;
      await Promise.all(attacks);

      assert.ok(attackerAnswers.includes(400), 'the attack was refused');
      assert.ok(
        attackerAnswers.every((status) => status === 400 || status === 429),
        `the attacker was answered ${[...new Set(attackerAnswers)].join(', ')}`,
      );
      const worst = latencies.reduce((a, b) => (b.ms > a.ms ? b : a));
      assert.ok(worst.ms < 100, `the victim waited ${worst.ms.toFixed(1)} ms for ${worst.what} (${latencies.length} requests)`);
    });
  });
}
