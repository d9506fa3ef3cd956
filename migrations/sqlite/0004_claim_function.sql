-- PostgreSQL's 0004 makes its claim a function (a cached plan, the claim lock inside). SQLite's
-- claim runs as prepared statements in this process (src/store/sqlite/sqlite-claim.ts), so it
-- has nothing to change here; the migration keeps both dialects' numbers the same.
SELECT 1;
