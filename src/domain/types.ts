/**
 * Glossary (see ../shared/SPEC.md §1):
 * - Environment: an isolated tenant space; every other record belongs to exactly one.
 * - ApiKey: a secret acting inside one environment with a Role and optional permissions.
 * - Category: a named group of event types.
 * - EventType: a named kind of occurrence with an optional JSON Schema for its `data`.
 * - App: a publisher application: display name + permissions a subscriber key needs for its topics.
 * - Topic: a named set of event types that can be subscribed to; may be owned by an App.
 * - Event: one published occurrence; immutable once accepted.
 * - Usage: events accepted in one environment in one calendar month (UTC), for the quota.
 *
 * Times are milliseconds since the epoch everywhere inside Herald; the HTTP layer presents them
 * as RFC 3339 strings.
 */

export type Role = 'admin' | 'publisher' | 'subscriber';
export const ROLES: readonly Role[] = ['admin', 'publisher', 'subscriber'];

export interface Environment {
  id: string;
  name: string;
  /** Events accepted per calendar month (UTC); null = unlimited. */
  monthlyEventQuota: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface ApiKey {
  id: string;
  environmentId: string;
  name: string;
  role: Role;
  permissions: string[];
  createdAt: number;
}

/** An ApiKey as stored: the secret itself is never kept, only its SHA-256. */
export interface StoredApiKey extends ApiKey {
  secretHash: Buffer;
}

export interface Category {
  name: string;
  description: string | null;
  createdAt: number;
  updatedAt: number;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface EventType {
  name: string;
  description: string | null;
  category: string | null;
  schema: JsonObject | null;
  example: JsonValue | undefined;
  /** 1 on creation; +1 on each change of `schema`. */
  schemaVersion: number;
  archivedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface App {
  id: string;
  name: string;
  permissions: string[];
  createdAt: number;
  updatedAt: number;
}

export interface Topic {
  name: string;
  description: string | null;
  eventTypes: string[];
  appId: string | null;
  createdAt: number;
  updatedAt: number;
}

/** One accepted event as stored. `data` is kept as the JSON text the publisher sent, parsed once. */
export interface StoredEvent {
  id: string;
  type: string;
  source: string | null;
  subject: string | null;
  /** When the event occurred (publisher's `time`, else acceptance time). */
  time: number;
  /** The JSON text of `data` (`null` when the publisher sent none). */
  dataJson: string;
  context: string[];
  /** The topic named by a topic publish; null for `/v1/events/publish`. */
  topic: string | null;
  /** The earliest time delivery may start (`timestamp` + `delay`, else acceptance time). */
  deliverAt: number;
  cancelledAt: number | null;
  createdAt: number;
}

export interface Usage {
  /** `YYYY-MM`, UTC. */
  month: string;
  published: number;
  quota: number | null;
  /** Start of the next month, UTC, ms. */
  resetsAt: number;
}

/** A position in a list: the sort key of the last item seen. */
export type PageKey = readonly (string | number)[];

/** A page of a list; `nextAfter` is the key to continue after, null on the last page. */
export interface Page<T> {
  data: T[];
  nextAfter: PageKey | null;
}

export interface PageRequest {
  limit: number;
  after: PageKey | null;
}

// ── delivery ──────────────────────────────────────────────────────────────────
/*
 * - Subscription: a webhook on a topic: which events, URL, headers, secrets, retry and timeout policy.
 * - Delivery: one event on its way to one subscription; the deliveries table is the queue.
 * - Attempt: one HTTP request of a delivery; append-only.
 */

export type SubscriptionFormat = 'cloudevents' | 'data';
export type SubscriptionStatus = 'enabled' | 'disabled';
export type DisabledReason = 'manual' | 'failures' | 'gone';
/** `fifo`: one delivery in flight at a time, in publish order; `unordered`: no such limit. */
export type SubscriptionOrdering = 'unordered' | 'fifo';
/** Events aggregated into one request: at most `maxEvents` (1..1000), held at most `maxWaitMs` (0..60000). */
export interface SubscriptionBatch {
  maxEvents: number;
  maxWaitMs: number;
}

export interface Subscription {
  id: string;
  topic: string;
  name: string;
  description: string | null;
  customId: string | null;
  metadata: Record<string, string>;
  /** Event type names of the topic, or `*`. */
  events: string[];
  url: string;
  format: SubscriptionFormat;
  /** null: one event per request. */
  batch: SubscriptionBatch | null;
  headers: Record<string, string>;
  secretHeaderName: string | null;
  secretHeaderValue: string | null;
  maxRetries: number;
  timeoutMs: number;
  /** Requests spaced at least 1/rate seconds apart (0.01..10000, fractions allowed); null = unlimited. */
  rateLimitPerSecond: number | null;
  ordering: SubscriptionOrdering;
  failureEmail: string | null;
  language: string;
  status: SubscriptionStatus;
  disabledReason: DisabledReason | null;
  disableAfterFailures: number;
  /** Exhausted deliveries in a row; a success resets it. */
  consecutiveFailures: number;
  /** `whsec_…`, in clear here; the store may hold it encrypted. */
  signingSecret: string;
  /** The secret before the last rotation; it keeps signing until `previousSecretExpiresAt`. */
  previousSigningSecret: string | null;
  previousSecretExpiresAt: number | null;
  version: number;
  /** When the last failure email went out (one per hour at most). */
  lastEmailAt: number | null;
  /**
   * The view (role, permissions) of the key that created it or last changed `url`: whoever chose
   * where it goes. On `herald.operational` it receives only events about topics this view may see
   * (domain/visibility.ts). Internal: not shown by the API.
   */
  scope: Pick<ApiKey, 'role' | 'permissions'>;
  createdAt: number;
  updatedAt: number;
}

export type DeliveryStatus = 'scheduled' | 'pending' | 'delivering' | 'succeeded' | 'failed' | 'cancelled';

export interface Delivery {
  id: string;
  eventId: string;
  subscriptionId: string;
  topic: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  /** The batch (`bat_…`) it goes out in, from when the batch is formed; its attempts are the batch's. */
  batchId: string | null;
  createdAt: number;
}

/** Why an attempt failed; `secret_unavailable`: not sent, a secret it needs cannot be decrypted. */
export type AttemptErrorKind =
  | 'timeout'
  | 'dns'
  | 'refused'
  | 'tls'
  | 'network'
  | 'blocked_url'
  | 'transform'
  | 'http_status'
  | 'secret_unavailable';

export interface Attempt {
  id: string;
  deliveryId: string;
  subscriptionId: string;
  number: number;
  startedAt: number;
  durationMs: number;
  requestHeaders: Record<string, string>;
  responseStatus: number | null;
  responseBody: string | null;
  error: { kind: AttemptErrorKind; message: string } | null;
  outcome: 'succeeded' | 'failed';
}
