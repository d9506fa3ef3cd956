/**
 * Settling a batch on SQLite: prepared single-row statements run synchronously in one
 * transaction (through Kysely, building and awaiting the statements cost more than SQLite's own
 * work). Each attempt is recorded and its delivery moved on where this worker still holds the
 * lease; then the final outcomes are counted against their subscriptions by the domain's rule
 * (domain/subscription-health.ts), reading and writing each subscription once per batch.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { type FinalOutcome, applyOutcomes } from '../domain/subscription-health.ts';
import type { SubscriptionStatus } from '../domain/types.ts';
import { attemptToRow } from '../store/delivery-rows.ts';
import { type SettleEffects, type SettleInput, UNSETTLED } from './queue.ts';
import { breakerEffect, finalOutcome, groupAttempts, groupFinalOutcomes, statusAfter } from './settle-rules.ts';
import { afterAttempts } from '../domain/circuit-breaker.ts';
import { breakerOf } from './lane-plan.ts';

export class SqliteSettle {
  private readonly insertAttempt: BetterSqlite3.Statement;
  private readonly moveDelivery: BetterSqlite3.Statement;
  private readonly readHealth: BetterSqlite3.Statement;
  private readonly writeHealth: BetterSqlite3.Statement;
  private readonly readBreaker: BetterSqlite3.Statement;
  private readonly writeBreaker: BetterSqlite3.Statement;

  constructor(raw: BetterSqlite3.Database) {
    this.insertAttempt = raw.prepare(`INSERT INTO attempts (environment_id, id, delivery_id, subscription_id, number,
      started_at, duration_ms, request_headers_json, response_status, response_body, error_kind, error_message, outcome)
      VALUES (@environment_id, @id, @delivery_id, @subscription_id, @number, @started_at, @duration_ms,
      @request_headers_json, @response_status, @response_body, @error_kind, @error_message, @outcome)`);
    // Only where this worker still holds the lease: a lost lease means another worker has it now.
    this.moveDelivery = raw.prepare(`UPDATE deliveries
      SET status = ?, next_attempt_at = coalesce(?, next_attempt_at), attempts = ?, last_attempt_at = ?,
        locked_by = NULL, lock_expires_at = NULL, updated_at = ?
      WHERE environment_id = ? AND id = ? AND status = 'delivering' AND locked_by = ?`);
    this.readHealth = raw.prepare(
      'SELECT status, consecutive_failures, disable_after_failures FROM subscriptions WHERE environment_id = ? AND id = ?',
    );
    this.writeHealth = raw.prepare(`UPDATE subscriptions
      SET consecutive_failures = ?,
        status = ?,
        disabled_reason = CASE WHEN ? IS NULL THEN disabled_reason ELSE ? END,
        version = version + CASE WHEN ? IS NULL THEN 0 ELSE 1 END,
        updated_at = CASE WHEN ? IS NULL THEN updated_at ELSE ? END
      WHERE environment_id = ? AND id = ?`);
    this.readBreaker = raw.prepare(`SELECT breaker_failures, breaker_opened_at, breaker_probe_at, breaker_cooldown_ms FROM lanes
      WHERE environment_id = ? AND subscription_id = ?`);
    this.writeBreaker = raw.prepare(`UPDATE lanes SET breaker_failures = ?, breaker_opened_at = ?, breaker_probe_at = ?, breaker_cooldown_ms = ?
      WHERE environment_id = ? AND subscription_id = ?`);
  }

  /** Runs inside the caller's transaction. */
  settle(inputs: readonly SettleInput[]): SettleEffects[] {
    const effects: SettleEffects[] = inputs.map((input) => {
      const { decision, attempt } = input;
      this.insertAttempt.run(attemptToRow(input.environmentId, attempt));
      const next = decision.kind === 'retry' ? decision.nextAttemptAt : null;
      let moved = 0;
      for (const deliveryId of input.members ?? [input.deliveryId]) {
        moved += this.moveDelivery.run(
          statusAfter(decision),
          next,
          attempt.number,
          attempt.startedAt,
          input.now,
          input.environmentId,
          deliveryId,
          input.workerId,
        ).changes;
      }
      return moved > 0 ? { ...UNSETTLED, settled: true } : UNSETTLED;
    });
    this.countBreakers(inputs, effects);
    for (const group of groupFinalOutcomes(inputs, effects)) {
      const row = this.readHealth.get(group.environmentId, group.subscriptionId) as
        | { status: string; consecutive_failures: number; disable_after_failures: number }
        | undefined;
      if (!row) continue;
      const before = {
        status: row.status as SubscriptionStatus,
        consecutiveFailures: row.consecutive_failures,
        disableAfterFailures: row.disable_after_failures,
      };
      const outcomes: FinalOutcome[] = group.indexes.map((i) => finalOutcome((inputs[i] as SettleInput).decision));
      const { health, effects: counted } = applyOutcomes(before, outcomes);
      group.indexes.forEach((index, k) => {
        effects[index] = { ...(effects[index] as SettleEffects), ...(counted[k] as SettleEffects) };
      });
      const disabled = counted.find((e) => e.disabled)?.disabled ?? null;
      if (health.consecutiveFailures === before.consecutiveFailures && !disabled) continue;
      const now = (inputs[group.indexes[0] as number] as SettleInput).now;
      this.writeHealth.run(
        health.consecutiveFailures,
        health.status,
        disabled,
        disabled,
        disabled,
        disabled,
        now,
        group.environmentId,
        group.subscriptionId,
      );
    }
    return effects;
  }

  /** Every attempt moves its lane's breaker (domain/circuit-breaker.ts); a change is told with the attempt that made it. */
  private countBreakers(inputs: readonly SettleInput[], effects: SettleEffects[]): void {
    for (const group of groupAttempts(inputs, effects)) {
      const row = this.readBreaker.get(group.environmentId, group.subscriptionId) as Parameters<typeof breakerOf>[0] | undefined;
      if (!row) continue;
      const before = breakerOf(row);
      const outcomes = group.indexes.map((i) => (inputs[i] as SettleInput).decision.kind === 'succeeded');
      if (outcomes.every(Boolean) && before.failures === 0 && before.openedAt === null) continue;
      const now = (inputs[group.indexes[group.indexes.length - 1] as number] as SettleInput).now;
      const { breaker, change } = afterAttempts(before, outcomes, now);
      this.writeBreaker.run(breaker.failures, breaker.openedAt, breaker.probeAt, breaker.cooldownMs, group.environmentId, group.subscriptionId);
      const last = group.indexes[group.indexes.length - 1] as number;
      if (change) effects[last] = { ...(effects[last] as SettleEffects), breaker: breakerEffect(change, breaker) };
    }
  }
}
