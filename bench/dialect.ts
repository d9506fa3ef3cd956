/**
 * Bench: everything on one dialect, back to back on ONE database as in production (the queue
 * table empties and refills between scenarios): Herald `--role all` → throughput, latency,
 * fan-out; then, on PostgreSQL, 1 `--role api` + 2 `--role worker` → throughput again.
 * A scenario that fails is recorded and the next one still runs.
 */
import { type Credentials, createEventType, createTopic, subscribe } from './api.ts';
import { createDatabase } from './database.ts';
import { type HeraldProcess, type Role, bootstrapCredentials, startHerald } from './herald.ts';
import type { Dialect } from './params.ts';
import {
  type FanoutResult,
  type LatencyResult,
  type Rig,
  type Run,
  type ThroughputResult,
  fanout,
  latency,
  settle,
  throughput,
} from './scenarios.ts';

export interface ProcessMemory {
  role: Role;
  scenario: string;
  peakRssMb: number;
}

export interface DialectResult {
  dialect: Dialect;
  throughput?: ThroughputResult;
  latency?: LatencyResult;
  fanout?: FanoutResult;
  multiProcess?: ThroughputResult;
  memory: ProcessMemory[];
  errors: string[];
  /** The first lines Herald wrote to stderr (warnings and errors), per process. */
  heraldStderr: string[];
}

function log(message: string): void {
  process.stdout.write(`  ${message}\n`);
}

async function step<T>(result: DialectResult, name: string, work: () => Promise<T>): Promise<T | undefined> {
  const started = Date.now();
  log(`${result.dialect}: ${name}…`);
  try {
    const value = await work();
    log(`${result.dialect}: ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return value;
  } catch (error) {
    const message = `${name}: ${(error as Error).message}`;
    result.errors.push(message);
    log(`${result.dialect}: FAILED ${message}`);
    return undefined;
  }
}

async function stopAll(result: DialectResult, scenario: string, heralds: HeraldProcess[]): Promise<void> {
  for (const herald of heralds) {
    result.memory.push({ role: herald.role, scenario, peakRssMb: Math.round(herald.peakRssMb()) });
    const stderr = herald.errors().trim();
    if (stderr) result.heraldStderr.push(`[${herald.role} ${herald.pid}] ${stderr.split('\n').slice(0, 10).join('\n')}`);
  }
  await Promise.all(heralds.map((h) => h.stop()));
}

export async function runDialect(dialect: Dialect, rig: Rig): Promise<DialectResult> {
  const result: DialectResult = { dialect, memory: [], errors: [], heraldStderr: [] };
  const { params } = rig;
  const env = {
    HERALD_ALLOW_PRIVATE_URLS: 'true',
    HERALD_MAX_EVENTS_PER_PUBLISH: String(params.herald.maxEventsPerPublish),
    HERALD_MAX_INFLIGHT_PER_SUBSCRIPTION: String(params.herald.maxInflightPerSubscription),
  };
  const database = await createDatabase(dialect);
  const heralds: HeraldProcess[] = [];
  try {
    const all = await startHerald({ databaseUrl: database.url, role: 'all', env, expectBootstrap: true });
    heralds.push(all);
    const { envId, key } = bootstrapCredentials(all.output());
    const api: Credentials = { origin: all.url as string, envId, key };
    await createEventType(api);
    await createTopic(api, 'bench');
    await subscribe(api, 'bench', 'receiver', `http://127.0.0.1:${rig.receiverPort}/bench`);
    const run: Run = { rig, api, heralds: [all] };

    result.throughput = await step(result, `throughput (${params.throughput.events} events)`, () =>
      throughput(run, 'bench', `tp-${dialect}`, params.throughput.events),
    );
    result.latency = await step(result, `latency (${params.latency.rate}/s for ${params.latency.durationMs / 1000} s)`, () =>
      latency(run, 'bench', `lat-${dialect}`, [result.throughput?.arrivals]),
    );
    result.fanout = await step(
      result,
      `fan-out (${params.fanout.subscriptions} subscriptions × ${params.fanout.events} events)`,
      () => fanout(run, 'fanout', `fo-${dialect}`, [result.throughput?.arrivals, result.latency?.arrivals]),
    );
    await step(result, 'final count of missing deliveries', () =>
      settle(run, [result.throughput?.arrivals, result.latency?.arrivals, result.fanout?.arrivals]),
    );
    await stopAll(result, 'single process (--role all)', heralds.splice(0));

    if (dialect === 'postgres') {
      result.multiProcess = await step(result, `multi-process throughput, 1 api + 2 workers (${params.throughput.events} events)`, async () => {
        const apiProcess = await startHerald({ databaseUrl: database.url, role: 'api', env });
        heralds.push(apiProcess);
        const workers = await Promise.allSettled([1, 2].map(() => startHerald({ databaseUrl: database.url, role: 'worker', env })));
        for (const w of workers) if (w.status === 'fulfilled') heralds.push(w.value);
        for (const w of workers) if (w.status === 'rejected') throw w.reason;
        const multi: Run = { rig, api: { ...api, origin: apiProcess.url as string }, heralds: [...heralds] };
        const measured = await throughput(multi, 'bench', `mp-${dialect}`, params.throughput.events);
        await settle(multi, [measured.arrivals]);
        return measured;
      });
      await stopAll(result, 'multi-process (1 api + 2 workers)', heralds.splice(0));
    }
  } catch (error) {
    result.errors.push((error as Error).message);
    log(`${dialect}: FAILED ${(error as Error).message}`);
  } finally {
    await stopAll(result, 'after error', heralds.splice(0));
    await database.drop().catch((error: unknown) => result.errors.push(`dropping the database: ${(error as Error).message}`));
  }
  return result;
}
