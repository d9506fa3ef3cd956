/**
 * `herald serve`: loadConfig → openStore → migrate → bootstrap → start the role's services:
 * `api` (HTTP), `worker` (delivery), or `all` (both, the default).
 */
import { hostname } from 'node:os';
import { systemClock } from './clock.ts';
import type { Config } from './config.ts';
import type { CoreDeps } from './core/deps.ts';
import { bootstrapDefaultEnvironment } from './core/environments.ts';
import { Sender } from './delivery/send.ts';
import { buildApp } from './http/app.ts';
import { newId } from './ids.ts';
import { LocalWakeup, PostgresWakeup, type Wakeup } from './queue/wakeup.ts';
import { makeSecretBox } from './secret-box.ts';
import { openStore } from './store/open-store.ts';
import { withRegistryCache } from './store/registry-cache.ts';
import type { Store } from './store/store.ts';
import { VERSION } from './version.ts';
import { Maintenance } from './worker/maintenance.ts';
import { DEFAULT_CONCURRENCY, Worker } from './worker/worker.ts';

export type Role = 'api' | 'worker' | 'all';
export const SERVE_ROLES: readonly Role[] = ['api', 'worker', 'all'];

export interface RunningServer {
  /** The port bound (HERALD_PORT=0 picks a free one); null for a worker. */
  port: number | null;
  stop(): Promise<void>;
}

export const USER_AGENT = `Herald/${VERSION}`;

export function coreDepsFor(config: Config, store: Store, wakeup: Wakeup = new LocalWakeup()): CoreDeps {
  return {
    store: withRegistryCache(store),
    clock: systemClock,
    limits: { maxEventDataBytes: config.maxEventDataBytes, maxEventsPerPublish: config.maxEventsPerPublish },
    defaultMonthlyEventQuota: config.monthlyEventQuota,
    delivery: {
      allowPrivateUrls: config.allowPrivateUrls,
      secrets: makeSecretBox(config.encryptionKey),
      sender: new Sender({ allowPrivateUrls: config.allowPrivateUrls, userAgent: USER_AGENT }),
      wakeup,
      userAgent: USER_AGENT,
    },
  };
}

/** Prints the first-start credentials once, to stdout only (never through the logger). */
function announceBootstrap(config: Config, environmentId: string, adminKey: string, port: number | null): void {
  process.stdout.write(
    [
      'Herald created environment "default" on first start. Keep this key: it is shown only once.',
      `HERALD_ENV_ID=${environmentId}`,
      `HERALD_ADMIN_KEY=${adminKey}`,
      `Portal: ${config.publicUrl}/portal${port !== null ? `  API docs: http://localhost:${port}/docs` : ''}`,
      '',
    ].join('\n'),
  );
}

async function openWakeup(config: Config, store: Store, role: Role): Promise<Wakeup> {
  if (store.dialect === 'postgres') return PostgresWakeup.open(config.databaseUrl, role !== 'api');
  return new LocalWakeup();
}

export async function serve(config: Config, role: Role = 'all'): Promise<RunningServer> {
  const store = openStore(config.databaseUrl);
  await store.migrate();
  const wakeup = await openWakeup(config, store, role);
  const deps = coreDepsFor(config, store, wakeup);
  const bootstrapped = await bootstrapDefaultEnvironment(deps);
  const stops: (() => Promise<void>)[] = [];

  let port: number | null = null;
  if (role !== 'worker') {
    const app = await buildApp({
      deps,
      rootToken: config.rootToken,
      maxBodyBytes: config.maxBodyBytes,
      logLevel: config.logLevel === 'silent' ? false : config.logLevel,
    });
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : config.port;
    stops.push(() => app.close());
  }

  if (role !== 'api') {
    // One process owns a SQLite queue: whatever was in flight when it stopped is due again now.
    if (store.dialect === 'sqlite') await store.releaseLeases(systemClock.now(), true);
    // As many connections per origin as the worker has requests in flight: a smaller pool held
    // every subscription to 64 in flight, whatever HERALD_MAX_INFLIGHT_PER_SUBSCRIPTION said.
    const sender = new Sender({
      allowPrivateUrls: config.allowPrivateUrls,
      userAgent: USER_AGENT,
      connectionsPerOrigin: DEFAULT_CONCURRENCY,
    });
    const maintenance = new Maintenance({ deps, config });
    const worker = new Worker({
      store,
      clock: systemClock,
      sender,
      secrets: deps.delivery.secrets,
      wakeup,
      workerId: `${hostname()}:${process.pid}:${newId('msg').slice(4)}`,
      retryScheduleMs: config.retryScheduleMs,
      userAgent: USER_AGENT,
      perSubscriptionCap: config.maxInflightPerSubscription,
      leaseMs: config.leaseMs,
      onReport: (report) => maintenance.afterAttempt(report),
      onError: (error) => process.stderr.write(`herald worker: ${(error as Error).stack ?? String(error)}\n`),
    });
    worker.start();
    maintenance.start();
    stops.push(async () => {
      await worker.stop();
      await maintenance.stop();
      await sender.close();
    });
  }

  if (bootstrapped) announceBootstrap(config, bootstrapped.environment.id, bootstrapped.adminKey, port);
  return {
    port,
    stop: async () => {
      for (const stop of stops) await stop();
      await deps.delivery.sender.close();
      await wakeup.close();
      await store.close();
    },
  };
}
