-- The claim ranks each subscription's due deliveries (PARTITION BY environment_id, subscription_id
-- ORDER BY next_attempt_at, id). Reading them in that order from the waiting rows alone spares the
-- sort and, on SQLite, a walk of every delivery ever kept (deliveries_by_subscription), which made
-- each claim cost time in proportion to the retained history rather than to the queue.
CREATE INDEX deliveries_due_by_subscription ON deliveries (environment_id, subscription_id, next_attempt_at, id)
  WHERE status IN ('pending', 'scheduled');
