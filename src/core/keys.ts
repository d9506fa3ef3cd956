/** API keys: issued once in clear, stored as SHA-256, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKey, Page, PageRequest, Role, StoredApiKey } from '../domain/types.ts';
import { notFound } from '../errors.ts';
import { newId, randomToken } from '../ids.ts';
import { publicApiKey } from '../store/rows.ts';
import type { CoreDeps } from './deps.ts';

/** `hk_<ulid of the key id>_<43 chars of 32 random bytes>`: the id part finds the row, the rest proves it. */
const TOKEN_PATTERN = /^hk_([0-9A-HJKMNP-TV-Z]{26})_([A-Za-z0-9_-]{43})$/;

const hashToken = (token: string): Buffer => createHash('sha256').update(token).digest();

export interface IssuedKey {
  stored: StoredApiKey;
  /** The secret, shown once. */
  token: string;
}

export function issueKey(environmentId: string, name: string, role: Role, permissions: string[], now: number): IssuedKey {
  const id = newId('key', now);
  const token = `hk_${id.slice(4)}_${randomToken(32)}`;
  return {
    token,
    stored: { id, environmentId, name, role, permissions, secretHash: hashToken(token), createdAt: now },
  };
}

/** The key `token` names in the environment, if it is one; null otherwise. */
export async function authenticateKey(deps: CoreDeps, environmentId: string, token: string): Promise<ApiKey | null> {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return null;
  const stored = await deps.store.getApiKey(environmentId, `key_${match[1]}`);
  if (!stored) return null;
  return timingSafeEqual(stored.secretHash, hashToken(token)) ? publicApiKey(stored) : null;
}

export async function createApiKey(
  deps: CoreDeps,
  environmentId: string,
  input: { name: string; role: Role; permissions?: string[] },
): Promise<{ key: ApiKey; token: string }> {
  const issued = issueKey(environmentId, input.name, input.role, input.permissions ?? [], deps.clock.now());
  await deps.store.insertApiKey(issued.stored);
  return { key: publicApiKey(issued.stored), token: issued.token };
}

export const listApiKeys = (deps: CoreDeps, environmentId: string, page: PageRequest): Promise<Page<ApiKey>> =>
  deps.store.listApiKeys(environmentId, page);

export async function getApiKey(deps: CoreDeps, environmentId: string, id: string): Promise<ApiKey> {
  const stored = await deps.store.getApiKey(environmentId, id);
  if (!stored) throw notFound(`API key ${id}`);
  return publicApiKey(stored);
}

export async function deleteApiKey(deps: CoreDeps, environmentId: string, id: string): Promise<void> {
  if (!(await deps.store.deleteApiKey(environmentId, id))) throw notFound(`API key ${id}`);
}
