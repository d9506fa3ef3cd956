-- Delivery: subscriptions, the deliveries queue (the table IS the queue), and the attempt log.
CREATE TABLE subscriptions (
  environment_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  topic TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  description TEXT COLLATE "C",
  custom_id TEXT COLLATE "C",
  metadata_json TEXT COLLATE "C" NOT NULL,
  events_json TEXT COLLATE "C" NOT NULL,
  url TEXT COLLATE "C" NOT NULL,
  format TEXT COLLATE "C" NOT NULL,
  headers_json TEXT COLLATE "C" NOT NULL,
  secret_header_name TEXT COLLATE "C",
  secret_header_value TEXT COLLATE "C",
  max_retries INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  failure_email TEXT COLLATE "C",
  language TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  disabled_reason TEXT COLLATE "C",
  disable_after_failures INTEGER NOT NULL,
  consecutive_failures INTEGER NOT NULL,
  signing_secret TEXT COLLATE "C" NOT NULL,
  previous_signing_secret TEXT COLLATE "C",
  previous_secret_expires_at BIGINT,
  version INTEGER NOT NULL,
  last_email_at BIGINT,
  email_pending_since BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX subscriptions_name_in_topic ON subscriptions (environment_id, topic, name);
CREATE INDEX subscriptions_by_custom_id ON subscriptions (environment_id, custom_id);

CREATE TABLE deliveries (
  environment_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  event_id TEXT COLLATE "C" NOT NULL,
  subscription_id TEXT COLLATE "C" NOT NULL,
  topic TEXT COLLATE "C" NOT NULL,
  status TEXT COLLATE "C" NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  last_attempt_at BIGINT,
  locked_by TEXT COLLATE "C",
  lock_expires_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (environment_id, id)
);
-- The queue's two hot paths, kept small by partial indexes: due work, and leases to reap.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'scheduled');
CREATE INDEX deliveries_leased ON deliveries (environment_id, subscription_id) WHERE status = 'delivering';
CREATE INDEX deliveries_by_event ON deliveries (environment_id, event_id);
CREATE INDEX deliveries_by_subscription ON deliveries (environment_id, subscription_id, created_at);

CREATE TABLE attempts (
  environment_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  delivery_id TEXT COLLATE "C" NOT NULL,
  subscription_id TEXT COLLATE "C" NOT NULL,
  number INTEGER NOT NULL,
  started_at BIGINT NOT NULL,
  duration_ms BIGINT NOT NULL,
  request_headers_json TEXT COLLATE "C" NOT NULL,
  response_status INTEGER,
  response_body TEXT COLLATE "C",
  error_kind TEXT COLLATE "C",
  error_message TEXT COLLATE "C",
  outcome TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (environment_id, id)
);
CREATE INDEX attempts_by_delivery ON attempts (environment_id, delivery_id, number);
CREATE INDEX attempts_by_subscription ON attempts (environment_id, subscription_id, started_at);
