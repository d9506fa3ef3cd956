/** The use-cases' dependencies built from the configuration: shared by the server and the CLI. */
import { systemClock } from './clock.ts';
import type { Config } from './config.ts';
import type { CoreDeps } from './core/deps.ts';
import { SchemaThreads } from './core/schemas/schema-threads.ts';
import { Sender } from './delivery/send.ts';
import { LocalWakeup, type Wakeup } from './queue/wakeup.ts';
import { makeSecretBox } from './secret-box.ts';
import { withRegistryCache } from './store/registry-cache.ts';
import type { Store } from './store/store.ts';
import { VERSION } from './version.ts';

export const USER_AGENT = `Herald/${VERSION}`;

export function coreDepsFor(
  config: Config,
  store: Store,
  wakeup: Wakeup = new LocalWakeup(),
): CoreDeps {
  return {
    store: withRegistryCache(store),
    clock: systemClock,
    limits: {
      maxEventDataBytes: config.maxEventDataBytes,
      maxEventsPerPublish: config.maxEventsPerPublish,
      maxDeliveriesPerPublish: config.maxDeliveriesPerPublish,
    },
    defaultMonthlyEventQuota: config.monthlyEventQuota,
    schemas: new SchemaThreads({ timeoutMs: config.schemaTimeoutMs, threads: config.schemaThreads }),
    delivery: {
      allowPrivateUrls: config.allowPrivateUrls,
      secrets: makeSecretBox(config.encryptionKey),
      sender: new Sender({ allowPrivateUrls: config.allowPrivateUrls, userAgent: USER_AGENT }),
      wakeup,
      userAgent: USER_AGENT,
    },
  };
}
