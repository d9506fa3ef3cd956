/**
 * The delivery half of the store, written once for both dialects: subscriptions, deliveries as
 * the API sees them and the attempt log. The queue itself is src/queue/.
 */
import { sql } from 'kysely';
import { CLOSED } from '../domain/circuit-breaker.ts';
import { FINAL_DELIVERY_STATUSES } from '../domain/delivery-status.ts';
import { breakerOf } from '../queue/lane-plan.ts';
import type { Attempt, Delivery, DeliveryStatus, Page, PageRequest, StoredEvent, Subscription } from '../domain/types.ts';
import { DELIVERY_INSERT, insertRows } from './bulk-insert.ts';
import * as rows from './delivery-rows.ts';
import type { Queue } from '../queue/queue.ts';
import type {
  DeliveryFilter,
  FanoutTarget,
  NewDelivery,
  PruneCursor,
  PruneRound,
  SubscriptionFilter,
  SubscriptionStats,
} from './delivery-store.ts';
import { type KeyOrder, NEWEST_FIRST, pageQuery, toPage } from './keyset.ts';
import { KyselyEventStore } from './kysely-event-store.ts';
import { pruneRound } from './retention.ts';
import { eventFromRow } from './rows.ts';
import type { Store } from './store.ts';

/**
 * The waiting deliveries' partial-index predicate, as a literal: SQLite uses a partial index only
 * when the query repeats its WHERE term exactly, and Kysely would send the statuses as parameters.
 */
const WAITING = sql<boolean>`status IN ('pending', 'scheduled')`;
const BY_SUBSCRIPTION_ID: KeyOrder = { columns: [{ column: 'id', type: 'string' }], direction: 'asc' };
const BY_NUMBER: KeyOrder = { columns: [{ column: 'number', type: 'number' }], direction: 'asc' };
/** How many recent attempts the latency percentiles of `stats` look at. */
const STATS_WINDOW = 1000;

export abstract class KyselyDeliveryStore extends KyselyEventStore implements Store {
  abstract readonly queue: Queue;

  // ── subscriptions ───────────────────────────────────────────────────────────

