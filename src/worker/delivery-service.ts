/**
 * The delivery side of a Herald process: the worker that claims, sends and settles, and the
 * maintenance beside it (lease reaper, operational events, failure emails, retention): what `herald serve`
 * runs for `--role worker` and `--role all`.
 */
import { hostname } from 'node:os';
import { systemClock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { CoreDeps } from '../core/deps.ts';
import { ThreadedSender } from '../delivery/threaded-sender.ts';
import { newId } from '../ids.ts';
import { Maintenance } from './maintenance.ts';
import { DEFAULT_CONCURRENCY, Worker } from './worker.ts';

export interface DeliveryService {
  stop(): Promise<void>;
}

export interface DeliveryServiceOptions {
  config: Config;
  deps: CoreDeps;
  userAgent: string;
}

export async function startDeliveryService(options: DeliveryServiceOptions): Promise<DeliveryService> {
  const { config, deps, userAgent } = options;
  const store = deps.store;
  await store.queue.recover(systemClock.now());
  // As many connections per origin as the worker has requests in flight: a smaller pool held
  // every subscription to 64 in flight, whatever HERALD_MAX_INFLIGHT_PER_SUBSCRIPTION said.
  const sender = new ThreadedSender({
    allowPrivateUrls: config.allowPrivateUrls,
    userAgent,
    connectionsPerOrigin: DEFAULT_CONCURRENCY,
  });
  const maintenance = new Maintenance({
    deps,
    config,
    onError: (error) => process.stderr.write(`herald maintenance: ${(error as Error).stack ?? String(error)}\n`),
  });
  const worker = new Worker({
    // The registry-caching store: a settle that disables a subscription drops its environment.
    store,
    clock: systemClock,
    sender,
    secrets: deps.delivery.secrets,
    wakeup: deps.delivery.wakeup,
    workerId: `${hostname()}:${process.pid}:${newId('msg').slice(4)}`,
    retryScheduleMs: config.retryScheduleMs,
    userAgent,
    perSubscriptionCap: config.maxInflightPerSubscription,
    leaseMs: config.leaseMs,
    onReport: (report) => maintenance.afterAttempt(report),
    onError: (error) => process.stderr.write(`herald worker: ${(error as Error).stack ?? String(error)}\n`),
  });
  worker.start();
  maintenance.start();
  return {
    stop: async () => {
      await worker.stop();
      await maintenance.stop();
      await sender.close();
    },
  };
}
