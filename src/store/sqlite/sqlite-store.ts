/** Embedded SQLite (better-sqlite3, WAL): the default store. One process owns the database. */
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
import type { Database } from '../schema.ts';
import type { ClaimOptions, ClaimedDelivery } from '../delivery-store.ts';
import { claimedFromRow } from '../delivery-rows.ts';
import { claimDueOnSqlite } from './sqlite-claim.ts';
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

  private constructor(
    private readonly raw: BetterSqlite3.Database,
    private readonly checkpointer: WalCheckpointer | null,
  ) {
    super(new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: cachingDatabase(raw) }) }));
  }

  /** Opens (creating if needed) the database file at `path`. */
  static open(path: string): SqliteStore {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const raw = new BetterSqlite3(path);
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('busy_timeout = 5000');
    raw.pragma('foreign_keys = ON');
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

  async claimDueDeliveries(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    // One process owns a SQLite queue: nothing to serialise with, only a transaction to keep.
    return this.db.transaction().execute(async (trx) => (await claimDueOnSqlite(trx, options)).map(claimedFromRow));
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    await this.db.destroy();
  }
}
