import type { Clock } from '../clock.ts';
import type { Sender } from '../delivery/send.ts';
import type { Lookup } from '../delivery/url-guard.ts';
import type { Wakeup } from '../queue/wakeup.ts';
import type { SecretBox } from '../secret-box.ts';
import type { Store } from '../store/store.ts';
import type { SchemaThreads } from './schemas/schema-threads.ts';

/** What every use-case needs; built once in main.ts (or a test) and passed down. */
export interface CoreDeps {
  store: Store;
  clock: Clock;
  limits: {
    /** One event's serialised `data`, bytes. */
    maxEventDataBytes: number;
    maxEventsPerPublish: number;
    /** Deliveries one publish call may create (events × matching subscriptions). */
    maxDeliveriesPerPublish: number;
  };
  /** HERALD_MONTHLY_EVENT_QUOTA: the quota of environments created without one; null = unlimited. */
  defaultMonthlyEventQuota: number | null;
  delivery: DeliveryDeps;
  /** Checks and applies event types' JSON Schemas off the main thread, under a time limit. */
  schemas: SchemaThreads;
}

export interface DeliveryDeps {
  /** HERALD_ALLOW_PRIVATE_URLS. */
  allowPrivateUrls: boolean;
  /** Name resolution for the URL guard at creation (tests inject one; default: the system's). */
  lookup?: Lookup;
  /** Seals subscription secrets at rest (HERALD_ENCRYPTION_KEY). */
  secrets: SecretBox;
  /** Sends `test` requests (the worker has its own). */
  sender: Sender;
  /** Tells workers new deliveries are queued. */
  wakeup: Wakeup;
  userAgent: string;
}
