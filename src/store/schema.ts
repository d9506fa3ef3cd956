/** Row shapes of the tables, as Kysely sees them. Same columns on both dialects (see migrations/). */
import type { Generated } from 'kysely';

export interface EnvironmentsTable {
  id: string;
  name: string;
  monthly_event_quota: number | null;
  created_at: number;
  updated_at: number;
}

export interface ApiKeysTable {
  environment_id: string;
  id: string;
  name: string;
  role: string;
  permissions: string;
  secret_hash: Buffer;
  created_at: number;
}

export interface CategoriesTable {
  environment_id: string;
  name: string;
  description: string | null;
  created_at: number;
  updated_at: number;
}

export interface EventTypesTable {
  environment_id: string;
  name: string;
  description: string | null;
  category: string | null;
  schema_json: string | null;
  example_json: string | null;
  schema_version: number;
  archived_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface AppsTable {
  environment_id: string;
  id: string;
  name: string;
  permissions: string;
  created_at: number;
  updated_at: number;
}

export interface TopicsTable {
  environment_id: string;
  name: string;
  description: string | null;
  app_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface TopicEventTypesTable {
  environment_id: string;
  topic: string;
  event_type: string;
}

export interface EventsTable {
  environment_id: string;
  id: string;
  type: string;
  source: string | null;
  subject: string | null;
  time: number;
  data_json: string;
  context_json: string;
  topic: string | null;
  deliver_at: number;
  cancelled_at: number | null;
  created_at: number;
}

/** An environment's count for a month is the sum of its shard rows (see postgres-accept.ts). */
export interface MonthlyUsageTable {
  environment_id: string;
  month: string;
  shard: number;
  published: number;
}

export interface SubscriptionsTable {
  environment_id: string;
  id: string;
  topic: string;
  name: string;
  description: string | null;
  custom_id: string | null;
  metadata_json: string;
  events_json: string;
  url: string;
  format: string;
  /** Both batch columns null (one event per request) or both set. */
  batch_max_events: number | null;
  batch_max_wait_ms: number | null;
  headers_json: string;
  secret_header_name: string | null;
  secret_header_value: string | null;
  max_retries: number;
  timeout_ms: number;
  /** null = unlimited; may be a fraction. */
  rate_limit_per_second: number | null;
  /** 'unordered' or 'fifo'. */
  ordering: string;
  failure_email: string | null;
  language: string;
  status: string;
  disabled_reason: string | null;
  disable_after_failures: number;
  consecutive_failures: number;
  signing_secret: string;
  previous_signing_secret: string | null;
  previous_secret_expires_at: number | null;
  version: number;
  last_email_at: number | null;
  email_pending_since: number | null;
  /** A subscriber's permissions (JSON array) when one chose the URL; null = a key that sees everything. */
  scope_permissions_json: string | null;
  created_at: number;
  updated_at: number;
}

export interface DeliveriesTable {
  environment_id: string;
  id: string;
  event_id: string;
  subscription_id: string;
  topic: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_attempt_at: number | null;
  locked_by: string | null;
  lock_expires_at: number | null;
  /** The batch (`bat_…`) it went out in, kept across retries. */
  batch_id?: string | null;
  created_at: number;
  updated_at: number;
}

/** One subscription's queue (src/queue/): the row claims lock, with the rate limit's gate. */
export interface LanesTable {
  environment_id: string;
  subscription_id: string;
  next_send_at: Generated<number>;
  breaker_failures: Generated<number>;
  breaker_opened_at: number | null;
  breaker_probe_at: Generated<number>;
  breaker_cooldown_ms: Generated<number>;
}

export interface AttemptsTable {
  environment_id: string;
  id: string;
  delivery_id: string;
  subscription_id: string;
  number: number;
  started_at: number;
  duration_ms: number;
  request_headers_json: string;
  response_status: number | null;
  response_body: string | null;
  error_kind: string | null;
  error_message: string | null;
  outcome: string;
}

export interface MigrationsTable {
  version: number;
  name: string;
  applied_at: Generated<number>;
}

export interface Database {
  environments: EnvironmentsTable;
  api_keys: ApiKeysTable;
  categories: CategoriesTable;
  event_types: EventTypesTable;
  apps: AppsTable;
  topics: TopicsTable;
  topic_event_types: TopicEventTypesTable;
  events: EventsTable;
  monthly_usage: MonthlyUsageTable;
  subscriptions: SubscriptionsTable;
  deliveries: DeliveriesTable;
  lanes: LanesTable;
  attempts: AttemptsTable;
  herald_migrations: MigrationsTable;
}

/** Every table that holds one environment's data; deleting an environment empties each. */
export const ENVIRONMENT_TABLES = [
  'api_keys',
  'categories',
  'event_types',
  'apps',
  'topics',
  'topic_event_types',
  'events',
  'monthly_usage',
  'subscriptions',
  'deliveries',
  'lanes',
  'attempts',
] as const satisfies readonly (keyof Database)[];
