import { Type } from 'typebox';
import * as apps from '../../core/apps.ts';
import { ADMIN, ANY_ROLE, callerOf } from '../auth.ts';
import { PageQuery, pageRequest, presentPage } from '../pagination.ts';
import { presentApp } from '../present.ts';
import { IdParams, Permissions, Text, strict } from '../schemas/common.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

const meta = { tags: ['apps'], security: ENV_SECURITY };
const AppName = Text({ minLength: 1, maxLength: 128 });

export const appRoutes: RouteModule = (app, deps) => {
  const r = typed(app);
  const env = (request: Parameters<typeof callerOf>[0]) => callerOf(request).environmentId;

  r.post(
    '/v1/apps',
    {
      config: { access: ADMIN },
      schema: {
        ...meta,
        summary: 'Create an app configuration (subscriber keys need one of its permissions for its topics)',
        body: Type.Object({ name: AppName, permissions: Permissions }, strict),
      },
    },
    async (request, reply) => reply.code(201).send(presentApp(await apps.createApp(deps, env(request), request.body))),
  );

  r.get(
    '/v1/apps',
    { config: { access: ANY_ROLE }, schema: { ...meta, summary: 'List apps', querystring: Type.Object(PageQuery, strict) } },
    async (request) => presentPage(await apps.listApps(deps, env(request), pageRequest(request.query)), presentApp),
  );

  r.get(
    '/v1/apps/:id',
    { config: { access: ANY_ROLE }, schema: { ...meta, summary: 'Get an app', params: IdParams } },
    async (request) => presentApp(await apps.getApp(deps, env(request), request.params.id)),
  );

  r.patch(
    '/v1/apps/:id',
    {
      config: { access: ADMIN },
      schema: {
        ...meta,
        summary: 'Update an app',
        params: IdParams,
        body: Type.Object({ name: Type.Optional(AppName), permissions: Type.Optional(Permissions) }, strict),
      },
    },
    async (request) => presentApp(await apps.updateApp(deps, env(request), request.params.id, request.body)),
  );

  r.delete(
    '/v1/apps/:id',
    { config: { access: ADMIN }, schema: { ...meta, summary: 'Delete an app (409 while it owns topics)', params: IdParams } },
    async (request, reply) => {
      await apps.deleteApp(deps, env(request), request.params.id);
      return reply.code(204).send();
    },
  );
};
