/** PostgreSQL: for several Herald processes sharing one database. */
import { Kysely, PostgresDialect, type Transaction, sql } from 'kysely';
import pg from 'pg';
import { KyselyDeliveryStore } from '../kysely-delivery-store.ts';
import { loadMigrations } from '../migrations.ts';
import type { QUOTA_EXCEEDED } from '../kysely-event-store.ts';
import type { Database, DeliveriesTable, EventsTable } from '../schema.ts';
import type { QuotaCheck } from '../store.ts';
import { acceptOnPostgres } from './postgres-accept.ts';
import { PostgresQueue } from '../../queue/postgres-queue.ts';

// BIGINT columns hold milliseconds and counters, all well inside 2^53: read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/** Advisory lock keys: arbitrary constants, one per kind of critical section. */
const MIGRATION_LOCK = 7_201_001;
const BOOTSTRAP_LOCK = 7_201_002;
// 7_201_003 was the global claim lock, before lanes (src/queue/postgres-claim.ts).

export class PostgresStore extends KyselyDeliveryStore {
  readonly dialect = 'postgres' as const;
  readonly queue: PostgresQueue;

  private constructor(private readonly pool: pg.Pool) {
    super(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }));
    this.queue = new PostgresQueue(pool);
  }

  /** One statement, so the environment's usage row is locked only while it runs: see postgres-accept.ts. */
  protected acceptBatch(
    environmentId: string,
    eventRows: readonly EventsTable[],
    deliveryRows: readonly DeliveriesTable[],
    quota: QuotaCheck,
    fifoLanes: readonly string[],
  ): Promise<string[] | typeof QUOTA_EXCEEDED> {
    return acceptOnPostgres(this.db, environmentId, eventRows, deliveryRows, quota, fifoLanes);
  }

  static open(connectionString: string, poolSize = 10): PostgresStore {
    const pool = new pg.Pool({ connectionString, max: poolSize });
    // An idle client's error (the server restarting) must not crash the process; the pool replaces it.
    pool.on('error', () => {});
    return new PostgresStore(pool);
  }

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      for (const migration of loadMigrations('postgres')) {
        await client.query('BEGIN');
        try {
          // Two processes migrating at once: the second waits here, then sees the version applied.
          await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
          await client.query(
            'CREATE TABLE IF NOT EXISTS herald_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
          );
          const applied = await client.query('SELECT 1 FROM herald_migrations WHERE version = $1', [migration.version]);
          if (applied.rowCount === 0) {
            await client.query(migration.sql);
            await client.query('INSERT INTO herald_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
              migration.version,
              migration.name,
              Date.now(),
            ]);
          }
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      }
    } finally {
      client.release();
    }
  }

  protected async lockForBootstrap(trx: Transaction<Database>): Promise<void> {
    await sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`.execute(trx);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
