/**
 * Accepting a batch on PostgreSQL in one statement: insert the events, insert the deliveries of
 * those that went in, add them to the month's usage, all in one autocommitted statement (one
 * round trip; any row lock it takes is held only while PostgreSQL finishes it and flushes the commit).
 *
 * An environment's monthly count is kept in shard rows (`monthly_usage.shard`), summed when read.
 * How a publish counts depends on the environment's quota:
 *
 * - No quota: the count goes into one of shards 1..USAGE_SHARDS that no other open transaction is
 *   writing, so publishes to one environment commit side by side instead of each waiting for the
 *   previous one's commit on a single row. Writers claim a shard with a transaction-scoped advisory
 *   lock, (hash of the environment, shard), trying shards in order and taking the first free one;
 *   only with every shard claimed does a publish pick one at random and wait for its row.
 *   Measured with bench/publish-concurrency.ts (64 clients, single events, a 2 ms commit delay):
 *   the single row made ~300 calls/s; a shard picked at random, ~780, but with 10 publishes in
 *   flight a publish finds its shard held 44 % of the time and waits; `FOR UPDATE SKIP LOCKED` on
 *   the shard rows never waits but writes a row lock before the update (~0.2 ms more PostgreSQL
 *   CPU per call, ~710); advisory locks never wait and cost what the random pick does (~770).
 *   The advisory lock only steers the choice: the row lock still guards the count, so a hash
 *   collision between environments at worst makes a publish skip a shard.
 * - A quota: the count goes into shard 0 only, whose row lock makes the publishes of that
 *   environment take turns, as they must for the quota to hold: the upsert adds the count only
 *   `WHERE shard 0 + the other shards + count <= limit`, shard 0 read under its lock. The other
 *   shards were counted while the environment had no quota, and no longer change (but for
 *   publishes already under way when the quota was set, accepted without one). When the upsert
 *   adds nothing the statement must store nothing; plain SQL has no RAISE, so the final SELECT
 *   then divides by the (zero) number of usage rows, an error that rolls the whole statement back
 *   and that acceptOnPostgres reports as QUOTA_EXCEEDED. (The planner may evaluate that WHERE
 *   once, before any row: so it tests `inserted` itself.)
 * - Herald's own operational events (`count: false`) are stored without counting.
 */
import { CompiledQuery, type QueryResult } from 'kysely';
import { DELIVERY_INSERT, EVENT_INSERT, type InsertShape } from '../bulk-insert.ts';
import type { DeliveriesTable, EventsTable } from '../schema.ts';
import { QUOTA_EXCEEDED } from '../kysely-event-store.ts';
import type { QuotaCheck } from '../store.ts';

/**
 * Shards for publishes without a quota, numbered 1..USAGE_SHARDS (shard 0 counts those with one):
 * how many publishes to one environment commit side by side.
 */
export const USAGE_SHARDS = 16;

/** SQLSTATE division_by_zero: only the quota check below divides. */
const DIVISION_BY_ZERO = '22012';

function columnsOf<Row>(shape: InsertShape<Row>, firstParameter: number) {
  const names = Object.keys(shape.columns) as (keyof Row & string)[];
  const quoted = names.map((n) => `"${n}"`).join(', ');
  const arrays = names.map((n, i) => `$${firstParameter + i}::${shape.columns[n]}[]`).join(', ');
  return { names, quoted, arrays };
}

const events = columnsOf(EVENT_INSERT, 1);
const deliveries = columnsOf(DELIVERY_INSERT, 1 + events.names.length);
const at = 1 + events.names.length + deliveries.names.length;
const [FIFO_LANES, ENV, MONTH, LIMIT] = [`$${at}::text[]`, `$${at + 1}::text`, `$${at + 2}::text`, `$${at + 3}::int8`];
const THIS_MONTH = `environment_id = ${ENV} and month = ${MONTH}`;

/**
 * `fifo_lanes` locks the lanes of the FIFO subscriptions the deliveries go to (in key order) before
 * anything is written (the events' insert waits for it, and everything else reads the events'):
 * the deliveries' seq is drawn after the lock, and the lock is held to the commit, so within a FIFO
 * lane seq order is commit order (src/queue/postgres-claim.ts sends by seq).
 */
