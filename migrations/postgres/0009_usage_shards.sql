-- An environment's monthly count may be split over several rows, one per shard, summed when read:
-- publishes without a quota each add to a shard no other open transaction holds, instead of all
-- waiting for one row (src/store/postgres/postgres-accept.ts). Existing counts become shard 0.
ALTER TABLE monthly_usage ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE monthly_usage DROP CONSTRAINT monthly_usage_pkey;
ALTER TABLE monthly_usage ADD PRIMARY KEY (environment_id, month, shard);
