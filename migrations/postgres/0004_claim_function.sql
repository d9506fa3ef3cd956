-- The fair claim as a function (see src/store/postgres/postgres-claim.ts for what each part does).
-- As a function its plan is prepared once per connection and kept (PL/pgSQL caches it), where the
-- statement sent as text was parsed and planned on every claim: a third of its server time with
-- 50,000 queued. It takes the claim lock itself, and a call is one autocommitted round trip, so the
-- lock is held for the server's work only. Sorting and JIT are off inside it: without fresh
-- statistics (a queue table empties and refills) the planner otherwise read a subscription's whole
-- history through deliveries_by_subscription and sorted it, and the priced-out sorts push the
-- plan's cost past jit_above_cost (compiling it took 230 ms).
CREATE FUNCTION herald_claim(p_worker text, p_now bigint, p_limit int, p_cap int, p_lease_ms bigint)
RETURNS SETOF deliveries
LANGUAGE plpgsql
SET enable_sort = off
SET jit = off
AS $$
BEGIN
  -- Claims are serialised across workers, so per-subscription caps hold globally.
  PERFORM pg_advisory_xact_lock(7201003);
  RETURN QUERY
  WITH RECURSIVE heads AS (
    (SELECT d.environment_id, d.subscription_id, d.next_attempt_at FROM deliveries d
     WHERE d.status IN ('pending', 'scheduled')
     ORDER BY d.environment_id, d.subscription_id, d.next_attempt_at, d.id LIMIT 1)
    UNION ALL
    SELECT nxt.environment_id, nxt.subscription_id, nxt.next_attempt_at FROM heads h CROSS JOIN LATERAL (
      SELECT d.environment_id, d.subscription_id, d.next_attempt_at FROM deliveries d
      WHERE d.status IN ('pending', 'scheduled')
        AND (d.environment_id, d.subscription_id) > (h.environment_id, h.subscription_id)
      ORDER BY d.environment_id, d.subscription_id, d.next_attempt_at, d.id LIMIT 1) nxt
  ),
  inflight AS (
    SELECT d.environment_id, d.subscription_id, count(*) AS n FROM deliveries d
    WHERE d.status = 'delivering' GROUP BY d.environment_id, d.subscription_id
  ),
  subs AS (
    SELECT h.environment_id, h.subscription_id, coalesce(f.n, 0) AS n
    FROM heads h LEFT JOIN inflight f ON f.environment_id = h.environment_id AND f.subscription_id = h.subscription_id
    WHERE coalesce(f.n, 0) < p_cap AND h.next_attempt_at <= p_now
    ORDER BY coalesce(f.n, 0), h.next_attempt_at
    LIMIT p_limit
  ),
  cut AS (
    -- The highest rank the batch can need (see rankCut in sqlite-claim.ts).
    SELECT coalesce(min(totals.r), p_cap) AS r FROM (
      SELECT g.r, sum(greatest(0, g.r - s.n)) AS total
      FROM generate_series(1, p_cap) AS g(r) CROSS JOIN subs s GROUP BY g.r
    ) totals WHERE totals.total >= p_limit
  ),
  candidates AS (
    SELECT c.ctid, c.next_attempt_at, s.n + c.rn AS rank
    FROM subs s CROSS JOIN LATERAL (
      SELECT d.ctid, d.next_attempt_at,
        row_number() OVER (ORDER BY d.next_attempt_at, d.id) AS rn
      FROM deliveries d
      WHERE d.environment_id = s.environment_id AND d.subscription_id = s.subscription_id
        AND d.status IN ('pending', 'scheduled') AND d.next_attempt_at <= p_now
      ORDER BY d.next_attempt_at, d.id
      LIMIT greatest(0, (SELECT cut.r FROM cut) - s.n)) c
  ),
  chosen AS (
    SELECT candidates.ctid FROM candidates ORDER BY candidates.rank, candidates.next_attempt_at LIMIT p_limit
  )
  UPDATE deliveries d
  SET status = 'delivering', locked_by = p_worker, lock_expires_at = p_now + p_lease_ms, updated_at = p_now
  FROM chosen c
  WHERE d.ctid = c.ctid AND d.status IN ('pending', 'scheduled')
  RETURNING d.*;
END
$$;
