/** PostgreSQL: for several Herald processes sharing one database. */
import { Kysely, PostgresDialect, type Transaction, sql } from 'kysely';
import pg from 'pg';
import { KyselyDeliveryStore } from '../kysely-delivery-store.ts';
import { loadMigrations } from '../migrations.ts';
import type { Database, DeliveriesTable } from '../schema.ts';
import type { ClaimOptions, SettleEffects, SettleInput } from '../delivery-store.ts';
import { settleOnPostgres, settlesInOneStatement } from './postgres-settle.ts';
import { claimDueOnPostgres } from './postgres-claim.ts';

// BIGINT columns hold milliseconds and counters, all well inside 2^53: read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/** Advisory lock keys: arbitrary constants, one per kind of critical section. */
const MIGRATION_LOCK = 7_201_001;
const BOOTSTRAP_LOCK = 7_201_002;
const CLAIM_LOCK = 7_201_003;

export class PostgresStore extends KyselyDeliveryStore {
  readonly dialect = 'postgres' as const;

  private constructor(private readonly pool: pg.Pool) {
    super(new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }));
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

  /** Claims are serialised across workers so per-subscription caps hold globally; each takes a few ms. */
  /** The common batch (no final failure) in one statement: see postgres-settle.ts. */
  override async settleDeliveries(inputs: readonly SettleInput[]): Promise<SettleEffects[]> {
    if (inputs.length > 0 && settlesInOneStatement(inputs)) return settleOnPostgres(this.db, inputs);
    return super.settleDeliveries(inputs);
  }

  protected claimDue(trx: Transaction<Database>, options: ClaimOptions): Promise<DeliveriesTable[]> {
    return claimDueOnPostgres(trx, options);
  }

  /**
   * Also turns sorting off for the claim's transaction. Without fresh statistics (a queue table
   * empties and refills; this machine's server runs with autovacuum off) the planner guessed one
   * row per subscription and read a subscription's whole history through
   * deliveries_by_subscription, then sorted it: 25 ms a claim at 50,000 queued. With sorts priced
   * out it walks deliveries_due_by_subscription, the only index in the claim's order. The priced-out
   * sorts inflate the plan's cost past jit_above_cost, and compiling the plan took 230 ms: no JIT.
   */
  protected async lockForClaim(trx: Transaction<Database>): Promise<void> {
    await sql`select pg_advisory_xact_lock(${CLAIM_LOCK}), set_config('enable_sort', 'off', true), set_config('jit', 'off', true)`.execute(trx);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
