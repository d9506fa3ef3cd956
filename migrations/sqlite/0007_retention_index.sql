-- Retention walks each environment's deliveries in (created_at, id) order to find those older
-- than the horizon (events already have events_by_created for the same walk).
CREATE INDEX deliveries_by_created ON deliveries (environment_id, created_at, id);
