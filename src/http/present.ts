/** Domain → JSON as the API shows it: times as RFC 3339, stored JSON parsed back. */
import { UNAVAILABLE_SECRET } from '../core/subscription-secrets.ts';
import type {
  ApiKey,
  App,
  Attempt,
  Category,
  Delivery,
  Environment,
  EventType,
  StoredEvent,
  Topic,
  Usage,
} from '../domain/types.ts';

export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export const presentEnvironment = (e: Environment) => ({
  id: e.id,
  name: e.name,
  monthlyEventQuota: e.monthlyEventQuota,
  createdAt: iso(e.createdAt),
  updatedAt: iso(e.updatedAt),
});

export const presentApiKey = (k: ApiKey) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  permissions: k.permissions,
  createdAt: iso(k.createdAt),
});

export const presentCategory = (c: Category) => ({
  name: c.name,
  description: c.description,
  createdAt: iso(c.createdAt),
  updatedAt: iso(c.updatedAt),
});

export const presentEventType = (t: EventType) => ({
  name: t.name,
  description: t.description,
  category: t.category,
  schema: t.schema,
  example: t.example ?? null,
  schemaVersion: t.schemaVersion,
  archived: t.archivedAt !== null,
  archivedAt: isoOrNull(t.archivedAt),
  createdAt: iso(t.createdAt),
  updatedAt: iso(t.updatedAt),
});

export const presentApp = (a: App) => ({
  id: a.id,
  name: a.name,
  permissions: a.permissions,
  createdAt: iso(a.createdAt),
  updatedAt: iso(a.updatedAt),
});

export const presentTopic = (t: Topic) => ({
  name: t.name,
  description: t.description,
  eventTypes: t.eventTypes,
  appId: t.appId,
  createdAt: iso(t.createdAt),
  updatedAt: iso(t.updatedAt),
});

export const presentEvent = (e: StoredEvent) => ({
  id: e.id,
  type: e.type,
  source: e.source,
  subject: e.subject,
  time: iso(e.time),
  data: JSON.parse(e.dataJson) as unknown,
  context: e.context,
  topic: e.topic,
  deliverAt: iso(e.deliverAt),
  cancelledAt: isoOrNull(e.cancelledAt),
  createdAt: iso(e.createdAt),
});

export const presentUsage = (u: Usage) => ({
  month: u.month,
  published: u.published,
  quota: u.quota,
  resetsAt: iso(u.resetsAt),
});

// ── subscriptions ─────────────────────────────────────────────────────────────
// Types imported inline: this block is appended to the file, below its imports.
type Subscription = import('../domain/types.ts').Subscription;
type TestAttempt = import('../core/subscription-test-send.ts').TestAttempt;

/** What a masked `secretHeaderValue` reads as. */
export const MASKED_SECRET = '********';

export interface SubscriptionView {
  /** Show `secretHeaderValue` in clear (single-subscription answers to keys that manage it); else masked. */
  revealSecretHeader: boolean;
  /** Include `signingSecret` (the creation answer only; later, GET /v1/subscriptions/{id}/secret). */
  withSigningSecret?: boolean;
}

/** The static secret header's value as shown; one that cannot be decrypted says so to every reader. */
function shownSecretHeader(value: string | null, view: SubscriptionView): string | null {
  if (value === null) return null;
  if (value === UNAVAILABLE_SECRET) return UNAVAILABLE_SECRET;
  return view.revealSecretHeader ? value : MASKED_SECRET;
}

/** A subscription (secrets in clear) as the API shows it; `enabled` is input only and reads back as `status`. */
export const presentSubscription = (s: Subscription, view: SubscriptionView) => ({
  id: s.id,
  topic: s.topic,
  name: s.name,
  description: s.description,
  customId: s.customId,
  metadata: s.metadata,
  events: s.events,
  url: s.url,
  format: s.format,
  batch: s.batch,
  headers: s.headers,
  secretHeaderName: s.secretHeaderName,
  secretHeaderValue: shownSecretHeader(s.secretHeaderValue, view),
  maxRetries: s.maxRetries,
  timeoutMs: s.timeoutMs,
  rateLimitPerSecond: s.rateLimitPerSecond,
  ordering: s.ordering,
  failureEmail: s.failureEmail,
  language: s.language,
  status: s.status,
  disabledReason: s.disabledReason,
  disableAfterFailures: s.disableAfterFailures,
  consecutiveFailures: s.consecutiveFailures,
  version: s.version,
  ...(view.withSigningSecret ? { signingSecret: s.signingSecret } : {}),
  createdAt: iso(s.createdAt),
  updatedAt: iso(s.updatedAt),
});

export const presentDelivery = (d: Delivery) => ({
  id: d.id,
  eventId: d.eventId,
  subscriptionId: d.subscriptionId,
  topic: d.topic,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: isoOrNull(d.nextAttemptAt),
  lastAttemptAt: isoOrNull(d.lastAttemptAt),
  batchId: d.batchId,
  createdAt: iso(d.createdAt),
});

/** An attempt; a `test` send's attempt is never stored and belongs to no delivery (`deliveryId: null`). */
export const presentAttempt = (a: Attempt | TestAttempt) => ({
  id: a.id,
  deliveryId: a.deliveryId,
  number: a.number,
  startedAt: iso(a.startedAt),
  durationMs: a.durationMs,
  requestHeaders: a.requestHeaders,
  responseStatus: a.responseStatus,
  responseBody: a.responseBody,
  error: a.error,
  outcome: a.outcome,
});
