-- How a subscription's deliveries are lined up (SPEC §4): `ordering` ('unordered' or 'fifo'), a
-- rate limit in requests per second (NULL = unlimited; REAL, as fractions such as 0.5 are
-- allowed) and batching (both batch columns NULL = one event per request, else both set). Rows
-- from before take the defaults: unordered, unlimited, unbatched.
ALTER TABLE subscriptions ADD COLUMN ordering TEXT NOT NULL DEFAULT 'unordered';
ALTER TABLE subscriptions ADD COLUMN rate_limit_per_second REAL;
ALTER TABLE subscriptions ADD COLUMN batch_max_events INTEGER;
ALTER TABLE subscriptions ADD COLUMN batch_max_wait_ms INTEGER;
