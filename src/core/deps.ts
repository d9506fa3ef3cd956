import type { Clock } from '../clock.ts';
import type { Store } from '../store/store.ts';

/** What every use-case needs; built once in main.ts (or a test) and passed down. */
export interface CoreDeps {
  store: Store;
  clock: Clock;
  limits: {
    /** One event's serialised `data`, bytes. */
    maxEventDataBytes: number;
    maxEventsPerPublish: number;
  };
  /** HERALD_MONTHLY_EVENT_QUOTA: the quota of environments created without one; null = unlimited. */
  defaultMonthlyEventQuota: number | null;
}
