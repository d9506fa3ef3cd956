/**
 * `herald serve`: loadConfig → openStore → migrate → bootstrap → start the role's services:
 * `api` (HTTP), `worker` (delivery), or `all` (both, the default).
 */
import type { Config } from './config.ts';
import { USER_AGENT, coreDepsFor } from './core-deps.ts';
import { bootstrapDefaultEnvironment } from './core/environments.ts';
import { buildApp } from './http/app.ts';
import { LocalWakeup, PostgresWakeup, type Wakeup } from './queue/wakeup.ts';
import { openStore } from './store/open-store.ts';
import type { Store } from './store/store.ts';
import { startDeliveryService } from './worker/delivery-service.ts';

export type Role = 'api' | 'worker' | 'all';
export const SERVE_ROLES: readonly Role[] = ['api', 'worker', 'all'];

export interface RunningServer {
  /** The port bound (HERALD_PORT=0 picks a free one); null for a worker. */
  port: number | null;
  stop(): Promise<void>;
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
      limits: config.httpLimits,
      logLevel: config.logLevel === 'silent' ? false : config.logLevel,
    });
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : config.port;
    stops.push(() => app.close());
  }

  if (role !== 'api') {
    const delivery = await startDeliveryService({ config, deps, userAgent: USER_AGENT });
    stops.push(() => delivery.stop());
  }

  if (bootstrapped) announceBootstrap(config, bootstrapped.environment.id, bootstrapped.adminKey, port);
  return {
    port,
    stop: async () => {
      for (const stop of stops) await stop();
      await deps.delivery.sender.close();
      await deps.schemas.close();
      await wakeup.close();
      await store.close();
    },
  };
}
