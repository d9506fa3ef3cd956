/** `limit` + opaque `cursor` in, `{data, meta: {nextCursor, hasNextPage}}` out (SPEC §3). */
import { Type } from 'typebox';
import type { Page, PageKey, PageRequest } from '../domain/types.ts';
import { invalid } from '../errors.ts';

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250, default: 50, description: 'page size (1..250)' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'nextCursor of the previous page' })),
};

const invalidCursor = () => invalid('the cursor is not valid', [{ path: 'querystring:/cursor', message: 'unknown cursor' }]);

function decodeCursor(cursor: string): PageKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const fits =
    Array.isArray(parsed) &&
    parsed.length > 0 &&
    parsed.length <= 4 &&
    parsed.every((part) => typeof part === 'string' || typeof part === 'number');
  if (!fits) throw invalidCursor();
  return parsed as PageKey;
}

export function pageRequest(query: { limit?: number; cursor?: string }): PageRequest {
  return { limit: query.limit ?? 50, after: query.cursor ? decodeCursor(query.cursor) : null };
}

export function presentPage<T, U>(page: Page<T>, present: (item: T) => U) {
  const nextCursor = page.nextAfter ? Buffer.from(JSON.stringify(page.nextAfter)).toString('base64url') : null;
  return { data: page.data.map(present), meta: { nextCursor, hasNextPage: nextCursor !== null } };
}
