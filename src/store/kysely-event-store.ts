/**
 * The events half of the shared store body: accepting a publish batch (each dialect supplies the
 * hot path, acceptBatch), listing and reading events, and the month's usage.
 */
import { type Kysely, sql } from 'kysely';
import type { Page, PageRequest, StoredEvent } from '../domain/types.ts';
import { newDeliveryToRow } from './delivery-rows.ts';
import type { NewDelivery } from './delivery-store.ts';
import { NEWEST_FIRST, pageQuery, toPage } from './keyset.ts';
import { KyselyStore } from './kysely-store.ts';
import * as rows from './rows.ts';
import type { Database, DeliveriesTable, EventsTable } from './schema.ts';
import type { AcceptOutcome, EventListFilter, QuotaCheck } from './store.ts';

/** What a dialect's acceptBatch answers when the quota refuses the batch (having stored nothing). */
export const QUOTA_EXCEEDED = Symbol('quota exceeded');

/** Statuses and delivery counts of a batch, given the ids that were stored. */
function acceptedOutcome(
  events: readonly StoredEvent[],
  deliveries: readonly NewDelivery[],
  insertedIds: readonly string[],
): AcceptOutcome {
  const inserted = new Set(insertedIds);
  const perEvent = new Map<string, number>();
  for (const d of deliveries) if (inserted.has(d.eventId)) perEvent.set(d.eventId, (perEvent.get(d.eventId) ?? 0) + 1);
  // The first occurrence of an inserted id is the accepted one; any repeat is a duplicate.
  const statuses = events.map((e): 'accepted' | 'duplicate' => (inserted.delete(e.id) ? 'accepted' : 'duplicate'));
  const counts = events.map((e, i) => (statuses[i] === 'accepted' ? (perEvent.get(e.id) ?? 0) : 0));
  return { kind: 'accepted', statuses, deliveries: counts };
}

/** Events on top of the registry; KyselyDeliveryStore adds the rest of Store. */
export abstract class KyselyEventStore extends KyselyStore {
  async acceptEvents(
    environmentId: string,
    events: readonly StoredEvent[],
    quota: QuotaCheck,
    deliveries: readonly NewDelivery[] = [],
  ): Promise<AcceptOutcome> {
    const eventRows = events.map((e) => rows.eventToRow(environmentId, e));
    const deliveryRows = deliveries.map((d) => newDeliveryToRow(environmentId, d));
    const fifoLanes = [...new Set(deliveries.filter((d) => d.fifo).map((d) => d.subscriptionId))].sort();
    const stored = await this.acceptBatch(environmentId, eventRows, deliveryRows, quota, fifoLanes);
    if (stored === QUOTA_EXCEEDED) {
      return { kind: 'quota_exceeded', published: await this.usageIn(this.db, environmentId, quota.month) };
    }
    return acceptedOutcome(events, deliveries, stored);
  }

  /**
   * Stores the batch's events and the deliveries of those that went in, and counts them against
   * the month's quota, atomically. The ids of the events stored, or QUOTA_EXCEEDED having stored
   * nothing. Each dialect has its own (hot path): one statement on PostgreSQL, prepared
   * statements on SQLite's raw connection. `fifoLanes` are the FIFO subscriptions the deliveries go
   * to: a FIFO lane's order is commit order, so a publish holds their lanes while it adds to them
   * (on SQLite, one writer at a time, commit order is insertion order already).
   */
  protected abstract acceptBatch(
    environmentId: string,
    eventRows: readonly EventsTable[],
    deliveryRows: readonly DeliveriesTable[],
    quota: QuotaCheck,
    fifoLanes: readonly string[],
  ): Promise<string[] | typeof QUOTA_EXCEEDED>;

  private async usageIn(db: Kysely<Database>, environmentId: string, month: string): Promise<number> {
    // The month's count is spread over shard rows: their sum.
    const row = await db
      .selectFrom('monthly_usage')
      .select(sql<number | string | null>`sum(published)`.as('published'))
      .where('environment_id', '=', environmentId)
      .where('month', '=', month)
      .executeTakeFirst();
    return Number(row?.published ?? 0);
  }

  async listEvents(environmentId: string, filter: EventListFilter, page: PageRequest): Promise<Page<StoredEvent>> {
    let query = this.db.selectFrom('events').selectAll().where('environment_id', '=', environmentId);
    if (filter.type !== undefined) query = query.where('type', '=', filter.type);
    if (filter.since !== undefined) query = query.where('created_at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('created_at', '<', filter.until);
    if (filter.topic !== undefined) {
      const topic = filter.topic;
      // A topic's events: those published to it, and global publishes of a type it contains.
      query = query.where((eb) =>
        eb.or([
          eb('topic', '=', topic),
          eb.and([
            eb('topic', 'is', null),
            eb(
              'type',
              'in',
              eb
                .selectFrom('topic_event_types')
                .select('event_type')
                .where('topic_event_types.environment_id', '=', environmentId)
                .where('topic_event_types.topic', '=', topic),
            ),
          ]),
        ]),
      );
    }
    const found = await pageQuery(query, NEWEST_FIRST, page).execute();
    return toPage(found, page, NEWEST_FIRST, rows.eventFromRow);
  }

  async getEvent(environmentId: string, id: string): Promise<StoredEvent | null> {
    const row = await this.db
      .selectFrom('events')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? rows.eventFromRow(row) : null;
  }

  async getMonthlyUsage(environmentId: string, month: string): Promise<number> {
    return this.usageIn(this.db, environmentId, month);
  }
}
