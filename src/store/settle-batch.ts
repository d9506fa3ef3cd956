/**
 * Settling attempts in batches: one transaction records a batch of attempts, moves their
 * deliveries on and counts their outcomes against their subscriptions. Under load one commit
 * per delivery was the limit (each a journal write, and on PostgreSQL three round trips); the
 * worker now gathers what finished while the previous batch was being written (group commit).
 * Written once for both dialects.
 */
import { type Transaction, sql } from 'kysely';
import * as rows from './delivery-rows.ts';
import type { SettleEffects, SettleInput } from './delivery-store.ts';
import type { Database } from './schema.ts';

/** Rows per multi-row statement: well under both dialects' bound-parameter limits. */
const CHUNK = 200;

export async function settleBatch(trx: Transaction<Database>, inputs: readonly SettleInput[]): Promise<SettleEffects[]> {
  for (let i = 0; i < inputs.length; i += CHUNK) {
    const chunk = inputs.slice(i, i + CHUNK).map((input) => rows.attemptToRow(input.environmentId, input.attempt));
    await trx.insertInto('attempts').values(chunk).execute();
  }
  const settled = new Set<string>();
  for (let i = 0; i < inputs.length; i += CHUNK) {
    for (const key of await moveDeliveries(trx, inputs.slice(i, i + CHUNK))) settled.add(key);
  }
  const effects = inputs.map(
    (input): SettleEffects => ({
      settled: settled.has(keyOf(input.environmentId, input.deliveryId)),
      recovered: false,
      disabled: null,
      consecutiveFailures: 0,
    }),
  );
  await countOutcomes(trx, inputs, effects);
  return effects;
}

const keyOf = (environmentId: string, id: string) => `${environmentId}\u0000${id}`;

/**
 * Moves each delivery to its decided state, only where this worker still holds its lease.
 * Returns the keys of the deliveries it moved. The v_ names keep RETURNING unambiguous (SQLite
 * lets it name only the updated table's columns, unqualified). BIGINT casts type PostgreSQL's VALUES columns
 * (its parameters arrive untyped); to SQLite they are integer affinity, a no-op.
 */
async function moveDeliveries(trx: Transaction<Database>, inputs: readonly SettleInput[]): Promise<string[]> {
  const big = (value: number | null) => sql`CAST(${value} AS BIGINT)`;
  const values = inputs.map((input) => {
    const { decision, attempt } = input;
    const status = decision.kind === 'retry' ? 'pending' : decision.kind;
    const next = decision.kind === 'retry' ? decision.nextAttemptAt : null;
    return sql`(${input.environmentId}, ${input.deliveryId}, ${input.workerId}, ${status}, ${big(next)}, ${big(attempt.number)}, ${big(attempt.startedAt)}, ${big(input.now)})`;
  });
  const moved = await sql<{ environment_id: string; id: string }>`
    WITH v(v_environment_id, v_id, v_worker_id, v_status, v_next_attempt_at, v_attempts, v_last_attempt_at, v_now) AS (
      VALUES ${sql.join(values)}
    )
    UPDATE deliveries AS d
    SET status = v_status,
      next_attempt_at = coalesce(v_next_attempt_at, d.next_attempt_at),
      attempts = v_attempts,
      last_attempt_at = v_last_attempt_at,
      locked_by = NULL,
      lock_expires_at = NULL,
      updated_at = v_now
    FROM v
    WHERE d.environment_id = v_environment_id AND d.id = v_id
      AND d.status = 'delivering' AND d.locked_by = v_worker_id
    RETURNING environment_id, id`.execute(trx);
  return moved.rows.map((row) => keyOf(row.environment_id, row.id));
}

/**
 * Final outcomes (not retries) move the subscription's consecutive-failure count. A subscription
 * whose outcomes in the batch are all successes is reset in one statement with the others (the
 * common case); one with a failure among them is counted outcome by outcome, in order, since a
 * failure can disable it (at its threshold, or on 410) part way through.
 */
async function countOutcomes(trx: Transaction<Database>, inputs: readonly SettleInput[], effects: SettleEffects[]) {
  const bySubscription = new Map<string, number[]>();
  inputs.forEach((input, index) => {
    if (!effects[index]?.settled || input.decision.kind === 'retry') return;
    const key = keyOf(input.environmentId, input.attempt.subscriptionId);
    const indexes = bySubscription.get(key);
    if (indexes) indexes.push(index);
    else bySubscription.set(key, [index]);
  });
  const resetOnly = new Map<string, { environmentId: string; subscriptionId: string; first: number }[]>();
  for (const indexes of bySubscription.values()) {
    const first = inputs[indexes[0] as number] as SettleInput;
    if (indexes.every((index) => inputs[index]?.decision.kind === 'succeeded')) {
      const list = resetOnly.get(first.environmentId) ?? [];
      list.push({ environmentId: first.environmentId, subscriptionId: first.attempt.subscriptionId, first: indexes[0] as number });
      resetOnly.set(first.environmentId, list);
      continue;
    }
    for (const index of indexes) {
      const input = inputs[index] as SettleInput;
      effects[index] = await countOutcome(trx, input, effects[index] as SettleEffects);
    }
  }
  for (const [environmentId, list] of resetOnly) {
    for (let i = 0; i < list.length; i += CHUNK) {
      const chunk = list.slice(i, i + CHUNK);
      const reset = await trx
        .updateTable('subscriptions')
        .set({ consecutive_failures: 0 })
        .where('environment_id', '=', environmentId)
        .where(
          'id',
          'in',
          chunk.map((s) => s.subscriptionId),
        )
        .where('consecutive_failures', '>', 0)
        .returning('id')
        .execute();
      const recovered = new Set(reset.map((row) => row.id));
      for (const s of chunk) {
        const effect = effects[s.first] as SettleEffects;
        if (recovered.has(s.subscriptionId)) effects[s.first] = { ...effect, recovered: true };
      }
    }
  }
}

/** One final outcome: resets or raises the count; disables the subscription at its threshold or on 410. */
async function countOutcome(trx: Transaction<Database>, input: SettleInput, effects: SettleEffects): Promise<SettleEffects> {
  const { environmentId, decision, now } = input;
  const subscriptionId = input.attempt.subscriptionId;
  if (decision.kind === 'succeeded') {
    const reset = await trx
      .updateTable('subscriptions')
      .set({ consecutive_failures: 0 })
      .where('environment_id', '=', environmentId)
      .where('id', '=', subscriptionId)
      .where('consecutive_failures', '>', 0)
      .executeTakeFirst();
    return { ...effects, recovered: reset.numUpdatedRows > 0n };
  }
  const counted = await trx
    .updateTable('subscriptions')
    .set({ consecutive_failures: sql<number>`consecutive_failures + 1` })
    .where('environment_id', '=', environmentId)
    .where('id', '=', subscriptionId)
    .returning(['consecutive_failures', 'disable_after_failures', 'status'])
    .executeTakeFirst();
  if (!counted || counted.status !== 'enabled') return effects;
  const gone = decision.kind === 'failed' && decision.gone;
  const reason = gone ? 'gone' : counted.consecutive_failures >= counted.disable_after_failures ? 'failures' : null;
  if (reason) {
    await trx
      .updateTable('subscriptions')
      .set({ status: 'disabled', disabled_reason: reason, version: sql<number>`version + 1`, updated_at: now })
      .where('environment_id', '=', environmentId)
      .where('id', '=', subscriptionId)
      .execute();
  }
  return { ...effects, disabled: reason, consecutiveFailures: counted.consecutive_failures };
}
