/** Keyset pagination: order by a key, continue strictly after the last key seen. */
import type { ExpressionBuilder, SelectQueryBuilder } from 'kysely';
import type { Page, PageKey, PageRequest } from '../domain/types.ts';
import { invalid } from '../errors.ts';

export interface KeyColumn {
  column: string;
  type: 'string' | 'number';
}

export interface KeyOrder {
  columns: readonly KeyColumn[];
  direction: 'asc' | 'desc';
}

// biome-ignore lint/suspicious/noExplicitAny: the helper works on any table's query.
type AnyQuery = SelectQueryBuilder<any, any, any>;

function checkedAfter(after: PageKey, order: KeyOrder): PageKey {
  // Number keys are integer columns (ms): a fraction or an out-of-range number would fail the query
  // on PostgreSQL. String keys are ids and names, which never hold U+0000 (nor may PostgreSQL text).
  const fits =
    after.length === order.columns.length &&
    order.columns.every((c, i) => {
      const part = after[i];
      if (typeof part !== c.type) return false;
      return typeof part === 'number' ? Number.isSafeInteger(part) : !String(part).includes('\u0000');
    });
  if (!fits) throw invalid('cursor is not valid for this list', [{ path: 'querystring:/cursor', message: 'unknown cursor' }]);
  return after;
}

/** Adds the page's order, start and limit (one extra row, to know whether another page follows). */
export function pageQuery<Q extends AnyQuery>(query: Q, order: KeyOrder, page: PageRequest): Q {
  let q: AnyQuery = query;
  if (page.after !== null) {
    const after = checkedAfter(page.after, order);
    const op = order.direction === 'asc' ? '>' : '<';
    // biome-ignore lint/suspicious/noExplicitAny: dynamic column names.
    q = q.where((eb: ExpressionBuilder<any, any>) => {
      // (a, b) > (x, y)  ⇔  a > x OR (a = x AND b > y), written out for both dialects.
      const branches = order.columns.map((col, i) =>
        eb.and([
          ...order.columns.slice(0, i).map((prev, j) => eb(prev.column, '=', after[j])),
          eb(col.column, op, after[i]),
        ]),
      );
      return eb.or(branches);
    });
  }
  for (const col of order.columns) q = q.orderBy(col.column, order.direction);
  return q.limit(page.limit + 1) as Q;
}

export function toPage<R, T>(rows: R[], page: PageRequest, order: KeyOrder, map: (row: R) => T): Page<T> {
  const hasMore = rows.length > page.limit;
  const kept = hasMore ? rows.slice(0, page.limit) : rows;
  const last = kept[kept.length - 1] as Record<string, string | number> | undefined;
  return {
    data: kept.map(map),
    nextAfter: hasMore && last ? order.columns.map((c) => last[c.column] as string | number) : null,
  };
}

export const BY_NAME: KeyOrder = { columns: [{ column: 'name', type: 'string' }], direction: 'asc' };
export const BY_ID: KeyOrder = { columns: [{ column: 'id', type: 'string' }], direction: 'asc' };
export const NEWEST_FIRST: KeyOrder = {
  columns: [
    { column: 'created_at', type: 'number' },
    { column: 'id', type: 'string' },
  ],
  direction: 'desc',
};
