import '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { CoreDeps } from '../../core/deps.ts';

/** Route modules take the app (already typed by TypeBox) and the core's dependencies. */
export type RouteModule = (app: FastifyInstance, deps: CoreDeps) => void;

export const typed = (app: FastifyInstance) => app.withTypeProvider<TypeBoxTypeProvider>();

/** OpenAPI security requirement of environment-scoped routes. */
export const ENV_SECURITY: { [label: string]: string[] }[] = [
  { environmentId: [], authToken: [] },
  { environmentId: [], bearer: [] },
];
export const OPERATOR_SECURITY: { [label: string]: string[] }[] = [{ rootToken: [] }];
