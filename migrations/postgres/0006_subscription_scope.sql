-- Each subscription records the view of the key that created it or last changed its URL: a
-- subscriber key's permissions as a JSON array, or NULL for a key that sees everything (admin).
-- A subscription on herald.operational receives only operational events about topics that view
-- may see. Rows from before hold NULL: their creator is unknown, and they keep receiving what they
-- received until then (everything) until a key next sets their URL.
ALTER TABLE subscriptions ADD COLUMN scope_permissions_json TEXT COLLATE "C";
