/**
 * Bench: many concurrent single-event publishes to ONE environment on PostgreSQL, to see whether
 * they queue behind each other in the database (they all count into that environment's monthly
 * usage). Starts `herald serve --role api` on a fresh database (no worker: the deliveries are
 * stored, never sent), then runs closed-loop clients, each publishing one event and sending the
 * next as soon as the answer arrives, and prints calls/s and the calls' p50/p99. At the end it
 * checks that GET /v1/usage counts exactly the events accepted.
 *
 *   node --import tsx bench/publish-concurrency.ts [--clients 64] [--seconds 10] [--quota N]
 *
 * `--quota N` sets the environment's monthly quota to N first (large enough never to be reached
 * measures what checking a quota costs).
 */
import { Pool } from 'undici';
import { type Credentials, createEventType, createTopic, subscribe } from './api.ts';
import { fail, installExitHandlers, shutdown } from './children.ts';
import { eventData, nowMs } from './common.ts';
import { createDatabase, postgresAnswers } from './database.ts';
import { bootstrapCredentials, startHerald } from './herald.ts';
import { distribution, round } from './stats.ts';

const USAGE = 'usage: node --import tsx bench/publish-concurrency.ts [--clients N] [--seconds S] [--quota N]';
const ROOT_TOKEN = 'bench-root-token';
const WARM_UP_MS = 1000;

function parse(argv: readonly string[]): { clients: number; seconds: number; quota: number | null } {
  const options = { clients: 64, seconds: 10, quota: null as number | null };
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${argv[i]} needs a positive whole number\n${USAGE}`);
    if (argv[i] === '--clients') options.clients = value;
    else if (argv[i] === '--seconds') options.seconds = value;
    else if (argv[i] === '--quota') options.quota = value;
    else throw new Error(`unknown argument ${argv[i]}\n${USAGE}`);
  }
  return options;
}

interface Tally {
  accepted: number;
  failed: number;
  errors: string[];
  callMs: number[];
}

/** `clients` closed loops of single-event publishes until `untilMs` (wall clock). */
async function load(pool: Pool, api: Credentials, clients: number, untilMs: number, group: string): Promise<Tally> {
  const tally: Tally = { accepted: 0, failed: 0, errors: [], callMs: [] };
  let seq = 0;
  const client = async () => {
    while (nowMs() < untilMs) {
      const n = seq++;
      const startedAt = nowMs();
      try {
        const response = await pool.request({
          path: '/v1/topics/bench/events/publish',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-environment-id': api.envId, 'x-auth-token': api.key },
          body: JSON.stringify({ events: [{ id: `${group}:${n}`, type: 'bench.event', data: eventData(n) }] }),
        });
        const text = await response.body.text();
        if (response.statusCode !== 202) throw new Error(`HTTP ${response.statusCode}: ${text.slice(0, 300)}`);
        tally.accepted += 1;
        tally.callMs.push(nowMs() - startedAt);
      } catch (error) {
        tally.failed += 1;
        if (tally.errors.length < 5) tally.errors.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return tally;
}

async function call(api: Credentials, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const response = await fetch(`${api.origin}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

async function main(): Promise<void> {
  installExitHandlers();
  const options = parse(process.argv.slice(2));
  if (!(await postgresAnswers())) throw new Error('PostgreSQL does not answer on 127.0.0.1:5432');
  const database = await createDatabase('postgres');
  const herald = await startHerald({
    databaseUrl: database.url,
    role: 'api',
    env: { HERALD_ROOT_TOKEN: ROOT_TOKEN, HERALD_ALLOW_PRIVATE_URLS: 'true' },
    expectBootstrap: true,
  });
  const { envId, key } = bootstrapCredentials(herald.output());
  const api: Credentials = { origin: herald.url as string, envId, key };
  await createEventType(api);
  await createTopic(api, 'bench');
  // Stored with every event, never sent: no worker runs.
  await subscribe(api, 'bench', 'receiver', 'http://127.0.0.1:9/never');
  if (options.quota !== null) {
    await call(api, 'PATCH', `/v1/environments/${envId}`, { authorization: `Bearer ${ROOT_TOKEN}` }, { monthlyEventQuota: options.quota });
  }

  const pool = new Pool(api.origin, { connections: options.clients, keepAliveTimeout: 60_000 });
  const warmUp = await load(pool, api, options.clients, nowMs() + WARM_UP_MS, 'warm');
  const herald0 = herald.cpuMs();
  const startedAt = nowMs();
  const measured = await load(pool, api, options.clients, startedAt + options.seconds * 1000, 'run');
  const elapsedMs = nowMs() - startedAt;
  const heraldCpuMs = herald.cpuMs() - herald0;
  await pool.close();

  const usage = await call(api, 'GET', '/v1/usage', { 'x-environment-id': envId, 'x-auth-token': key });
  const accepted = warmUp.accepted + measured.accepted;
  const calls = distribution(measured.callMs);
  process.stdout.write(
    `${options.clients} clients, ${options.seconds} s, quota ${options.quota ?? 'none'}: ` +
      `${round(measured.accepted / (elapsedMs / 1000), 1)} calls/s, p50 ${round(calls.p50, 1)} ms, ` +
      `p99 ${round(calls.p99, 1)} ms, max ${round(calls.max, 1)} ms, failed ${measured.failed}, ` +
      `Herald CPU ${round(heraldCpuMs / Math.max(1, measured.accepted), 3)} ms/call\n` +
      `usage: ${String(usage.published)} published, ${accepted} accepted (warm-up included): ` +
      `${usage.published === accepted ? 'exact' : 'MISMATCH'}\n`,
  );
  for (const error of [...warmUp.errors, ...measured.errors]) process.stdout.write(`  error: ${error}\n`);
  await herald.stop();
  await database.drop();
  await shutdown(usage.published === accepted && measured.failed === 0 ? 0 : 1);
}

main().catch(fail);
