-- An environment's monthly count may be split over several rows, one per shard, summed when read
-- (PostgreSQL spreads concurrent publishes over them). SQLite has one writer: it counts into
-- shard 0 only, but keeps the same table. Existing counts become shard 0.
CREATE TABLE monthly_usage_sharded (
  environment_id TEXT NOT NULL,
  month TEXT NOT NULL,
  shard INTEGER NOT NULL DEFAULT 0,
  published INTEGER NOT NULL,
  PRIMARY KEY (environment_id, month, shard)
);
INSERT INTO monthly_usage_sharded (environment_id, month, shard, published)
  SELECT environment_id, month, 0, published FROM monthly_usage;
DROP TABLE monthly_usage;
ALTER TABLE monthly_usage_sharded RENAME TO monthly_usage;
