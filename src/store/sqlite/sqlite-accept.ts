/**
 * Accepting a publish batch on SQLite without Kysely: events, the deliveries of those that went
 * in, and the month's usage within the quota, as prepared single-row statements run
 * synchronously in one transaction (Kysely's building, compiling and awaiting of the batch's
 * statements and of the usage upsert cost more than SQLite's own work). A duplicate id is
 * skipped, not an error; a batch that does not fit the quota stores nothing.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { QUOTA_EXCEEDED } from '../kysely-event-store.ts';
import type { DeliveriesTable, EventsTable } from '../schema.ts';
import type { QuotaCheck } from '../store.ts';

class QuotaExceeded extends Error {}

// The month's usage may be spread over shard rows (PostgreSQL's concurrent publishes use them); a
// SQLite database has one writer at a time, so it counts into shard 0 only and that row is the sum.
const USAGE = `INSERT INTO monthly_usage (environment_id, month, shard, published) VALUES (?, ?, 0, ?)
  ON CONFLICT (environment_id, month, shard) DO UPDATE SET published = monthly_usage.published + excluded.published`;

export class SqliteAccept {
  private readonly insertEvent: BetterSqlite3.Statement;
  private readonly insertDelivery: BetterSqlite3.Statement;
  private readonly countUsage: BetterSqlite3.Statement;
  private readonly countUsageWithin: BetterSqlite3.Statement;

  constructor(private readonly raw: BetterSqlite3.Database) {
    this.insertEvent = raw.prepare(`INSERT INTO events (environment_id, id, type, source, subject, time, data_json,
      context_json, topic, deliver_at, cancelled_at, created_at)
      VALUES (@environment_id, @id, @type, @source, @subject, @time, @data_json, @context_json, @topic, @deliver_at,
      @cancelled_at, @created_at)
      ON CONFLICT (environment_id, id) DO NOTHING`);
    this.insertDelivery = raw.prepare(`INSERT INTO deliveries (environment_id, id, event_id, subscription_id, topic,
      status, attempts, next_attempt_at, last_attempt_at, locked_by, lock_expires_at, created_at, updated_at)
      VALUES (@environment_id, @id, @event_id, @subscription_id, @topic, @status, @attempts, @next_attempt_at,
      @last_attempt_at, @locked_by, @lock_expires_at, @created_at, @updated_at)`);
    this.countUsage = raw.prepare(`${USAGE} RETURNING published`);
    // The upsert adds the count only while the month stays within the limit; else it returns no row.
    this.countUsageWithin = raw.prepare(`${USAGE} WHERE monthly_usage.published + excluded.published <= ? RETURNING published`);
  }

  /** The ids of the events that went in, in batch order; QUOTA_EXCEEDED having stored nothing. */
  accept(
    environmentId: string,
    eventRows: readonly EventsTable[],
    deliveryRows: readonly DeliveriesTable[],
    quota: QuotaCheck,
  ): string[] | typeof QUOTA_EXCEEDED {
    try {
      return this.raw
        .transaction(() => {
          const fresh = new Set<string>();
          for (const row of eventRows) {
            if (this.insertEvent.run(row).changes > 0) fresh.add(row.id);
          }
          for (const row of deliveryRows) {
            if (fresh.has(row.event_id)) this.insertDelivery.run(row);
          }
          if (fresh.size > 0 && quota.count !== false) {
            const { month, limit } = quota;
            if (limit !== null && fresh.size > limit) throw new QuotaExceeded();
            const counted =
              limit === null
                ? this.countUsage.get(environmentId, month, fresh.size)
                : this.countUsageWithin.get(environmentId, month, fresh.size, limit);
            if (counted === undefined) throw new QuotaExceeded();
          }
          return [...fresh];
        })
        .immediate();
    } catch (error) {
      if (error instanceof QuotaExceeded) return QUOTA_EXCEEDED;
      throw error;
    }
  }
}
