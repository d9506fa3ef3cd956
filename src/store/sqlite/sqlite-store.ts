/**
 * Embedded SQLite (better-sqlite3, WAL): the default store. One process owns the database. The
 * hot paths (publishing here in sqlite-accept.ts; claiming and settling in src/queue/) run
 * prepared statements on the raw connection; everything else goes through the Kysely body shared
 * with PostgreSQL.
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
import type { QUOTA_EXCEEDED } from '../kysely-event-store.ts';
import type { Database, DeliveriesTable, EventsTable } from '../schema.ts';
import type { QuotaCheck } from '../store.ts';
import { SqliteAccept } from './sqlite-accept.ts';
import { SqliteQueue } from '../../queue/sqlite-queue.ts';
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
  private hotPath: { accept: SqliteAccept } | null = null;
  readonly queue: SqliteQueue;

  private constructor(
    private readonly raw: BetterSqlite3.Database,
    private readonly checkpointer: WalCheckpointer | null,
  ) {
    super(new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: cachingDatabase(raw) }) }));
    this.queue = new SqliteQueue(raw, (work) => this.exclusive(work));
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
    this.hotPath ??= { accept: new SqliteAccept(this.raw) };
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

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    await this.db.destroy();
  }
}
