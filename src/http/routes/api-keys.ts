import { Type } from 'typebox';
import * as keys from '../../core/keys.ts';
import { ADMIN, callerOf } from '../auth.ts';
import { PageQuery, pageRequest, presentPage } from '../pagination.ts';
import { presentApiKey } from '../present.ts';
import { IdParams, Permissions, Text, strict } from '../schemas/common.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

const meta = { tags: ['api keys'], security: ENV_SECURITY };
const config = { access: ADMIN };

export const apiKeyRoutes: RouteModule = (app, deps) => {
  const r = typed(app);

  r.post(
    '/v1/api-keys',
    {
      config,
      schema: {
        ...meta,
        summary: 'Create an API key (the key is shown once)',
        body: Type.Object(
          {
            name: Text({ minLength: 1, maxLength: 128 }),
            role: Type.Union([Type.Literal('admin'), Type.Literal('publisher'), Type.Literal('subscriber')]),
            permissions: Type.Optional(Permissions),
          },
          strict,
        ),
      },
    },
    async (request, reply) => {
      const created = await keys.createApiKey(deps, callerOf(request).environmentId, request.body);
      return reply.code(201).send({ ...presentApiKey(created.key), key: created.token });
    },
  );

  r.get(
    '/v1/api-keys',
    { config, schema: { ...meta, summary: 'List API keys', querystring: Type.Object(PageQuery, strict) } },
    async (request) =>
      presentPage(await keys.listApiKeys(deps, callerOf(request).environmentId, pageRequest(request.query)), presentApiKey),
  );

  r.get(
    '/v1/api-keys/:id',
    { config, schema: { ...meta, summary: 'Get an API key (never the secret)', params: IdParams } },
    async (request) => presentApiKey(await keys.getApiKey(deps, callerOf(request).environmentId, request.params.id)),
  );

  r.delete(
    '/v1/api-keys/:id',
    { config, schema: { ...meta, summary: 'Revoke an API key', params: IdParams } },
    async (request, reply) => {
      await keys.deleteApiKey(deps, callerOf(request).environmentId, request.params.id);
      return reply.code(204).send();
    },
  );
};