  /** With its lane: the row the queue's claims lock (src/queue/). */
  async insertSubscription(environmentId: string, subscription: Subscription): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .insertInto('subscriptions')
        .values({ ...rows.subscriptionToRow(environmentId, subscription), email_pending_since: null })
        .onConflict((oc) => oc.columns(['environment_id', 'topic', 'name']).doNothing())
        .executeTakeFirst();
      if ((result.numInsertedOrUpdatedRows ?? 0n) === 0n) return false;
      await trx.insertInto('lanes').values({ environment_id: environmentId, subscription_id: subscription.id }).execute();
      return true;
    });
  }

  async listSubscriptions(
    environmentId: string,
    filter: SubscriptionFilter,
    page: PageRequest,
  ): Promise<Page<Subscription>> {
    let query = this.db.selectFrom('subscriptions').selectAll().where('environment_id', '=', environmentId);
    if (filter.topic !== undefined) query = query.where('topic', '=', filter.topic);
    if (filter.customId !== undefined) query = query.where('custom_id', '=', filter.customId);
    if (filter.topics !== undefined) {
      if (filter.topics.length === 0) return { data: [], nextAfter: null };
      query = query.where('topic', 'in', filter.topics);
    }
    const found = await pageQuery(query, BY_SUBSCRIPTION_ID, page).execute();
    return toPage(found, page, BY_SUBSCRIPTION_ID, rows.subscriptionFromRow);
  }

  async getSubscription(environmentId: string, id: string): Promise<Subscription | null> {
    const row = await this.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? rows.subscriptionFromRow(row) : null;
  }

  async updateSubscription(
    environmentId: string,
    subscription: Subscription,
    expectedVersion: number,
    options: { resetFailures?: boolean } = {},
  ): Promise<'updated' | 'stale' | 'name_taken'> {
    return this.db.transaction().execute(async (trx) => {
      const clash = await trx
        .selectFrom('subscriptions')
        .select('id')
        .where('environment_id', '=', environmentId)
        .where('topic', '=', subscription.topic)
        .where('name', '=', subscription.name)
        .where('id', '<>', subscription.id)
        .executeTakeFirst();
      if (clash) return 'name_taken';
      const {
        environment_id: _e,
        id: _i,
        created_at: _c,
        consecutive_failures: _f,
        last_email_at: _l,
        ...changes
      } = rows.subscriptionToRow(environmentId, subscription);
      const result = await trx
        .updateTable('subscriptions')
        .set(options.resetFailures ? { ...changes, consecutive_failures: 0 } : changes)
        .where('environment_id', '=', environmentId)
        .where('id', '=', subscription.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n ? 'updated' : 'stale';
    });
  }

  async deleteSubscription(environmentId: string, id: string, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .deleteFrom('subscriptions')
        .where('environment_id', '=', environmentId)
        .where('id', '=', id)
        .executeTakeFirst();
      if (result.numDeletedRows === 0n) return false;
      await trx.deleteFrom('lanes').where('environment_id', '=', environmentId).where('subscription_id', '=', id).execute();
      await trx
        .updateTable('deliveries')
        .set({ status: 'cancelled', updated_at: now })
        .where('environment_id', '=', environmentId)
        .where('subscription_id', '=', id)
        .where(WAITING)
        .execute();
      return true;
    });
  }

  async fanoutTargets(environmentId: string, topics: readonly string[]): Promise<FanoutTarget[]> {
    if (topics.length === 0) return [];
    const found = await this.db
      .selectFrom('subscriptions')
      .select(['id', 'topic', 'events_json', 'scope_permissions_json', 'ordering'])
      .where('environment_id', '=', environmentId)
      .where('topic', 'in', [...new Set(topics)])
      .where('status', '=', 'enabled')
      .orderBy('id')
      .execute();
    return found.map(rows.fanoutTargetFromRow);
  }

  async markEmailPending(environmentId: string, subscriptionId: string, since: number): Promise<void> {
    await this.db
      .updateTable('subscriptions')
      // Keeps the latest mark, so recordEmailSent can tell news that came in while an email was being sent.
      .set({
        email_pending_since: sql<number>`CASE WHEN email_pending_since IS NULL OR email_pending_since < ${since} THEN ${since} ELSE email_pending_since END`,
      })
      .where('environment_id', '=', environmentId)
      .where('id', '=', subscriptionId)
      .execute();
  }

  async subscriptionsOwedEmail(
    lastEmailBefore: number,
    limit: number,
  ): Promise<{ environmentId: string; subscription: Subscription }[]> {
    const found = await this.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('email_pending_since', 'is not', null)
      .where((eb) => eb.or([eb('last_email_at', 'is', null), eb('last_email_at', '<=', lastEmailBefore)]))
      .limit(limit)
      .execute();
    return found.map((row) => ({ environmentId: row.environment_id, subscription: rows.subscriptionFromRow(row) }));
  }

  async claimEmailBudget(
    environmentId: string,
    subscriptionId: string,
    at: number,
    lastEmailBefore: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('subscriptions')
      .set({ last_email_at: at })
      .where('environment_id', '=', environmentId)
      .where('id', '=', subscriptionId)
      .where('email_pending_since', 'is not', null)
      .where((eb) => eb.or([eb('last_email_at', 'is', null), eb('last_email_at', '<=', lastEmailBefore)]))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async recordEmailSent(environmentId: string, subscriptionId: string, at: number): Promise<void> {
    await this.db
      .updateTable('subscriptions')
      // A mark made after `at` (when the summary was put together) is not in it: it stays owed.
      .set({
        last_email_at: at,
        email_pending_since: sql<number | null>`CASE WHEN email_pending_since > ${at} THEN email_pending_since ELSE NULL END`,
      })
      .where('environment_id', '=', environmentId)
      .where('id', '=', subscriptionId)
      .execute();
  }

  // ── the queue ───────────────────────────────────────────────────────────────

  async insertDeliveries(environmentId: string, deliveries: readonly NewDelivery[]): Promise<void> {
    const deliveryRows = deliveries.map((d) => rows.newDeliveryToRow(environmentId, d));
    await insertRows(this.db, this.dialect, DELIVERY_INSERT, deliveryRows);
  }








  // ── logs ────────────────────────────────────────────────────────────────────

  async getDelivery(environmentId: string, id: string): Promise<Delivery | null> {
    const row = await this.db
      .selectFrom('deliveries')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? rows.deliveryFromRow(row) : null;
  }

  async listDeliveries(environmentId: string, filter: DeliveryFilter, page: PageRequest): Promise<Page<Delivery>> {
    let query = this.db.selectFrom('deliveries').selectAll().where('environment_id', '=', environmentId);
    if (filter.eventId !== undefined) query = query.where('event_id', '=', filter.eventId);
    if (filter.subscriptionId !== undefined) query = query.where('subscription_id', '=', filter.subscriptionId);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    const found = await pageQuery(query, NEWEST_FIRST, page).execute();
    return toPage(found, page, NEWEST_FIRST, rows.deliveryFromRow);
  }

  /** A delivery sent in a batch shows the batch's attempts (logged once, under the batch's id). */
  async listAttempts(environmentId: string, deliveryId: string, page: PageRequest): Promise<Page<Attempt>> {
    const owner = await this.db
      .selectFrom('deliveries')
      .select('batch_id')
      .where('environment_id', '=', environmentId)
      .where('id', '=', deliveryId)
      .executeTakeFirst();
    const query = this.db
      .selectFrom('attempts')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('delivery_id', '=', owner?.batch_id ?? deliveryId);
    const found = await pageQuery(query, BY_NUMBER, page).execute();
    return toPage(found, page, BY_NUMBER, rows.attemptFromRow);
  }

  pruneRound(horizon: number, limit: number, cursor: PruneCursor | null): Promise<PruneRound> {
    return pruneRound(this.db, this.dialect, horizon, limit, cursor);
  }

  async requeueDelivery(environmentId: string, id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('deliveries')
      // A delivery sent in a batch is retried as that batch (same `bat_…` id, as a retried event keeps its id).
      .set({ status: 'pending', next_attempt_at: now, updated_at: now })
      .where('environment_id', '=', environmentId)
      .where('id', '=', id)
      .where('status', 'in', FINAL_DELIVERY_STATUSES)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async cancelScheduledDeliveries(environmentId: string, eventId: string, now: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('deliveries')
        .set({ status: 'cancelled', updated_at: now })
        .where('environment_id', '=', environmentId)
        .where('event_id', '=', eventId)
        .where('status', '=', 'scheduled')
        .where('next_attempt_at', '>', now)
        .executeTakeFirst();
      await trx
        .updateTable('events')
        .set({ cancelled_at: now })
        .where('environment_id', '=', environmentId)
        .where('id', '=', eventId)
        .where('cancelled_at', 'is', null)
        .execute();
      return Number(result.numUpdatedRows);
    });
  }

  async eventsForReplay(
    environmentId: string,
    subscription: { id: string; topic: string },
    range: { since: number; until: number; onlyFailed: boolean },
    limit: number,
  ): Promise<StoredEvent[]> {
    let query = this.db
      .selectFrom('events')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('created_at', '>=', range.since)
      .where('created_at', '<', range.until)
      .where((eb) =>
        eb.or([
          eb('topic', '=', subscription.topic),
          eb.and([
            eb('topic', 'is', null),
            eb(
              'type',
              'in',
              eb
                .selectFrom('topic_event_types')
                .select('event_type')
                .where('topic_event_types.environment_id', '=', environmentId)
                .where('topic_event_types.topic', '=', subscription.topic),
            ),
          ]),
        ]),
      );
    if (range.onlyFailed) {
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('deliveries')
            .select('deliveries.id')
            .where('deliveries.environment_id', '=', environmentId)
            .where('deliveries.subscription_id', '=', subscription.id)
            .where('deliveries.status', '=', 'failed')
            .whereRef('deliveries.event_id', '=', 'events.id'),
        ),
      );
    }
    const found = await query.orderBy('created_at').orderBy('id').limit(limit).execute();
    return found.map(eventFromRow);
  }


  async subscriptionStats(environmentId: string, subscriptionId: string): Promise<SubscriptionStats> {
    const counts: Record<DeliveryStatus, number> = {
      scheduled: 0,
      pending: 0,
      delivering: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
    };
    const byStatus = await this.db
      .selectFrom('deliveries')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('environment_id', '=', environmentId)
      .where('subscription_id', '=', subscriptionId)
      .groupBy('status')
      .execute();
    for (const row of byStatus) counts[row.status as DeliveryStatus] = Number(row.n);
    const byOutcome = await this.db
      .selectFrom('attempts')
      .select(['outcome', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.max<number>('started_at').as('last')])
      .where('environment_id', '=', environmentId)
      .where('subscription_id', '=', subscriptionId)
      .groupBy('outcome')
      .execute();
    const recent = await this.db
      .selectFrom('attempts')
      .select('duration_ms')
      .where('environment_id', '=', environmentId)
      .where('subscription_id', '=', subscriptionId)
      .orderBy('started_at', 'desc')
      .limit(STATS_WINDOW)
      .execute();
    const lane = await this.db
      .selectFrom('lanes')
      .select(['breaker_failures', 'breaker_opened_at', 'breaker_probe_at', 'breaker_cooldown_ms'])
      .where('environment_id', '=', environmentId)
      .where('subscription_id', '=', subscriptionId)
      .executeTakeFirst();
    const outcome = (name: string) => byOutcome.find((row) => row.outcome === name);
    const lasts = byOutcome.map((row) => Number(row.last));
    return {
      counts,
      lastAttemptAt: lasts.length > 0 ? Math.max(...lasts) : null,
      recentDurationsMs: recent.map((row) => Number(row.duration_ms)),
      succeededAttempts: Number(outcome('succeeded')?.n ?? 0),
      failedAttempts: Number(outcome('failed')?.n ?? 0),
      breaker: lane ? breakerOf(lane) : CLOSED,
    };
  }
}
