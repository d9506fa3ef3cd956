import { Type } from 'typebox';
import * as environments from '../../core/environments.ts';
import { PageQuery, pageRequest, presentPage } from '../pagination.ts';
import { presentEnvironment } from '../present.ts';
import { IdParams, Text, strict } from '../schemas/common.ts';
import { OPERATOR_SECURITY, type RouteModule, typed } from './types.ts';

const EnvName = Text({ minLength: 1, maxLength: 128 });
// Capped at the largest exact integer: beyond it JSON numbers lose precision and PostgreSQL's BIGINT overflows.
const Quota = Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()], {
  description: 'events per month; null = unlimited',
});
const meta = { tags: ['environments'], security: OPERATOR_SECURITY };
const config = { access: 'operator' as const };

export const environmentRoutes: RouteModule = (app, deps) => {
  const r = typed(app);

  r.post(
    '/v1/environments',
    {
      config,
      schema: {
        ...meta,
        summary: 'Create an environment and its first admin key (shown once)',
        body: Type.Object({ name: EnvName, monthlyEventQuota: Type.Optional(Quota) }, strict),
      },
    },
    async (request, reply) => {
      const created = await environments.createEnvironment(deps, request.body);
      return reply.code(201).send({ ...presentEnvironment(created.environment), apiKey: created.adminKey });
    },
  );

  r.get(
    '/v1/environments',
    { config, schema: { ...meta, summary: 'List environments', querystring: Type.Object(PageQuery, strict) } },
    async (request) => presentPage(await environments.listEnvironments(deps, pageRequest(request.query)), presentEnvironment),
  );

  r.get(
    '/v1/environments/:id',
    { config, schema: { ...meta, summary: 'Get an environment', params: IdParams } },
    async (request) => presentEnvironment(await environments.getEnvironment(deps, request.params.id)),
  );

  r.patch(
    '/v1/environments/:id',
    {
      config,
      schema: {
        ...meta,
        summary: 'Rename an environment or change its quota',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(EnvName), monthlyEventQuota: Type.Optional(Quota) }, strict),
      },
    },
    async (request) => presentEnvironment(await environments.updateEnvironment(deps, request.params.id, request.body)),
  );

  r.delete(
    '/v1/environments/:id',
    { config, schema: { ...meta, summary: 'Delete an environment and everything in it', params: IdParams } },
    async (request, reply) => {
      await environments.deleteEnvironment(deps, request.params.id);
      return reply.code(204).send();
    },
  );
};
