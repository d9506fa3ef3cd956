/** Row ↔ domain conversions for subscriptions, deliveries and attempts. */
import type {
  Attempt,
  AttemptErrorKind,
  Delivery,
  DeliveryStatus,
  DisabledReason,
  Subscription,
  SubscriptionBatch,
  SubscriptionFormat,
  SubscriptionOrdering,
  SubscriptionStatus,
} from '../domain/types.ts';
import { type Viewer, fullView } from '../domain/visibility.ts';
import type { ClaimedDelivery } from '../queue/queue.ts';
import type { FanoutTarget, NewDelivery } from './delivery-store.ts';
import type { AttemptsTable, DeliveriesTable, SubscriptionsTable } from './schema.ts';

/**
 * A subscription's scope in its column: a subscriber's permissions, or null for a view of
 * everything. Rows written before the column existed hold null: they keep receiving what they did.
 */
const scopeFromColumn = (json: string | null): Viewer =>
  json === null ? fullView() : { role: 'subscriber', permissions: JSON.parse(json) as string[] };

const scopeToColumn = (scope: Viewer): string | null =>
  scope.role === 'subscriber' ? JSON.stringify(scope.permissions) : null;

/** Batching in its two columns: both null, or both set (the API takes both or none). */
const batchFromColumns = (maxEvents: number | null, maxWaitMs: number | null): SubscriptionBatch | null =>
  maxEvents === null || maxWaitMs === null ? null : { maxEvents, maxWaitMs };

export const subscriptionFromRow = (row: SubscriptionsTable): Subscription => ({
  id: row.id,
  topic: row.topic,
  name: row.name,
  description: row.description,
  customId: row.custom_id,
  metadata: JSON.parse(row.metadata_json) as Record<string, string>,
  events: JSON.parse(row.events_json) as string[],
  url: row.url,
  format: row.format as SubscriptionFormat,
  batch: batchFromColumns(row.batch_max_events, row.batch_max_wait_ms),
  headers: JSON.parse(row.headers_json) as Record<string, string>,
  secretHeaderName: row.secret_header_name,
  secretHeaderValue: row.secret_header_value,
  maxRetries: row.max_retries,
  timeoutMs: row.timeout_ms,
  rateLimitPerSecond: row.rate_limit_per_second,
  ordering: row.ordering as SubscriptionOrdering,
  failureEmail: row.failure_email,
  language: row.language,
  status: row.status as SubscriptionStatus,
  disabledReason: row.disabled_reason as DisabledReason | null,
  disableAfterFailures: row.disable_after_failures,
  consecutiveFailures: row.consecutive_failures,
  signingSecret: row.signing_secret,
  previousSigningSecret: row.previous_signing_secret,
  previousSecretExpiresAt: row.previous_secret_expires_at,
  version: row.version,
  lastEmailAt: row.last_email_at,
  scope: scopeFromColumn(row.scope_permissions_json),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** All columns but the email bookkeeping, which only the notifier writes. */
export const subscriptionToRow = (
  environmentId: string,
  s: Subscription,
): Omit<SubscriptionsTable, 'email_pending_since'> => ({
  environment_id: environmentId,
  id: s.id,
  topic: s.topic,
  name: s.name,
  description: s.description,
  custom_id: s.customId,
  metadata_json: JSON.stringify(s.metadata),
  events_json: JSON.stringify(s.events),
  url: s.url,
  format: s.format,
  batch_max_events: s.batch?.maxEvents ?? null,
  batch_max_wait_ms: s.batch?.maxWaitMs ?? null,
  headers_json: JSON.stringify(s.headers),
  secret_header_name: s.secretHeaderName,
  secret_header_value: s.secretHeaderValue,
  max_retries: s.maxRetries,
  timeout_ms: s.timeoutMs,
  rate_limit_per_second: s.rateLimitPerSecond,
  ordering: s.ordering,
  failure_email: s.failureEmail,
  language: s.language,
  status: s.status,
  disabled_reason: s.disabledReason,
  disable_after_failures: s.disableAfterFailures,
  consecutive_failures: s.consecutiveFailures,
  signing_secret: s.signingSecret,
  previous_signing_secret: s.previousSigningSecret,
  previous_secret_expires_at: s.previousSecretExpiresAt,
  version: s.version,
  last_email_at: s.lastEmailAt,
  scope_permissions_json: scopeToColumn(s.scope),
  created_at: s.createdAt,
  updated_at: s.updatedAt,
});

export const fanoutTargetFromRow = (
  row: Pick<SubscriptionsTable, 'id' | 'topic' | 'events_json' | 'scope_permissions_json' | 'ordering'>,
): FanoutTarget => ({
  id: row.id,
  topic: row.topic,
  events: JSON.parse(row.events_json) as string[],
  scope: scopeFromColumn(row.scope_permissions_json),
  ordering: row.ordering === 'fifo' ? 'fifo' : 'unordered',
});

const WAITING: readonly string[] = ['pending', 'scheduled', 'delivering'];

export const deliveryFromRow = (row: DeliveriesTable): Delivery => ({
  id: row.id,
  eventId: row.event_id,
  subscriptionId: row.subscription_id,
  topic: row.topic,
  status: row.status as DeliveryStatus,
  attempts: row.attempts,
  // Only waiting deliveries have a next attempt.
  nextAttemptAt: WAITING.includes(row.status) ? row.next_attempt_at : null,
  lastAttemptAt: row.last_attempt_at,
  batchId: row.batch_id ?? null,
  createdAt: row.created_at,
});

export const claimedFromRow = (row: DeliveriesTable): ClaimedDelivery => ({
  ...deliveryFromRow(row),
  environmentId: row.environment_id,
});

export const newDeliveryToRow = (environmentId: string, d: NewDelivery): DeliveriesTable => ({
  environment_id: environmentId,
  id: d.id,
  event_id: d.eventId,
  subscription_id: d.subscriptionId,
  topic: d.topic,
  status: d.status,
  attempts: 0,
  next_attempt_at: d.nextAttemptAt,
  last_attempt_at: null,
  locked_by: null,
  lock_expires_at: null,
  created_at: d.createdAt,
  updated_at: d.createdAt,
});

export const attemptFromRow = (row: AttemptsTable): Attempt => ({
  id: row.id,
  deliveryId: row.delivery_id,
  subscriptionId: row.subscription_id,
  number: row.number,
  startedAt: row.started_at,
  durationMs: row.duration_ms,
  requestHeaders: JSON.parse(row.request_headers_json) as Record<string, string>,
  responseStatus: row.response_status,
  responseBody: row.response_body,
  error: row.error_kind === null ? null : { kind: row.error_kind as AttemptErrorKind, message: row.error_message ?? '' },
  outcome: row.outcome as Attempt['outcome'],
});

export const attemptToRow = (environmentId: string, a: Attempt): AttemptsTable => ({
  environment_id: environmentId,
  id: a.id,
  delivery_id: a.deliveryId,
  subscription_id: a.subscriptionId,
  number: a.number,
  started_at: a.startedAt,
  duration_ms: a.durationMs,
  request_headers_json: JSON.stringify(a.requestHeaders),
  response_status: a.responseStatus,
  response_body: a.responseBody,
  error_kind: a.error?.kind ?? null,
  error_message: a.error?.message ?? null,
  outcome: a.outcome,
});
