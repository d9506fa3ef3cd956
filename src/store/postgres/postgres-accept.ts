/**
 * Accepting a batch on PostgreSQL in one statement: insert the events, insert the deliveries of
 * those that went in, add them to the month's usage within the quota, all in one autocommitted
 * statement.
 *
 * Why one statement: each publish updates its environment's `monthly_usage` row, which stays
 * locked until commit, so the publishes of one environment pass that row one at a time. As a
 * transaction driven from Node, the lock was held for a round trip to Node and back (the
 * COMMIT sent after the upsert answered), and under load Node's event loop was busy parsing
 * other bodies: half the sampled backends waited on that lock. In one statement the lock is
 * held only while PostgreSQL finishes the statement and flushes its commit.
 *
 * The quota stays exact: the upsert adds the count only `WHERE published + count <= limit`, under
 * the row lock, as the transaction did. When it adds nothing the statement must store nothing;
 * plain SQL has no RAISE, so the final SELECT then divides by the (zero) number of usage rows, an
 * error that rolls the whole statement back and that acceptOnPostgres reports as QUOTA_EXCEEDED.
 * (The planner may evaluate that WHERE once, before any row: so it tests `inserted` itself.)
 */
import { CompiledQuery, type QueryResult } from 'kysely';
import { DELIVERY_INSERT, EVENT_INSERT, type InsertShape } from '../bulk-insert.ts';
import type { DeliveriesTable, EventsTable } from '../schema.ts';
import { QUOTA_EXCEEDED } from '../kysely-store.ts';
import type { QuotaCheck } from '../store.ts';


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
const [ENV, MONTH, LIMIT, COUNTING, FIFO_LANES] = [
  `$${at}::text`,
  `$${at + 1}::text`,
  `$${at + 2}::int8`,
  `$${at + 3}::boolean`,
  `$${at + 4}::text[]`,
];

/**
 * `fifo_lanes` locks the lanes of the FIFO subscriptions the deliveries go to (in key order) before
 * anything is written (the events' insert waits for it, and everything else reads the events'):
 * the deliveries' seq is drawn after the lock, and the lock is held to the commit, so within a FIFO
 * lane seq order is commit order (src/queue/postgres-claim.ts sends by seq).
 */
const ACCEPT_SQL = `
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
),
counted as (
  insert into monthly_usage (environment_id, month, published)
  select ${ENV}, ${MONTH}, count(*) from inserted
  having ${COUNTING} and count(*) > 0 and (${LIMIT} is null or count(*) <= ${LIMIT})
  on conflict (environment_id, month) do update set published = monthly_usage.published + excluded.published
  where ${LIMIT} is null or monthly_usage.published + excluded.published <= ${LIMIT}
  returning published
)
select id from inserted
where case when ${COUNTING} and exists (select from inserted) and not exists (select from counted)
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
  const parameters = [
    ...arraysOf(events.names, eventRows),
    ...arraysOf(deliveries.names, deliveryRows),
    environmentId,
    quota.month,
    quota.limit,
    quota.count !== false,
    fifoLanes,
  ];
  try {
    const result = await db.executeQuery(CompiledQuery.raw(ACCEPT_SQL, parameters) as CompiledQuery<{ id: string }>);
    return result.rows.map((row) => row.id);
  } catch (error) {
    if ((error as { code?: unknown }).code === DIVISION_BY_ZERO) return QUOTA_EXCEEDED;
    throw error;
  }
}
