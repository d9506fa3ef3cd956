/**
 * Settling a batch on SQLite without Kysely: prepared single-row statements run synchronously in
 * one transaction. Building, compiling and awaiting the batch's multi-row statements through
 * Kysely cost more than SQLite's own work. Only batches without a final failure come here (each
 * subscription's count is then only reset); one with a failure, which can disable a subscription
 * part way through, is settled by settleBatch, as on PostgreSQL.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { attemptToRow } from '../delivery-rows.ts';
import type { SettleEffects, SettleInput } from '../delivery-store.ts';

export class SqliteSettle {
  private readonly insertAttempt: BetterSqlite3.Statement;
  private readonly moveDelivery: BetterSqlite3.Statement;
  private readonly resetFailures: BetterSqlite3.Statement;

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
    this.resetFailures = raw.prepare(
      'UPDATE subscriptions SET consecutive_failures = 0 WHERE environment_id = ? AND id = ? AND consecutive_failures > 0',
    );
  }

  /** Whether settle() takes this batch: no final failure in it. */
  static takes(inputs: readonly SettleInput[]): boolean {
    return inputs.every((input) => input.decision.kind !== 'failed');
  }

  /** Runs inside the caller's transaction; effects in input order, as settleBatch gives them. */
  settle(inputs: readonly SettleInput[]): SettleEffects[] {
    const effects: SettleEffects[] = [];
    /** Subscriptions with a success in the batch, and the first such input of each. */
    const succeeded = new Map<string, { environmentId: string; subscriptionId: string; first: number }>();
    inputs.forEach((input, index) => {
      const { decision, attempt } = input;
      this.insertAttempt.run(attemptToRow(input.environmentId, attempt));
      const status = decision.kind === 'retry' ? 'pending' : decision.kind;
      const next = decision.kind === 'retry' ? decision.nextAttemptAt : null;
      const moved = this.moveDelivery.run(
        status,
        next,
        attempt.number,
        attempt.startedAt,
        input.now,
        input.environmentId,
        input.deliveryId,
        input.workerId,
      );
      const settled = moved.changes > 0;
      effects.push({ settled, recovered: false, disabled: null, consecutiveFailures: 0 });
      if (settled && decision.kind === 'succeeded') {
        const key = `${input.environmentId}\u0000${attempt.subscriptionId}`;
        if (!succeeded.has(key)) succeeded.set(key, { environmentId: input.environmentId, subscriptionId: attempt.subscriptionId, first: index });
      }
    });
    for (const s of succeeded.values()) {
      if (this.resetFailures.run(s.environmentId, s.subscriptionId).changes > 0) {
        effects[s.first] = { ...(effects[s.first] as SettleEffects), recovered: true };
      }
    }
    return effects;
  }
}
