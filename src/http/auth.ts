/**
 * Who is calling, checked in onRequest (before the body is read): the operator (root token),
 * an environment's API key (x-environment-id + x-auth-token or Bearer), or nobody for public routes.
 * Each route states its `access` in its config; a /v1 route that states none is admin-only, any
 * other route (docs, assets) public.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { CoreDeps } from '../core/deps.ts';
import { authenticateKey } from '../core/keys.ts';
import type { ApiKey, Role } from '../domain/types.ts';
import { HeraldError } from '../errors.ts';

export type Access = 'public' | 'operator' | { roles: readonly Role[] };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** The API key of an environment-scoped call (set by the auth hook). */
    caller?: ApiKey;
  }
}

export const ANY_ROLE: Access = { roles: ['admin', 'publisher', 'subscriber'] };
export const PUBLISHERS: Access = { roles: ['admin', 'publisher'] };
export const ADMIN: Access = { roles: ['admin'] };

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match ? (match[1] as string) : null;
}

function single(value: string | string[] | undefined): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

export function makeAuthHook(deps: CoreDeps, rootToken: string | null) {
  const rootHash = rootToken ? sha256(rootToken) : null;

  return async function authenticate(request: FastifyRequest): Promise<void> {
    if (request.is404) return;
    const isApi = request.routeOptions.url?.startsWith('/v1/') ?? false;
    const access = request.routeOptions.config.access ?? (isApi ? ADMIN : 'public');
    if (access === 'public') return;

    if (access === 'operator') {
      if (!rootHash) throw new HeraldError('unauthorized', 'the operator API is disabled: set HERALD_ROOT_TOKEN');
      const token = bearer(request);
      if (!token || !timingSafeEqual(sha256(token), rootHash)) {
        throw new HeraldError('unauthorized', 'send Authorization: Bearer <HERALD_ROOT_TOKEN>');
      }
      return;
    }

    const environmentId = single(request.headers['x-environment-id']);
    const token = single(request.headers['x-auth-token']) ?? bearer(request);
    // An id holding U+0000 names no environment (PostgreSQL cannot even compare it): unknown, like any other.
    if (environmentId?.includes('\u0000')) {
      throw new HeraldError('unauthorized', 'unknown API key for this environment');
    }
    if (!environmentId || !token) {
      throw new HeraldError('unauthorized', 'send x-environment-id and x-auth-token (or Authorization: Bearer <key>)');
    }
    const key = await authenticateKey(deps, environmentId, token);
    if (!key) throw new HeraldError('unauthorized', 'unknown API key for this environment');
    if (!access.roles.includes(key.role)) {
      throw new HeraldError('forbidden', `a ${key.role} key may not do this (needs ${access.roles.join(' or ')})`);
    }
    request.caller = key;
  };
}

/** The caller's key; only on routes whose access names roles. */
export function callerOf(request: FastifyRequest): ApiKey {
  if (!request.caller) throw new Error('route has no environment-scoped access');
  return request.caller;
}
