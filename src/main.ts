/**
 * `herald serve`: loadConfig → openStore → migrate → bootstrap → start the HTTP API.
 * Returns a handle so tests (and the CLI's signal handlers) can stop it cleanly.
 */
import { systemClock } from './clock.ts';
import type { Config } from './config.ts';
import type { CoreDeps } from './core/deps.ts';
import { bootstrapDefaultEnvironment } from './core/environments.ts';
import { buildApp } from './http/app.ts';
import { openStore } from './store/open-store.ts';
import type { Store } from './store/store.ts';

export interface RunningServer {
  /** The port actually bound (HERALD_PORT=0 picks a free one). */
  port: number;
  stop(): Promise<void>;
}

export function coreDepsFor(config: Config, store: Store): CoreDeps {
  return {
    store,
    clock: systemClock,
    limits: { maxEventDataBytes: config.maxEventDataBytes, maxEventsPerPublish: config.maxEventsPerPublish },
    defaultMonthlyEventQuota: config.monthlyEventQuota,
  };
}

/** Prints the first-start credentials once, to stdout only (never through the logger). */
function announceBootstrap(config: Config, environmentId: string, adminKey: string, port: number): void {
  process.stdout.write(
    [
      'Herald created environment "default" on first start. Keep this key: it is shown only once.',
      `HERALD_ENV_ID=${environmentId}`,
      `HERALD_ADMIN_KEY=${adminKey}`,
      `Portal: ${config.publicUrl}/portal  API docs: http://localhost:${port}/docs`,
      '',
    ].join('\n'),
  );
}

export async function serve(config: Config): Promise<RunningServer> {
  const store = openStore(config.databaseUrl);
  await store.migrate();
  const deps = coreDepsFor(config, store);
  const bootstrapped = await bootstrapDefaultEnvironment(deps);
  const app = await buildApp({
    deps,
    rootToken: config.rootToken,
    maxBodyBytes: config.maxBodyBytes,
    logLevel: config.logLevel === 'silent' ? false : config.logLevel,
  });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  if (bootstrapped) announceBootstrap(config, bootstrapped.environment.id, bootstrapped.adminKey, port);
  return {
    port,
    stop: async () => {
      await app.close();
      await store.close();
    },
  };
}
