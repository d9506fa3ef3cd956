/**
 * The body of both stores: every query written once with Kysely. Dialect subclasses supply
 * migrations, locking and connection handling, and the hot paths written for each (accepting a
 * publish batch: kysely-event-store.ts; claiming and settling: src/queue/).
 */
import { type Kysely, type Transaction, sql } from 'kysely';
import type {
  ApiKey,
  App,
  Category,
  Environment,
  EventType,
  Page,
  PageRequest,
  StoredApiKey,
  Topic,
} from '../domain/types.ts';
import { invalid } from '../errors.ts';
import { BY_ID, BY_NAME, pageQuery, toPage } from './keyset.ts';
import * as rows from './rows.ts';
import type { DeliveryStore } from './delivery-store.ts';
import { type Database, ENVIRONMENT_TABLES } from './schema.ts';
import type { DeleteOutcome, Dialect, Store } from './store.ts';

/** Rows per multi-row INSERT: well under both dialects' bound-parameter limits. */
const INSERT_CHUNK = 200;

/** The registry half; KyselyEventStore adds events, KyselyDeliveryStore the rest of Store. */
export abstract class KyselyStore
  implements Omit<Store, keyof DeliveryStore | 'queue' | 'acceptEvents' | 'listEvents' | 'getEvent' | 'getMonthlyUsage'>
{
  abstract readonly dialect: Dialect;

  constructor(protected readonly db: Kysely<Database>) {}

  abstract migrate(): Promise<void>;
  abstract close(): Promise<void>;
  /** Serialises first-start bootstrap across processes (inside `trx`). */
  protected abstract lockForBootstrap(trx: Transaction<Database>): Promise<void>;

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  // ── environments ────────────────────────────────────────────────────────────

  async bootstrapFirstEnvironment(env: Environment, adminKey: StoredApiKey): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await this.lockForBootstrap(trx);
      const existing = await trx.selectFrom('environments').select('id').limit(1).executeTakeFirst();
      if (existing) return false;
      await trx.insertInto('environments').values(rows.environmentToRow(env)).execute();
      await trx.insertInto('api_keys').values(rows.apiKeyToRow(adminKey)).execute();
      return true;
    });
  }

  async insertEnvironment(env: Environment, adminKey: StoredApiKey): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('environments').values(rows.environmentToRow(env)).execute();
      await trx.insertInto('api_keys').values(rows.apiKeyToRow(adminKey)).execute();
    });
  }

  async listEnvironments(page: PageRequest): Promise<Page<Environment>> {
    const found = await pageQuery(this.db.selectFrom('environments').selectAll(), BY_ID, page).execute();
    return toPage(found, page, BY_ID, rows.environmentFromRow);
  }

  async getEnvironment(id: string): Promise<Environment | null> {
    const row = await this.db.selectFrom('environments').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? rows.environmentFromRow(row) : null;
  }

  async updateEnvironment(env: Environment): Promise<void> {
    const { id: _id, created_at: _c, ...changes } = rows.environmentToRow(env);
    await this.db.updateTable('environments').set(changes).where('id', '=', env.id).execute();
  }

  async deleteEnvironment(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('environments').where('id', '=', id).executeTakeFirst();
      if (result.numDeletedRows === 0n) return false;
      for (const table of ENVIRONMENT_TABLES) {
        await trx.deleteFrom(table).where('environment_id', '=', id).execute();
      }
      return true;
    });
  }

  // ── api keys ────────────────────────────────────────────────────────────────

  async insertApiKey(key: StoredApiKey): Promise<void> {
    await this.db.insertInto('api_keys').values(rows.apiKeyToRow(key)).execute();
  }

  async listApiKeys(environmentId: string, page: PageRequest): Promise<Page<ApiKey>> {
    const query = this.db.selectFrom('api_keys').selectAll().where('environment_id', '=', environmentId);
    const found = await pageQuery(query, BY_ID, page).execute();
    return toPage(found, page, BY_ID, (row) => rows.publicApiKey(rows.apiKeyFromRow(row)));
  }

  async getApiKey(environmentId: string, id: string): Promise<StoredApiKey | null> {
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? rows.apiKeyFromRow(row) : null;
  }

  async deleteApiKey(environmentId: string, id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('api_keys')
      .where('environment_id', '=', environmentId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  // ── categories ──────────────────────────────────────────────────────────────

  async insertCategory(environmentId: string, category: Category): Promise<boolean> {
    const result = await this.db
      .insertInto('categories')
      .values(rows.categoryToRow(environmentId, category))
      .onConflict((oc) => oc.columns(['environment_id', 'name']).doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  async listCategories(environmentId: string, page: PageRequest): Promise<Page<Category>> {
    const query = this.db.selectFrom('categories').selectAll().where('environment_id', '=', environmentId);
    const found = await pageQuery(query, BY_NAME, page).execute();
    return toPage(found, page, BY_NAME, rows.categoryFromRow);
  }

  async getCategory(environmentId: string, name: string): Promise<Category | null> {
    const row = await this.db
      .selectFrom('categories')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? rows.categoryFromRow(row) : null;
  }

  async updateCategory(environmentId: string, category: Category): Promise<void> {
    await this.db
      .updateTable('categories')
      .set({ description: category.description, updated_at: category.updatedAt })
      .where('environment_id', '=', environmentId)
      .where('name', '=', category.name)
      .execute();
  }

  async deleteCategory(environmentId: string, name: string): Promise<DeleteOutcome> {
    return this.db.transaction().execute(async (trx) => {
      const user = await trx
        .selectFrom('event_types')
        .select('name')
        .where('environment_id', '=', environmentId)
        .where('category', '=', name)
        .limit(1)
        .executeTakeFirst();
      if (user) return 'in_use';
      const result = await trx
        .deleteFrom('categories')
        .where('environment_id', '=', environmentId)
        .where('name', '=', name)
        .executeTakeFirst();
      return result.numDeletedRows > 0n ? 'deleted' : 'not_found';
    });
  }

  // ── event types ─────────────────────────────────────────────────────────────

  async insertEventType(environmentId: string, eventType: EventType): Promise<boolean> {
    const result = await this.db
      .insertInto('event_types')
      .values(rows.eventTypeToRow(environmentId, eventType))
      .onConflict((oc) => oc.columns(['environment_id', 'name']).doNothing())
      .executeTakeFirst();
    return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  async listEventTypes(
    environmentId: string,
    filter: { category?: string; includeArchived: boolean },
    page: PageRequest,
  ): Promise<Page<EventType>> {
    let query = this.db.selectFrom('event_types').selectAll().where('environment_id', '=', environmentId);
    if (filter.category !== undefined) query = query.where('category', '=', filter.category);
    if (!filter.includeArchived) query = query.where('archived_at', 'is', null);
    const found = await pageQuery(query, BY_NAME, page).execute();
    return toPage(found, page, BY_NAME, rows.eventTypeFromRow);
  }

  async getEventType(environmentId: string, name: string): Promise<EventType | null> {
    const row = await this.db
      .selectFrom('event_types')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? rows.eventTypeFromRow(row) : null;
  }

  async getEventTypes(environmentId: string, names: readonly string[]): Promise<Map<string, EventType>> {
    const found = new Map<string, EventType>();
    const unique = [...new Set(names)];
    for (let i = 0; i < unique.length; i += INSERT_CHUNK) {
      const chunk = unique.slice(i, i + INSERT_CHUNK);
      const list = await this.db
        .selectFrom('event_types')
        .selectAll()
        .where('environment_id', '=', environmentId)
        .where('name', 'in', chunk)
        .execute();
      for (const row of list) found.set(row.name, rows.eventTypeFromRow(row));
    }
    return found;
  }

  async updateEventType(environmentId: string, eventType: EventType): Promise<void> {
    const { environment_id: _e, name: _n, created_at: _c, ...changes } = rows.eventTypeToRow(environmentId, eventType);
    await this.db
      .updateTable('event_types')
      .set(changes)
      .where('environment_id', '=', environmentId)
      .where('name', '=', eventType.name)
      .execute();
  }

  // ── apps ────────────────────────────────────────────────────────────────────

  async insertApp(environmentId: string, app: App): Promise<void> {
    await this.db.insertInto('apps').values(rows.appToRow(environmentId, app)).execute();
  }

  async listApps(environmentId: string, page: PageRequest): Promise<Page<App>> {
    const query = this.db.selectFrom('apps').selectAll().where('environment_id', '=', environmentId);
    const found = await pageQuery(query, BY_ID, page).execute();
    return toPage(found, page, BY_ID, rows.appFromRow);
  }

  async getApp(environmentId: string, id: string): Promise<App | null> {
    const row = await this.db
      .selectFrom('apps')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? rows.appFromRow(row) : null;
  }

  async updateApp(environmentId: string, app: App): Promise<void> {
    await this.db
      .updateTable('apps')
      .set({ name: app.name, permissions: JSON.stringify(app.permissions), updated_at: app.updatedAt })
      .where('environment_id', '=', environmentId)
      .where('id', '=', app.id)
      .execute();
  }

  /**
   * Whether the app exists, locking its row on PostgreSQL: `update` in deleteApp, `share` in topic
   * writes, so a topic that takes the app and the app's deletion cannot both succeed. (SQLite runs
   * one transaction at a time.)
   */
  private async lockApp(trx: Transaction<Database>, environmentId: string, id: string, mode: 'share' | 'update') {
    let query = trx.selectFrom('apps').select('id').where('environment_id', '=', environmentId).where('id', '=', id);
    if (this.dialect === 'postgres') query = mode === 'share' ? query.forShare() : query.forUpdate();
    return (await query.executeTakeFirst()) !== undefined;
  }

  /** Inside a topic write: its app, if any, must still exist (it may have been deleted since core checked). */
  private async checkTopicApp(trx: Transaction<Database>, environmentId: string, topic: Topic): Promise<void> {
    if (topic.appId === null || (await this.lockApp(trx, environmentId, topic.appId, 'share'))) return;
    throw invalid('the topic is not valid', [{ path: '/appId', message: `unknown app ${topic.appId}` }]);
  }

  async deleteApp(environmentId: string, id: string): Promise<DeleteOutcome> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.lockApp(trx, environmentId, id, 'update'))) return 'not_found';
      const owned = await trx
        .selectFrom('topics')
        .select('name')
        .where('environment_id', '=', environmentId)
        .where('app_id', '=', id)
        .limit(1)
        .executeTakeFirst();
      if (owned) return 'in_use';
      const result = await trx
        .deleteFrom('apps')
        .where('environment_id', '=', environmentId)
        .where('id', '=', id)
        .executeTakeFirst();
      return result.numDeletedRows > 0n ? 'deleted' : 'not_found';
    });
  }

  // ── topics ──────────────────────────────────────────────────────────────────

  private async writeTopicEventTypes(trx: Transaction<Database>, environmentId: string, topic: Topic) {
    await trx
      .deleteFrom('topic_event_types')
      .where('environment_id', '=', environmentId)
      .where('topic', '=', topic.name)
      .execute();
    const links = [...new Set(topic.eventTypes)].map((eventType) => ({
      environment_id: environmentId,
      topic: topic.name,
      event_type: eventType,
    }));
    for (let i = 0; i < links.length; i += INSERT_CHUNK) {
      await trx.insertInto('topic_event_types').values(links.slice(i, i + INSERT_CHUNK)).execute();
    }
  }

  private async eventTypesOf(
    db: Kysely<Database>,
    environmentId: string,
    topics: readonly string[],
  ): Promise<Map<string, string[]>> {
    const byTopic = new Map<string, string[]>(topics.map((t) => [t, []]));
    if (topics.length === 0) return byTopic;
    const links = await db
      .selectFrom('topic_event_types')
      .select(['topic', 'event_type'])
      .where('environment_id', '=', environmentId)
      .where('topic', 'in', topics)
      .orderBy('event_type')
      .execute();
    for (const link of links) byTopic.get(link.topic)?.push(link.event_type);
    return byTopic;
  }

  async insertTopic(environmentId: string, topic: Topic): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await this.checkTopicApp(trx, environmentId, topic);
      const result = await trx
        .insertInto('topics')
        .values(rows.topicToRow(environmentId, topic))
        .onConflict((oc) => oc.columns(['environment_id', 'name']).doNothing())
        .executeTakeFirst();
      if ((result.numInsertedOrUpdatedRows ?? 0n) === 0n) return false;
      await this.writeTopicEventTypes(trx, environmentId, topic);
      return true;
    });
  }

  async listTopics(
    environmentId: string,
    page: PageRequest,
    visible?: { appIds: readonly string[] },
  ): Promise<Page<Topic>> {
    let query = this.db.selectFrom('topics').selectAll().where('environment_id', '=', environmentId);
    if (visible) {
      const appIds = visible.appIds;
      query = query.where((eb) =>
        appIds.length === 0 ? eb('app_id', 'is', null) : eb.or([eb('app_id', 'is', null), eb('app_id', 'in', appIds)]),
      );
    }
    const found = await pageQuery(query, BY_NAME, page).execute();
    const types = await this.eventTypesOf(
      this.db,
      environmentId,
      found.map((row) => row.name),
    );
    return toPage(found, page, BY_NAME, (row) => rows.topicFromRow(row, types.get(row.name) ?? []));
  }

  async getTopic(environmentId: string, name: string): Promise<Topic | null> {
    const row = await this.db
      .selectFrom('topics')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) return null;
    const types = await this.eventTypesOf(this.db, environmentId, [name]);
    return rows.topicFromRow(row, types.get(name) ?? []);
  }

  async updateTopic(environmentId: string, topic: Topic): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await this.checkTopicApp(trx, environmentId, topic);
      const result = await trx
        .updateTable('topics')
        .set({ description: topic.description, app_id: topic.appId, updated_at: topic.updatedAt })
        .where('environment_id', '=', environmentId)
        .where('name', '=', topic.name)
        .executeTakeFirst();
      // Deleted since it was read (a concurrent DELETE): writing its links would leave them orphaned.
      if (result.numUpdatedRows === 0n) return false;
      await this.writeTopicEventTypes(trx, environmentId, topic);
      return true;
    });
  }

  async deleteTopic(environmentId: string, name: string): Promise<DeleteOutcome> {
    return this.db.transaction().execute(async (trx) => {
      const subscribed = await trx
        .selectFrom('subscriptions')
        .select('id')
        .where('environment_id', '=', environmentId)
        .where('topic', '=', name)
        .limit(1)
        .executeTakeFirst();
      if (subscribed) return 'in_use';
      const result = await trx
        .deleteFrom('topics')
        .where('environment_id', '=', environmentId)
        .where('name', '=', name)
        .executeTakeFirst();
      if (result.numDeletedRows === 0n) return 'not_found';
      await trx
        .deleteFrom('topic_event_types')
        .where('environment_id', '=', environmentId)
        .where('topic', '=', name)
        .execute();
      return 'deleted';
    });
  }

  async topicsContaining(environmentId: string, eventTypes: readonly string[]): Promise<Map<string, string[]>> {
    const byType = new Map<string, string[]>(eventTypes.map((t) => [t, []]));
    const unique = [...byType.keys()];
    for (let i = 0; i < unique.length; i += INSERT_CHUNK) {
      const links = await this.db
        .selectFrom('topic_event_types')
        .select(['topic', 'event_type'])
        .where('environment_id', '=', environmentId)
        .where('event_type', 'in', unique.slice(i, i + INSERT_CHUNK))
        .orderBy('topic')
        .execute();
      for (const link of links) byType.get(link.event_type)?.push(link.topic);
    }
    return byType;
  }

}
