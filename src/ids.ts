import { randomBytes } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/** Prefixes of the ids Herald makes: the prefix says what an id names, the ULID makes it time-sortable. */
export type IdPrefix = 'env' | 'key' | 'app' | 'sub' | 'evt' | 'dlv' | 'att' | 'bat' | 'msg';

const nextUlid = monotonicFactory();

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${nextUlid(nowMs)}`;
}

/** URL-safe random text of `bytes` random bytes. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
