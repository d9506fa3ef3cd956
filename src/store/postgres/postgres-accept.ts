/**
 * Accepting a batch on PostgreSQL in one statement: insert the events, insert the deliveries of
 * those that went in, add them to the month's usage, all in one autocommitted statement (one
 * round trip; any row lock it takes is held only while PostgreSQL finishes it and flushes the commit).
 *
 * An environment's monthly count is kept in up to USAGE_SHARDS rows (`monthly_usage.shard`),
 * summed when read. How a publish counts depends on the environment's quota:
 *
 * - No quota: the count goes into a shard row no other open transaction holds, so publishes to one
 *   environment commit side by side. The statement locks the first free existing shard
 *   (`FOR UPDATE SKIP LOCKED`); if every existing one is held it creates a shard this snapshot does
 *   not have yet; only with all USAGE_SHARDS rows held does it wait, on one of them at random.
 *   (With one row per month, each publish waited for the previous one's commit: 64 clients
 *   single-event publishing made ~120 calls/s, p50 430 ms; see bench/publish-concurrency.ts.
 *   A shard picked at random still collides often: with 10 publishes in flight, nearly every
 *   other one waits for another's commit.)
 * - A quota: the count goes into shard 0 only, whose row lock makes the publishes of that
 *   environment take turns, as they must for the quota to hold: the upsert adds the count only
 *   `WHERE shard 0 + the other shards + count <= limit`, shard 0 read under its lock. The other
 *   shards were counted while the environment had no quota, and no longer change. When the upsert
 *   adds nothing the statement must store nothing; plain SQL has no RAISE, so the final SELECT
 *   then divides by the (zero) number of usage rows, an error that rolls the whole statement back
 *   and that acceptOnPostgres reports as QUOTA_EXCEEDED. (The planner may evaluate that WHERE
 *   once, before any row: so it tests `inserted` itself.)
 * - Herald's own operational events (`count: false`) are stored without counting.
 */
import { CompiledQuery, type QueryResult } from 'kysely';
import { DELIVERY_INSERT, EVENT_INSERT, type InsertShape } from '../bulk-insert.ts';
import type { DeliveriesTable, EventsTable } from '../schema.ts';
import { QUOTA_EXCEEDED } from '../kysely-store.ts';
import type { QuotaCheck } from '../store.ts';

/** Shard rows an environment's month may have: concurrent publishes (no quota) that never wait. */
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
const [ENV, MONTH, LIMIT] = [`$${at}::text`, `$${at + 1}::text`, `$${at + 2}::int8`];
const THIS_MONTH = `environment_id = ${ENV} and month = ${MONTH}`;

const STORE = `
with inserted as (
  insert into events (${events.quoted}) select * from unnest(${events.arrays})
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

const ACCEPT_UNLIMITED = `${STORE},
free_shard as materialized (
  select shard from monthly_usage where ${THIS_MONTH}
  order by shard limit 1 for update skip locked
),
new_shard as materialized (
  select s as shard from generate_series(0, ${USAGE_SHARDS - 1}) as s
  where not exists (select from monthly_usage where ${THIS_MONTH} and shard = s)
  order by random() limit 1
),
counted as (
  insert into monthly_usage (environment_id, month, shard, published)
  select ${ENV}, ${MONTH},
    coalesce((select shard from free_shard), (select shard from new_shard), floor(random() * ${USAGE_SHARDS})::int),
    count(*)
  from inserted
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
): Promise<string[] | typeof QUOTA_EXCEEDED> {
  const parameters: unknown[] = [...arraysOf(events.names, eventRows), ...arraysOf(deliveries.names, deliveryRows)];
  let text = ACCEPT_UNCOUNTED;
  if (quota.count !== false && quota.limit === null) {
    text = ACCEPT_UNLIMITED;
    parameters.push(environmentId, quota.month);
  } else if (quota.count !== false) {
    text = ACCEPT_WITHIN_QUOTA;
    parameters.push(environmentId, quota.month, quota.limit);
  }
  try {
    const result = await db.executeQuery(CompiledQuery.raw(text, parameters) as CompiledQuery<{ id: string }>);
    return result.rows.map((row) => row.id);
  } catch (error) {
    if ((error as { code?: unknown }).code === DIVISION_BY_ZERO) return QUOTA_EXCEEDED;
    throw error;
  }
}
