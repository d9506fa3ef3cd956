/**
 * Retention's statements, written once for both dialects. A round reads a window of at most
 * `limit` rows created before the horizon (keyset order (created_at, id) within one environment,
 * on an index of exactly that), then deletes, in one short transaction, those of the window that
 * may go. Bounding the window, not the number deleted, bounds every round's work: old rows that
 * must stay (a delivery scheduled far ahead) are stepped over once per pass, not rescanned.
 *
 * Locking: on SQLite the transaction is BEGIN IMMEDIATE on the one connection, so it runs between
 * publishes and claims, never beside them. On PostgreSQL the rows to delete are locked with
 * FOR UPDATE SKIP LOCKED: two pruners never wait on each other (each deletes what it locked, the
 * other skips it), and the status test is re-checked on the locked row, so a delivery a manual
 * retry has just put back in the queue is not deleted, and a retry waiting on our lock finds
 * the row gone.
 */
import { type Kysely, type Transaction, sql } from 'kysely';
import { FINAL_DELIVERY_STATUSES } from '../domain/delivery-status.ts';
import type { PruneCursor, PruneRound } from './delivery-store.ts';
import type { Database } from './schema.ts';
import type { Dialect } from './store.ts';

type Removed = Omit<PruneRound, 'next'>;
const NOTHING: Removed = { deliveries: 0, attempts: 0, events: 0 };

/** Below every stored created_at: where a table's scan starts. */
const START = { createdAt: -1, id: '' };

async function firstTableOf(db: Kysely<Database>, after: string | null): Promise<PruneCursor | null> {
  let query = db.selectFrom('environments').select('id').orderBy('id').limit(1);
  if (after !== null) query = query.where('id', '>', after);
  const row = await query.executeTakeFirst();
  return row ? { environmentId: row.id, table: 'deliveries', ...START } : null;
}

/** Where the pass goes once a table of an environment is done: its events, then the next environment. */
function nextTable(db: Kysely<Database>, at: PruneCursor): Promise<PruneCursor | null> {
  if (at.table === 'deliveries') return Promise.resolve({ ...at, table: 'events', ...START });
  return firstTableOf(db, at.environmentId);
}

async function windowAfter(db: Kysely<Database>, at: PruneCursor, horizon: number, limit: number) {
  // Both tables have (environment_id, created_at, id) indexed; the cast only picks one for typing.
  return db
    .selectFrom(at.table as 'events')
    .select(['created_at', 'id'])
    .where('environment_id', '=', at.environmentId)
    .where('created_at', '<', horizon)
    .where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(at.createdAt, at.id)))
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
}

async function pruneDeliveries(trx: Transaction<Database>, dialect: Dialect, env: string, ids: string[]): Promise<Removed> {
  let query = trx
    .selectFrom('deliveries')
    .select(['id', 'batch_id'])
    .where('environment_id', '=', env)
    .where('id', 'in', ids)
    .where('status', 'in', FINAL_DELIVERY_STATUSES);
  if (dialect === 'postgres') query = query.forUpdate().skipLocked();
  const found = await query.execute();
  const doomed = found.map((row) => row.id);
  if (doomed.length === 0) return NOTHING;
  // A batch's attempts go with the first of its deliveries pruned (the rest were created within
  // its maxWaitMs, so they follow within a minute).
  const batches = [...new Set(found.flatMap((row) => (row.batch_id ? [row.batch_id] : [])))];
  const attempts = await trx
    .deleteFrom('attempts')
    .where('environment_id', '=', env)
    .where('delivery_id', 'in', [...doomed, ...batches])
    .executeTakeFirst();
  const deliveries = await trx
    .deleteFrom('deliveries')
    .where('environment_id', '=', env)
    .where('id', 'in', doomed)
    .executeTakeFirst();
  return { deliveries: Number(deliveries.numDeletedRows), attempts: Number(attempts.numDeletedRows), events: 0 };
}

async function pruneEvents(trx: Transaction<Database>, dialect: Dialect, env: string, ids: string[]): Promise<Removed> {
  let query = trx
    .selectFrom('events as e')
    .select('e.id')
    .where('e.environment_id', '=', env)
    .where('e.id', 'in', ids)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('deliveries as d')
            .select(sql`1`.as('one'))
            .whereRef('d.environment_id', '=', 'e.environment_id')
            .whereRef('d.event_id', '=', 'e.id'),
        ),
      ),
    );
  if (dialect === 'postgres') query = query.forUpdate().skipLocked();
  const doomed = (await query.execute()).map((row) => row.id);
  if (doomed.length === 0) return NOTHING;
  const events = await trx
    .deleteFrom('events')
    .where('environment_id', '=', env)
    .where('id', 'in', doomed)
    .executeTakeFirst();
  return { ...NOTHING, events: Number(events.numDeletedRows) };
}

/** See DeliveryStore.pruneRound. Windows with nothing in them cost one indexed read each and are passed over. */
export async function pruneRound(
  db: Kysely<Database>,
  dialect: Dialect,
  horizon: number,
  limit: number,
  cursor: PruneCursor | null,
): Promise<PruneRound> {
  let at = cursor ?? (await firstTableOf(db, null));
  while (at) {
    const window = await windowAfter(db, at, horizon, limit);
    const last = window.at(-1);
    if (!last) {
      at = await nextTable(db, at);
      continue;
    }
    const ids = window.map((row) => row.id);
    const { environmentId, table } = at;
    const removed = await db
      .transaction()
      .execute((trx) =>
        table === 'deliveries' ? pruneDeliveries(trx, dialect, environmentId, ids) : pruneEvents(trx, dialect, environmentId, ids),
      );
    return { ...removed, next: { environmentId, table, createdAt: last.created_at, id: last.id } };
  }
  return { ...NOTHING, next: null };
}
