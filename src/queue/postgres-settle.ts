/**
 * Settling a batch on PostgreSQL. The common batch (every attempt succeeded) is one autocommitted
 * statement: the attempts inserted, the deliveries moved where this worker still holds their
 * leases, and the subscriptions and lanes with a success reset, as the domain's rules say a
 * success does (domain/subscription-health.ts: the failure count goes to 0, and the subscription
 * has recovered when it was above 0; domain/circuit-breaker.ts: the breaker closes). Driven from
 * Node as a transaction that was five round trips, ~7 ms under load, and a delivery's in-flight
 * slot is free only once its batch is committed. A batch with a failed attempt is a transaction:
 * the same statement without the resets, then the lanes' breakers and the subscriptions' health,
 * locked in key order, counted by the domain's rules, written.
 */
import type pg from 'pg';
import { type FinalOutcome, applyOutcomes } from '../domain/subscription-health.ts';
import type { SubscriptionStatus } from '../domain/types.ts';
import * as rows from '../store/delivery-rows.ts';
import type { AttemptsTable } from '../store/schema.ts';
import { type SettleEffects, type SettleInput, UNSETTLED } from './queue.ts';
import { afterAttempts } from '../domain/circuit-breaker.ts';
import { breakerOf } from './lane-plan.ts';
import { breakerEffect, finalOutcome, groupAttempts, groupFinalOutcomes, statusAfter } from './settle-rules.ts';

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

