-- A lane is one subscription's queue (src/queue/): its row keeps the rate limit's gate,
-- `next_send_at`, the soonest the next request to the subscription may start. (One process owns
-- a SQLite queue, so no lane is ever locked here.)
CREATE TABLE lanes (
  environment_id TEXT NOT NULL,
  subscription_id TEXT NOT NULL,
  next_send_at INTEGER NOT NULL DEFAULT 0,
  -- The circuit breaker (src/domain/circuit-breaker.ts): open while breaker_opened_at is set.
  breaker_failures INTEGER NOT NULL DEFAULT 0,
  breaker_opened_at INTEGER,
  breaker_probe_at INTEGER NOT NULL DEFAULT 0,
  breaker_cooldown_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (environment_id, subscription_id)
) WITHOUT ROWID;
CREATE INDEX lanes_by_next_send ON lanes (next_send_at);
CREATE INDEX lanes_probing ON lanes (breaker_probe_at) WHERE breaker_opened_at IS NOT NULL;
INSERT INTO lanes (environment_id, subscription_id) SELECT environment_id, id FROM subscriptions;

-- The batch a delivery went out in (`bat_…`): kept across retries, so the batch keeps its id.
ALTER TABLE deliveries ADD COLUMN batch_id TEXT;
-- FIFO order is rowid order: one writer, and a publish inserts in array order.
CREATE INDEX deliveries_waiting_in_order ON deliveries (environment_id, subscription_id)
  WHERE status IN ('pending', 'scheduled');
-- A failing lane's retries, read before its first attempts (they keep their schedule).
CREATE INDEX deliveries_retries_waiting ON deliveries (environment_id, subscription_id, next_attempt_at)
  WHERE attempts > 0 AND status IN ('pending', 'scheduled');
-- A batch's deliveries, and the formed batches waiting for a retry (few: they are found first).
CREATE INDEX deliveries_by_batch ON deliveries (environment_id, batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX deliveries_batches_waiting ON deliveries (environment_id, subscription_id, next_attempt_at)
  WHERE batch_id IS NOT NULL AND status IN ('pending', 'scheduled');
