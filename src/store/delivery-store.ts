/**
 * The delivery half of the Store interface: subscriptions, deliveries as the API and fan-out see
 * them, and the attempt log. Claiming, leases and settling are the queue's (src/queue/).
 */
import type {
  Attempt,
  Delivery,
  DeliveryStatus,
  Page,
  PageRequest,
  StoredEvent,
  Subscription,
} from '../domain/types.ts';
import type { Breaker } from '../domain/circuit-breaker.ts';
import type { Viewer } from '../domain/visibility.ts';

export interface SubscriptionFilter {
  topic?: string;
  customId?: string;
  /** Only subscriptions on these topics (a subscriber key's visible topics). */
  topics?: readonly string[];
}

/** A delivery to create with its event (fan-out), or on replay. */
export interface NewDelivery {
  id: string;
  eventId: string;
  subscriptionId: string;
  topic: string;
  /** `scheduled` when it may not start before `nextAttemptAt`, else `pending`. */
  status: 'pending' | 'scheduled';
  nextAttemptAt: number;
  createdAt: number;
  /** To a FIFO subscription: the publish locks its lane (see FanoutTarget.ordering). */
  fifo?: boolean;
}

/** An enabled subscription as fan-out needs it. */
export interface FanoutTarget {
  id: string;
  topic: string;
  events: string[];
  /** Subscription.scope: what operational events it may receive. */
  scope: Viewer;
  /** A FIFO subscription's lane is locked while a publish adds to it, so its order is commit order. */
  ordering: 'unordered' | 'fifo';
}

export interface DeliveryFilter {
  eventId?: string;
  subscriptionId?: string;
  status?: DeliveryStatus;
}

export interface SubscriptionStats {
  counts: Record<DeliveryStatus, number>;
  lastAttemptAt: number | null;
  /** Durations of the most recent attempts (newest first), for percentiles. */
  recentDurationsMs: number[];
  succeededAttempts: number;
  failedAttempts: number;
  /** Its lane's circuit breaker (domain/circuit-breaker.ts). */
  breaker: Breaker;
}

/** Where a retention pass stands: the environment and table it is on, and the last row it looked at. */
export interface PruneCursor {
  environmentId: string;
  /** A pass prunes each environment's deliveries (with their attempts), then its events. */
  table: 'deliveries' | 'events';
  createdAt: number;
  id: string;
}

/** What one retention round deleted, and where the next round starts (null: the pass is over). */
export interface PruneRound {
  deliveries: number;
  attempts: number;
  events: number;
  next: PruneCursor | null;
}

export interface DeliveryStore {
  /** False when the name is taken in the topic. */
  insertSubscription(environmentId: string, subscription: Subscription): Promise<boolean>;
  listSubscriptions(environmentId: string, filter: SubscriptionFilter, page: PageRequest): Promise<Page<Subscription>>;
  getSubscription(environmentId: string, id: string): Promise<Subscription | null>;
  /**
   * Writes `subscription` (whose `version` is the new one) only if the stored version is
   * `expectedVersion`. The failure count and email bookkeeping belong to the worker, which moves
   * them without a version bump: they are written only when `resetFailures` sets the count to 0.
   */
  updateSubscription(
    environmentId: string,
    subscription: Subscription,
    expectedVersion: number,
    options?: { resetFailures?: boolean },
  ): Promise<'updated' | 'stale' | 'name_taken'>;
  /** Removes the subscription; its deliveries not yet sent are cancelled, the log stays. */
  deleteSubscription(environmentId: string, id: string, now: number): Promise<boolean>;
  /** Enabled subscriptions of the topics, for fan-out. */
  fanoutTargets(environmentId: string, topics: readonly string[]): Promise<FanoutTarget[]>;
  /** Marks that a failure summary email is owed (keeps the latest mark). */
  markEmailPending(environmentId: string, subscriptionId: string, since: number): Promise<void>;
  /** Subscriptions owed an email whose hourly budget allows one now. */
  subscriptionsOwedEmail(lastEmailBefore: number, limit: number): Promise<{ environmentId: string; subscription: Subscription }[]>;
  /**
   * Takes the hourly email budget (sets last_email_at = `at`) if it is still free; false when
   * another process took it first, so two workers never send the same summary.
   */
  claimEmailBudget(environmentId: string, subscriptionId: string, at: number, lastEmailBefore: number): Promise<boolean>;
  /**
   * Records a summary sent, put together at `at` (taken before reading what it reports): marks
   * made after `at` stay owed for the next one, so nothing that happened mid-send is dropped.
   */
  recordEmailSent(environmentId: string, subscriptionId: string, at: number): Promise<void>;

  /** Inserts deliveries (replay, operational events). */
  insertDeliveries(environmentId: string, deliveries: readonly NewDelivery[]): Promise<void>;

  /**
   * One short round of retention, in its own transaction: looks at the next `limit` rows (after
   * `cursor`; null starts a pass) created before `horizon` and deletes those that may go. A
   * delivery may go when its status is final (domain/delivery-status.ts), and its attempts go with
   * it; an event may go when no delivery of it is left. Safe to run in several processes at once:
   * rows another pruner holds are skipped, and the counts are of rows this call deleted.
   */
  pruneRound(horizon: number, limit: number, cursor: PruneCursor | null): Promise<PruneRound>;

  getDelivery(environmentId: string, id: string): Promise<Delivery | null>;
  listDeliveries(environmentId: string, filter: DeliveryFilter, page: PageRequest): Promise<Page<Delivery>>;
  listAttempts(environmentId: string, deliveryId: string, page: PageRequest): Promise<Page<Attempt>>;
  /** Puts a finished delivery back in the queue now; false when it is not finished. */
  requeueDelivery(environmentId: string, id: string, now: number): Promise<boolean>;
  /** Cancels the event's deliveries that have not started; how many. */
  cancelScheduledDeliveries(environmentId: string, eventId: string, now: number): Promise<number>;
  /** Events of `topic` accepted in [since, until), optionally only those whose delivery to the subscription failed. */
  eventsForReplay(
    environmentId: string,
    subscription: { id: string; topic: string },
    range: { since: number; until: number; onlyFailed: boolean },
    limit: number,
  ): Promise<StoredEvent[]>;
  subscriptionStats(environmentId: string, subscriptionId: string): Promise<SubscriptionStats>;
}