/** $1..$A: attempt columns; then the deliveries' moves, one array per column; last, whether to reset. */
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
  -- Locked in key order: workers settle at the same time, and two resetting the same
  -- subscriptions in different orders could deadlock.
  select f.environment_id, f.id from subscriptions f
  join (select distinct environment_id, subscription_id from moved where status = 'succeeded') m
    on f.environment_id = m.environment_id and f.id = m.subscription_id
  where $${A + 9}::bool and f.consecutive_failures > 0
  order by f.environment_id, f.id
  for update of f
),
reset as (
  update subscriptions s set consecutive_failures = 0
  from failing
  where s.environment_id = failing.environment_id and s.id = failing.id
  returning s.environment_id, s.id
),
tripped as (
  -- The same for the lanes' breakers: a success closes them (domain/circuit-breaker.ts).
  select l.environment_id, l.subscription_id, l.breaker_opened_at from lanes l
  join (select distinct environment_id, subscription_id from moved where status = 'succeeded') m
    on l.environment_id = m.environment_id and l.subscription_id = m.subscription_id
  where $${A + 9}::bool and (l.breaker_failures > 0 or l.breaker_opened_at is not null)
  order by l.environment_id, l.subscription_id
  for update of l
),
closed as (
  update lanes l set breaker_failures = 0, breaker_opened_at = null, breaker_probe_at = 0, breaker_cooldown_ms = 0
  from tripped
  where l.environment_id = tripped.environment_id and l.subscription_id = tripped.subscription_id
  returning l.environment_id, l.subscription_id, tripped.breaker_opened_at
)
select 'moved' as kind, environment_id, id from moved
union all
select 'reset' as kind, environment_id, id from reset
union all
select 'closed' as kind, environment_id, subscription_id from closed where breaker_opened_at is not null`;

const LOCK_BREAKERS = `select environment_id, subscription_id, breaker_failures, breaker_opened_at, breaker_probe_at, breaker_cooldown_ms
  from lanes where (environment_id, subscription_id) in (select * from unnest($1::text[], $2::text[]))
  order by environment_id, subscription_id
  for update`;

const WRITE_BREAKERS = `update lanes l
  set breaker_failures = v.failures, breaker_opened_at = v.opened_at, breaker_probe_at = v.probe_at, breaker_cooldown_ms = v.cooldown
  from unnest($1::text[], $2::text[], $3::int4[], $4::int8[], $5::int8[], $6::int4[]) as v(env, sub, failures, opened_at, probe_at, cooldown)
  where l.environment_id = v.env and l.subscription_id = v.sub`;

/** SQLSTATE deadlock_detected: a settle that lost a deadlock to another is run again. */
const DEADLOCK = '40P01';

const LOCK_HEALTH = `select environment_id, id, status, consecutive_failures, disable_after_failures from subscriptions
  where (environment_id, id) in (select * from unnest($1::text[], $2::text[]))
  order by environment_id, id
  for update`;

const WRITE_HEALTH = `update subscriptions s
  set consecutive_failures = v.failures,
    status = v.status,
    disabled_reason = coalesce(v.reason, s.disabled_reason),
    version = s.version + case when v.reason is null then 0 else 1 end,
    updated_at = case when v.reason is null then s.updated_at else v.now end
  from unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::int8[]) as v(env, id, failures, status, reason, now)
  where s.environment_id = v.env and s.id = v.id`;

const key = (environmentId: string, id: string) => `${environmentId}\u0000${id}`;

/** One attempt row per input; one move per delivery (a batch's members each). */
function settleValues(inputs: readonly SettleInput[], reset: boolean): unknown[] {
  const attempts = inputs.map((input) => rows.attemptToRow(input.environmentId, input.attempt));
  const moves = inputs.flatMap((input) => (input.members ?? [input.deliveryId]).map((deliveryId) => ({ input, deliveryId })));
  return [
    ...ATTEMPT_NAMES.map((name) => attempts.map((row) => row[name])),
    moves.map((m) => m.input.environmentId),
    moves.map((m) => m.deliveryId),
    moves.map((m) => m.input.workerId),
    moves.map((m) => statusAfter(m.input.decision)),
    moves.map((m) => (m.input.decision.kind === 'retry' ? m.input.decision.nextAttemptAt : null)),
    moves.map((m) => m.input.attempt.number),
    moves.map((m) => m.input.attempt.startedAt),
    moves.map((m) => m.input.now),
    reset,
  ];
}

/** Whether the input's delivery (or any of its batch's) was moved. */
const movedOf = (moved: ReadonlySet<string>, input: SettleInput) =>
  (input.members ?? [input.deliveryId]).some((deliveryId) => moved.has(key(input.environmentId, deliveryId)));

export async function settleOnPostgres(pool: pg.Pool, inputs: readonly SettleInput[]): Promise<SettleEffects[]> {
  if (inputs.length === 0) return [];
  if (inputs.every((input) => input.decision.kind === 'succeeded')) return settleSuccesses(pool, inputs);
  for (let attempt = 1; ; attempt++) {
    try {
      return await settleInTransaction(pool, inputs);
    } catch (error) {
      if ((error as { code?: unknown }).code !== DEADLOCK || attempt === 3) throw error;
    }
  }
}

/** A batch with a failed attempt: the moves, then each lane's breaker and each subscription's health under lock. */
async function settleInTransaction(pool: pg.Pool, inputs: readonly SettleInput[]): Promise<SettleEffects[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await client.query<{ kind: string; environment_id: string; id: string }>({
      name: 'herald_settle',
      text: SETTLE_SQL,
      values: settleValues(inputs, false),
    });
    const moved = new Set(result.rows.map((row) => key(row.environment_id, row.id)));
    const effects = inputs.map((input) => (movedOf(moved, input) ? { ...UNSETTLED, settled: true } : UNSETTLED));
    await countBreakers(client, inputs, effects);
    const groups = groupFinalOutcomes(inputs, effects);
    if (groups.length > 0) await countOutcomes(client, inputs, effects, groups);
    await client.query('COMMIT');
    return effects;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Every attempt moves its lane's breaker (domain/circuit-breaker.ts); a change is told with the attempt that made it. */
async function countBreakers(client: pg.PoolClient, inputs: readonly SettleInput[], effects: SettleEffects[]): Promise<void> {
  const groups = groupAttempts(inputs, effects);
  if (groups.length === 0) return;
  const locked = await client.query<Parameters<typeof breakerOf>[0] & { environment_id: string; subscription_id: string }>({
    name: 'herald_lock_breakers',
    text: LOCK_BREAKERS,
    values: [groups.map((g) => g.environmentId), groups.map((g) => g.subscriptionId)],
  });
  const current = new Map(locked.rows.map((row) => [key(row.environment_id, row.subscription_id), breakerOf(row)]));
  const writes: { env: string; sub: string; breaker: ReturnType<typeof breakerOf> }[] = [];
  for (const group of groups) {
    const before = current.get(key(group.environmentId, group.subscriptionId));
    if (!before) continue;
    const outcomes = group.indexes.map((i) => (inputs[i] as SettleInput).decision.kind === 'succeeded');
    if (outcomes.every(Boolean) && before.failures === 0 && before.openedAt === null) continue;
    const last = group.indexes[group.indexes.length - 1] as number;
    const { breaker, change } = afterAttempts(before, outcomes, (inputs[last] as SettleInput).now);
    writes.push({ env: group.environmentId, sub: group.subscriptionId, breaker });
    if (change) effects[last] = { ...(effects[last] as SettleEffects), breaker: breakerEffect(change, breaker) };
  }
  if (writes.length === 0) return;
  await client.query({
    name: 'herald_write_breakers',
    text: WRITE_BREAKERS,
    values: [
      writes.map((w) => w.env),
      writes.map((w) => w.sub),
      writes.map((w) => w.breaker.failures),
      writes.map((w) => w.breaker.openedAt),
      writes.map((w) => w.breaker.probeAt),
      writes.map((w) => w.breaker.cooldownMs),
    ],
  });
}

/** Every attempt succeeded: one autocommitted statement (see the top of this file). */
async function settleSuccesses(pool: pg.Pool, inputs: readonly SettleInput[]): Promise<SettleEffects[]> {
  const result = await pool.query<{ kind: string; environment_id: string; id: string }>({
    name: 'herald_settle',
    text: SETTLE_SQL,
    values: settleValues(inputs, true),
  });
  const moved = new Set<string>();
  const recovered = new Set<string>();
  const closed = new Set<string>();
  for (const row of result.rows) {
    (row.kind === 'moved' ? moved : row.kind === 'reset' ? recovered : closed).add(key(row.environment_id, row.id));
  }
  return inputs.map((input) => {
    const settled = movedOf(moved, input);
    if (!settled) return UNSETTLED;
    // The first success of a subscription that had been failing reports its recovery (and its breaker closing).
    const subscription = key(input.environmentId, input.attempt.subscriptionId);
    const recovers = recovered.delete(subscription);
    const breaker = closed.delete(subscription) ? ({ change: 'closed' } as const) : null;
    return { settled, recovered: recovers, disabled: null, consecutiveFailures: 0, breaker };
  });
}

async function countOutcomes(
  client: pg.PoolClient,
  inputs: readonly SettleInput[],
  effects: SettleEffects[],
  groups: ReturnType<typeof groupFinalOutcomes>,
): Promise<void> {
  const locked = await client.query<{ environment_id: string; id: string; status: string; consecutive_failures: number; disable_after_failures: number }>({
    name: 'herald_lock_health',
    text: LOCK_HEALTH,
    values: [groups.map((g) => g.environmentId), groups.map((g) => g.subscriptionId)],
  });
  const current = new Map(locked.rows.map((row) => [key(row.environment_id, row.id), row]));
  const writes: { env: string; id: string; failures: number; status: string; reason: string | null; now: number }[] = [];
  for (const group of groups) {
    const row = current.get(key(group.environmentId, group.subscriptionId));
    if (!row) continue;
    const outcomes: FinalOutcome[] = group.indexes.map((i) => finalOutcome((inputs[i] as SettleInput).decision));
    const { health, effects: counted } = applyOutcomes(
      { status: row.status as SubscriptionStatus, consecutiveFailures: row.consecutive_failures, disableAfterFailures: row.disable_after_failures },
      outcomes,
    );
    group.indexes.forEach((index, k) => {
      effects[index] = { ...(effects[index] as SettleEffects), ...(counted[k] as SettleEffects) };
    });
    const reason = counted.find((e) => e.disabled)?.disabled ?? null;
    if (health.consecutiveFailures === row.consecutive_failures && !reason) continue;
    const now = (inputs[group.indexes[0] as number] as SettleInput).now;
    writes.push({ env: group.environmentId, id: group.subscriptionId, failures: health.consecutiveFailures, status: health.status, reason, now });
  }
  if (writes.length === 0) return;
  await client.query({
    name: 'herald_write_health',
    text: WRITE_HEALTH,
    values: [
      writes.map((w) => w.env),
      writes.map((w) => w.id),
      writes.map((w) => w.failures),
      writes.map((w) => w.status),
      writes.map((w) => w.reason),
      writes.map((w) => w.now),
    ],
  });
}