const STORE = `
with fifo_lanes as (
  select 1 from lanes where environment_id = ${ENV} and subscription_id = any(${FIFO_LANES})
  order by subscription_id for update
),
inserted as (
  insert into events (${events.quoted}) select * from unnest(${events.arrays})
  where (select count(*) from fifo_lanes) >= 0
  on conflict (environment_id, id) do nothing
  returning id
),
queued as (
  insert into deliveries (${deliveries.quoted})
  select * from unnest(${deliveries.arrays}) as d(${deliveries.quoted})
  where d.event_id in (select id from inserted)
)`;

/** Operational events: stored, not counted. */
const ACCEPT_UNCOUNTED = `${STORE}
select id from inserted`;

// `offset 0` keeps the candidate shards a subquery the lock attempt reads row by row: the locks are
// tried one shard at a time and only until one is free (LIMIT 1), not on every shard first.
const ACCEPT_UNLIMITED = `${STORE},
claimed as materialized (
  select coalesce(
    (select s from (select s from generate_series(1, ${USAGE_SHARDS}) as s order by s offset 0) as candidates
      where pg_try_advisory_xact_lock(hashtext(${ENV}), s) limit 1),
    1 + floor(random() * ${USAGE_SHARDS})::int
  ) as shard
),
counted as (
  insert into monthly_usage (environment_id, month, shard, published)
  select ${ENV}, ${MONTH}, (select shard from claimed), count(*) from inserted
  having count(*) > 0
  on conflict (environment_id, month, shard) do update set published = monthly_usage.published + excluded.published
)
select id from inserted`;

const ACCEPT_WITHIN_QUOTA = `${STORE},
others as materialized (
  select coalesce(sum(published), 0)::int8 as published from monthly_usage where ${THIS_MONTH} and shard <> 0
),
counted as (
  insert into monthly_usage (environment_id, month, shard, published)
  select ${ENV}, ${MONTH}, 0, count(*) from inserted
  having count(*) > 0 and (select published from others) + count(*) <= ${LIMIT}
  on conflict (environment_id, month, shard) do update set published = monthly_usage.published + excluded.published
  where (select published from others) + monthly_usage.published + excluded.published <= ${LIMIT}
  returning published
)
select id from inserted
where case when exists (select from inserted) and not exists (select from counted)
  then 1 / (select count(*)::int from counted) = 1
  else true end`;

interface Executor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

function arraysOf<Row>(names: readonly (keyof Row & string)[], rows: readonly Row[]): unknown[][] {
  const columns = names.map(() => new Array<unknown>(rows.length));
  rows.forEach((row, r) => {
    names.forEach((name, c) => {
      (columns[c] as unknown[])[r] = row[name];
    });
  });
  return columns;
}

/**
 * Stores the batch (deliveries of events already stored are dropped) and counts the events that
 * went in. Returns their ids, or QUOTA_EXCEEDED having stored nothing.
 */
export async function acceptOnPostgres(
  db: Executor,
  environmentId: string,
  eventRows: readonly EventsTable[],
  deliveryRows: readonly DeliveriesTable[],
  quota: QuotaCheck,
  fifoLanes: readonly string[],
): Promise<string[] | typeof QUOTA_EXCEEDED> {
  const parameters: unknown[] = [
    ...arraysOf(events.names, eventRows),
    ...arraysOf(deliveries.names, deliveryRows),
    fifoLanes,
    environmentId,
  ];
  let text = ACCEPT_UNCOUNTED;
  if (quota.count !== false && quota.limit === null) {
    text = ACCEPT_UNLIMITED;
    parameters.push(quota.month);
  } else if (quota.count !== false) {
    text = ACCEPT_WITHIN_QUOTA;
    parameters.push(quota.month, quota.limit);
  }
  try {
    const result = await db.executeQuery(CompiledQuery.raw(text, parameters) as CompiledQuery<{ id: string }>);
    return result.rows.map((row) => row.id);
  } catch (error) {
    if ((error as { code?: unknown }).code === DIVISION_BY_ZERO) return QUOTA_EXCEEDED;
    throw error;
  }
}
