/**
 * Embedded SQLite (better-sqlite3, WAL): the default store. One process owns the database. The
 * queue's hot path (publishing, claiming, settling) runs prepared statements on the raw
 * connection (sqlite-accept.ts, sqlite-claim.ts, sqlite-settle.ts); everything else goes through
 * the Kysely body shared with PostgreSQL.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';
import { KyselyDeliveryStore } from '../kysely-delivery-store.ts';
import { loadMigrations } from '../migrations.ts';
import { claimedFromRow, subscriptionFromRow } from '../delivery-rows.ts';
import type {
  ClaimOptions,
  ClaimedBatch,
  ClaimedDelivery,
  ClaimedWork,
  SettleEffects,
  SettleInput,
} from '../delivery-store.ts';
import type { QUOTA_EXCEEDED } from '../kysely-store.ts';
import { eventFromRow } from '../rows.ts';
import type { Database, DeliveriesTable, EventsTable, SubscriptionsTable } from '../schema.ts';
import type { QuotaCheck } from '../store.ts';
import { SqliteAccept } from './sqlite-accept.ts';
import { SqliteClaim } from './sqlite-claim.ts';
import { SqliteSettle } from './sqlite-settle.ts';
import { cachingDatabase } from './statement-cache.ts';
import { FALLBACK_AUTOCHECKPOINT_PAGES, WalCheckpointer } from './wal-checkpointer.ts';

/**
 * Transactions BEGIN IMMEDIATE: they take the write lock up front, so two processes on one file
 * (say `herald migrate` beside a server) wait on busy_timeout instead of failing with SQLITE_BUSY
 * when both try to upgrade a read lock.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }
}

export class SqliteStore extends KyselyDeliveryStore {
  readonly dialect = 'sqlite' as const;
  /** The queue's hot path, on the raw connection: prepared once the schema is there (see hot()). */
  private hotPath: {
    accept: SqliteAccept;
    claim: SqliteClaim;
    settle: SqliteSettle;
    event: BetterSqlite3.Statement;
    subscription: BetterSqlite3.Statement;
    nextDue: BetterSqlite3.Statement;
    nextDueAfter: BetterSqlite3.Statement;
  } | null = null;

  private constructor(
    private readonly raw: BetterSqlite3.Database,
    private readonly checkpointer: WalCheckpointer | null,
  ) {
    super(new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: cachingDatabase(raw) }) }));
  }

  /**
   * Runs `work` on the raw connection while Kysely holds it for us, so no Kysely transaction can be
   * open around it: Kysely awaits between a transaction's statements, and a raw statement run in
   * that gap would land inside someone else's transaction. `work` is synchronous, and opens its own.
   */
  private exclusive<T>(work: () => T): Promise<T> {
    return this.db.connection().execute(async () => work());
  }

  private hot() {
    this.hotPath ??= {
      accept: new SqliteAccept(this.raw),
      claim: new SqliteClaim(this.raw),
      settle: new SqliteSettle(this.raw),
      event: this.raw.prepare('SELECT * FROM events WHERE environment_id = ? AND id = ?'),
      subscription: this.raw.prepare('SELECT * FROM subscriptions WHERE environment_id = ? AND id = ?'),
      nextDue: this.raw.prepare("SELECT min(next_attempt_at) AS next FROM deliveries WHERE status IN ('pending', 'scheduled')"),
      nextDueAfter: this.raw.prepare(
        "SELECT min(next_attempt_at) AS next FROM deliveries WHERE status IN ('pending', 'scheduled') AND next_attempt_at > ?",
      ),
    };
    return this.hotPath;
  }

  /** Opens (creating if needed) the database file at `path`. */
  static open(path: string): SqliteStore {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const raw = new BetterSqlite3(path);
    try {
      // The first pragma reads the header and the schema: a file that is not a SQLite database, or
      // whose schema is damaged, fails here ("file is not a database", "disk image is malformed").
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
      raw.pragma('busy_timeout = 5000');
      raw.pragma('foreign_keys = ON');
    } catch (error) {
      raw.close();
      throw error;
    }
    if (path === ':memory:' || path === '') return new SqliteStore(raw, null);
    // Checkpoints run in a thread of their own (see wal-checkpointer.ts), not in our commits.
    raw.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    return new SqliteStore(raw, WalCheckpointer.start(path));
  }

  async migrate(): Promise<void> {
    this.raw.exec(
      'CREATE TABLE IF NOT EXISTS herald_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const isApplied = this.raw.prepare('SELECT 1 FROM herald_migrations WHERE version = ?');
    const record = this.raw.prepare('INSERT INTO herald_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const migration of loadMigrations('sqlite')) {
      // IMMEDIATE takes the write lock first, so a second process migrating waits, then skips.
      this.raw
        .transaction(() => {
          if (isApplied.get(migration.version)) return;
          this.raw.exec(migration.sql);
          record.run(migration.version, migration.name, Date.now());
        })
        .immediate();
    }
  }

  protected async lockForBootstrap(): Promise<void> {
    // Kysely runs SQLite transactions one at a time on the single connection: nothing to lock.
  }

  protected async acceptBatch(
    environmentId: string,
    eventRows: readonly EventsTable[],
    deliveryRows: readonly DeliveriesTable[],
    quota: QuotaCheck,
  ): Promise<string[] | typeof QUOTA_EXCEEDED> {
    const hot = this.hot();
    return this.exclusive(() => hot.accept.accept(environmentId, eventRows, deliveryRows, quota));
  }

  // One process owns a SQLite queue: nothing to serialise with, only a transaction to keep.
  async claimDueDeliveries(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    const hot = this.hot();
    return this.exclusive(() => this.raw.transaction(() => hot.claim.claim(options).rows.map(claimedFromRow)).immediate());
  }

  /** The claim and the reads of its events and subscriptions, in one transaction. */
  override async claimDueWork(options: ClaimOptions): Promise<ClaimedBatch> {
    const hot = this.hot();
    return this.exclusive(() =>
      this.raw
        .transaction(() => {
          const events = new Map<string, ClaimedWork['event']>();
          const subscriptions = new Map<string, ClaimedWork['subscription']>();
          const { rows, moreDue } = hot.claim.claim(options);
          const work = rows.map((row): ClaimedWork => {
            const eventKey = `${row.environment_id}\u0000${row.event_id}`;
            if (!events.has(eventKey)) {
              const found = hot.event.get(row.environment_id, row.event_id) as EventsTable | undefined;
              events.set(eventKey, found ? eventFromRow(found) : null);
            }
            const subscriptionKey = `${row.environment_id}\u0000${row.subscription_id}`;
            if (!subscriptions.has(subscriptionKey)) {
              const found = hot.subscription.get(row.environment_id, row.subscription_id) as SubscriptionsTable | undefined;
              subscriptions.set(subscriptionKey, found ? subscriptionFromRow(found) : null);
            }
            return {
              delivery: claimedFromRow(row),
              event: events.get(eventKey) ?? null,
              subscription: subscriptions.get(subscriptionKey) ?? null,
            };
          });
          return { work, moreDue };
        })
        .immediate(),
    );
  }

  override async settleDeliveries(inputs: readonly SettleInput[]): Promise<SettleEffects[]> {
    if (inputs.length === 0) return [];
    if (!SqliteSettle.takes(inputs)) return super.settleDeliveries(inputs);
    const hot = this.hot();
    return this.exclusive(() => this.raw.transaction(() => hot.settle.settle(inputs)).immediate());
  }

  override async nextDueAt(after?: number): Promise<number | null> {
    const hot = this.hot();
    const row = await this.exclusive(
      () => (after === undefined ? hot.nextDue.get() : hot.nextDueAfter.get(after)) as { next: number | null } | undefined,
    );
    return row?.next ?? null;
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    await this.db.destroy();
  }
}
