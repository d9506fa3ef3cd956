-- Delivery: subscriptions, the deliveries queue (the table IS the queue), and the attempt log.
CREATE TABLE subscriptions (
  environment_id TEXT NOT NULL,
  id TEXT NOT NULL,
  topic TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  custom_id TEXT,
  metadata_json TEXT NOT NULL,
  events_json TEXT NOT NULL,
  url TEXT NOT NULL,
  format TEXT NOT NULL,
  headers_json TEXT NOT NULL,
  secret_header_name TEXT,
  secret_header_value TEXT,
  max_retries INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  failure_email TEXT,
  language TEXT NOT NULL,
  status TEXT NOT NULL,
  disabled_reason TEXT,
  disable_after_failures INTEGER NOT NULL,
  consecutive_failures INTEGER NOT NULL,
  signing_secret TEXT NOT NULL,
  previous_signing_secret TEXT,
  previous_secret_expires_at INTEGER,
  version INTEGER NOT NULL,
  last_email_at INTEGER,
  email_pending_since INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX subscriptions_name_in_topic ON subscriptions (environment_id, topic, name);
CREATE INDEX subscriptions_by_custom_id ON subscriptions (environment_id, custom_id);

CREATE TABLE deliveries (
  environment_id TEXT NOT NULL,
  id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  subscription_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_attempt_at INTEGER,
  locked_by TEXT,
  lock_expires_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (environment_id, id)
);
-- The queue's two hot paths, kept small by partial indexes: due work, and leases to reap.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'scheduled');
CREATE INDEX deliveries_leased ON deliveries (environment_id, subscription_id) WHERE status = 'delivering';
CREATE INDEX deliveries_by_event ON deliveries (environment_id, event_id);
CREATE INDEX deliveries_by_subscription ON deliveries (environment_id, subscription_id, created_at);

CREATE TABLE attempts (
  environment_id TEXT NOT NULL,
  id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  subscription_id TEXT NOT NULL,
  number INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  request_headers_json TEXT NOT NULL,
  response_status INTEGER,
  response_body TEXT,
  error_kind TEXT,
  error_message TEXT,
  outcome TEXT NOT NULL,
  PRIMARY KEY (environment_id, id)
);
CREATE INDEX attempts_by_delivery ON attempts (environment_id, delivery_id, number);
CREATE INDEX attempts_by_subscription ON attempts (environment_id, subscription_id, started_at);
