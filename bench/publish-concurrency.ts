/**
 * Bench: many concurrent single-event publishes to ONE environment on PostgreSQL, to see whether
 * they queue behind each other in the database (they all count into that environment's monthly
 * usage). Starts `herald serve --role api` on a fresh database (no worker: the deliveries are
 * stored, never sent), then runs closed-loop clients, each publishing one event and sending the
 * next as soon as the answer arrives, and prints calls/s and the calls' p50/p99. At the end it
 * checks that GET /v1/usage counts exactly the events accepted.
 *
 *   node --import tsx bench/publish-concurrency.ts [--clients 64] [--seconds 10] [--quota N] [--commit-delay-us N]
 *
 * `--quota N` sets the environment's monthly quota to N first (large enough never to be reached
 * measures what checking a quota costs). `--commit-delay-us N` stands in for a slower disk: each
 * commit waits N µs before flushing the WAL (PostgreSQL's commit_delay, set on the bench's
 * database only; it applies while 5 or more other transactions are open, as under this load), so
 * a lock held until commit is held that much longer, while commits that do not wait for each
 * other share one flush.
 *
 * In a git worktree whose node_modules is a symlink to another checkout, Herald's bundle (under
 * node_modules/.cache) finds that checkout's migrations/: run with
 * BENCH_HERALD_NODE_ARGS=--preserve-symlinks. The bench stops if the database's migrations are
 * not this tree's.
 */
import pg from 'pg';
import { Pool } from 'undici';
import { loadMigrations } from '../src/store/migrations.ts';
import { type Credentials, createEventType, createTopic, subscribe } from './api.ts';
import { fail, installExitHandlers, shutdown } from './children.ts';
import { eventData, nowMs } from './common.ts';
import { createDatabase, postgresAnswers } from './database.ts';
import { bootstrapCredentials, cpuMsOf, machineCpu, startHerald } from './herald.ts';
import { distribution, round } from './stats.ts';

const USAGE =
  'usage: node --import tsx bench/publish-concurrency.ts [--clients N] [--seconds S] [--quota N] [--commit-delay-us N]';
const ROOT_TOKEN = 'bench-root-token';
const WARM_UP_MS = 1000;

function parse(argv: readonly string[]) {
  const options = { clients: 64, seconds: 10, quota: null as number | null, commitDelayUs: null as number | null };
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${argv[i]} needs a positive whole number\n${USAGE}`);
    if (argv[i] === '--clients') options.clients = value;
    else if (argv[i] === '--seconds') options.seconds = value;
    else if (argv[i] === '--quota') options.quota = value;
    else if (argv[i] === '--commit-delay-us') options.commitDelayUs = value;
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

async function execute(databaseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Herald applied this tree's migrations, not those of the checkout node_modules links to. */
async function checkMigrations(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const applied = (await client.query<{ name: string }>('SELECT name FROM herald_migrations ORDER BY version')).rows.map((r) => r.name);
    const ours = loadMigrations('postgres').map((m) => m.name);
    if (applied.join() !== ours.join()) {
      throw new Error(`Herald applied migrations [${applied.join(', ')}], this tree has [${ours.join(', ')}]: see the note on BENCH_HERALD_NODE_ARGS`);
    }
  } finally {
    await client.end();
  }
}

/** CPU time (ms) of the PostgreSQL backends connected to the bench's database (they live through the run). */
async function backendsCpuMs(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return rows.reduce((sum, row) => sum + (cpuMsOf(row.pid) ?? 0), 0);
  } finally {
    await client.end();
  }
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
  if (options.commitDelayUs !== null) {
    // Sessions opened from now on (all of Herald's) take the setting.
    await execute(database.url, `ALTER DATABASE "${new URL(database.url).pathname.slice(1)}" SET commit_delay = ${options.commitDelayUs}`);
  }
  const herald = await startHerald({
    databaseUrl: database.url,
    role: 'api',
    env: { HERALD_ROOT_TOKEN: ROOT_TOKEN, HERALD_ALLOW_PRIVATE_URLS: 'true' },
    expectBootstrap: true,
  });
  await checkMigrations(database.url);
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
  const before = { herald: herald.cpuMs(), postgres: await backendsCpuMs(database.url), bench: process.cpuUsage(), machine: machineCpu() };
  const startedAt = nowMs();
  const measured = await load(pool, api, options.clients, startedAt + options.seconds * 1000, 'run');
  const elapsedMs = nowMs() - startedAt;
  const benchCpu = process.cpuUsage(before.bench);
  const machine = machineCpu();
  const perCall = (ms: number) => round(ms / Math.max(1, measured.accepted), 3);
  const cpu = {
    herald: perCall(herald.cpuMs() - before.herald),
    postgres: perCall((await backendsCpuMs(database.url)) - before.postgres),
    bench: perCall((benchCpu.user + benchCpu.system) / 1000),
    machineBusy: Math.round((100 * (machine.busy - before.machine.busy)) / Math.max(1, machine.total - before.machine.total)),
  };
  await pool.close();

  const usage = await call(api, 'GET', '/v1/usage', { 'x-environment-id': envId, 'x-auth-token': key });
  const accepted = warmUp.accepted + measured.accepted;
  const calls = distribution(measured.callMs);
  process.stdout.write(
    `${options.clients} clients, ${options.seconds} s, quota ${options.quota ?? 'none'}` +
      `${options.commitDelayUs === null ? '' : `, commit_delay ${options.commitDelayUs} µs`}: ` +
      `${round(measured.accepted / (elapsedMs / 1000), 1)} calls/s, p50 ${round(calls.p50, 1)} ms, ` +
      `p99 ${round(calls.p99, 1)} ms, max ${round(calls.max, 1)} ms, failed ${measured.failed}\n` +
      `CPU per call: Herald ${cpu.herald} ms, PostgreSQL backends ${cpu.postgres} ms, this client ${cpu.bench} ms; ` +
      `machine ${cpu.machineBusy}% busy (all cores, everything running)\n` +
      `usage: ${String(usage.published)} published, ${accepted} accepted (warm-up included): ` +
      `${usage.published === accepted ? 'exact' : 'MISMATCH'}\n`,
  );
  for (const error of [...warmUp.errors, ...measured.errors]) process.stdout.write(`  error: ${error}\n`);
  // Herald logs (pino, level warn) go to stdout.
  const logged = `${herald.output()}\n${herald.errors()}`.split('\n').filter((line) => line.startsWith('{'));
  for (const line of logged.slice(0, 3)) process.stdout.write(`  Herald logged: ${line.slice(0, 1000)}\n`);
  await herald.stop();
  await database.drop();
  await shutdown(usage.published === accepted && measured.failed === 0 ? 0 : 1);
}

main().catch(fail);
