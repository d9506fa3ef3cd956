/**
 * Settling a batch on PostgreSQL in one autocommitted statement, for the common batch: every
 * attempt either succeeded or is to be retried, so no failure is counted and nothing can be
 * disabled. A batch as a transaction driven from Node (BEGIN, attempts, deliveries, subscriptions,
 * COMMIT) took five round trips, ~7 ms under load; the worker writes its batches one after another,
 * and a delivery's in-flight slot is free only once its batch is committed, so those round trips
 * bounded delivered events/s. Batches with a final failure go through settleBatch, which counts
 * outcome by outcome.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import * as rows from '../delivery-rows.ts';
import type { SettleEffects, SettleInput } from '../delivery-store.ts';
import type { AttemptsTable, Database } from '../schema.ts';

const ATTEMPT_COLUMNS: { readonly [K in keyof AttemptsTable]: 'text' | 'int4' | 'int8' } = {
  environment_id: 'text',
  id: 'text',
  delivery_id: 'text',
  subscription_id: 'text',
  number: 'int4',
  started_at: 'int8',
  duration_ms: 'int8',
  request_headers_json: 'text',
  response_status: 'int4',
  response_body: 'text',
  error_kind: 'text',
  error_message: 'text',
  outcome: 'text',
};
const ATTEMPT_NAMES = Object.keys(ATTEMPT_COLUMNS) as (keyof AttemptsTable)[];
const A = ATTEMPT_NAMES.length;

/** $1..$A: attempt columns; then the deliveries' moves, one array per column. */
const SETTLE_SQL = `
with recorded as (
  insert into attempts (${ATTEMPT_NAMES.map((n) => `"${n}"`).join(', ')})
  select * from unnest(${ATTEMPT_NAMES.map((n, i) => `$${i + 1}::${ATTEMPT_COLUMNS[n]}[]`).join(', ')})
),
v as (
  select * from unnest($${A + 1}::text[], $${A + 2}::text[], $${A + 3}::text[], $${A + 4}::text[], $${A + 5}::int8[],
    $${A + 6}::int4[], $${A + 7}::int8[], $${A + 8}::int8[])
    as v(env, id, worker, status, next_attempt_at, attempts, last_attempt_at, now)
),
moved as (
  update deliveries d
  set status = v.status,
    next_attempt_at = coalesce(v.next_attempt_at, d.next_attempt_at),
    attempts = v.attempts,
    last_attempt_at = v.last_attempt_at,
    locked_by = null,
    lock_expires_at = null,
    updated_at = v.now
  from v
  where d.environment_id = v.env and d.id = v.id and d.status = 'delivering' and d.locked_by = v.worker
  returning d.environment_id, d.id, d.subscription_id, d.status
),
failing as (
  -- Locked in key order: worker processes write their batches at the same time, and two
  -- resetting the same subscriptions in different orders could deadlock.
  select f.environment_id, f.id from subscriptions f
  join (select distinct environment_id, subscription_id from moved where status = 'succeeded') m
    on f.environment_id = m.environment_id and f.id = m.subscription_id
  where f.consecutive_failures > 0
  order by f.environment_id, f.id
  for update of f
),
reset as (
  update subscriptions s set consecutive_failures = 0
  from failing
  where s.environment_id = failing.environment_id and s.id = failing.id
  returning s.environment_id, s.id
)
select 'moved' as kind, environment_id, id from moved
union all
select 'reset' as kind, environment_id, id from reset`;

/** True when settleOnPostgres can take the batch: no attempt in it ends its delivery in failure. */
export function settlesInOneStatement(inputs: readonly SettleInput[]): boolean {
  return inputs.every((input) => input.decision.kind !== 'failed');
}

export async function settleOnPostgres(db: Kysely<Database>, inputs: readonly SettleInput[]): Promise<SettleEffects[]> {
  const attempts = inputs.map((input) => rows.attemptToRow(input.environmentId, input.attempt));
  const columns = ATTEMPT_NAMES.map((name) => attempts.map((row) => row[name]));
  const moves = [
    inputs.map((i) => i.environmentId),
    inputs.map((i) => i.deliveryId),
    inputs.map((i) => i.workerId),
    inputs.map((i) => (i.decision.kind === 'retry' ? 'pending' : i.decision.kind)),
    inputs.map((i) => (i.decision.kind === 'retry' ? i.decision.nextAttemptAt : null)),
    inputs.map((i) => i.attempt.number),
    inputs.map((i) => i.attempt.startedAt),
    inputs.map((i) => i.now),
  ];
  const result = await db.executeQuery(
    CompiledQuery.raw(SETTLE_SQL, [...columns, ...moves]) as CompiledQuery<{ kind: string; environment_id: string; id: string }>,
  );
  const key = (environmentId: string, id: string) => `${environmentId}\u0000${id}`;
  const moved = new Set<string>();
  const recovered = new Set<string>();
  for (const row of result.rows) (row.kind === 'moved' ? moved : recovered).add(key(row.environment_id, row.id));
  return inputs.map((input) => {
    const settled = moved.has(key(input.environmentId, input.deliveryId));
    const subscription = key(input.environmentId, input.attempt.subscriptionId);
    // The first success of a subscription that had been failing reports its recovery.
    const recovers = settled && input.decision.kind === 'succeeded' && recovered.delete(subscription);
    return { settled, recovered: recovers, disabled: null, consecutiveFailures: 0 };
  });
}
