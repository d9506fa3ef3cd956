import { Type } from 'typebox';
import * as categories from '../../core/categories.ts';
import { ADMIN, ANY_ROLE, callerOf } from '../auth.ts';
import { PageQuery, pageRequest, presentPage } from '../pagination.ts';
import { presentCategory } from '../present.ts';
import { Name, NameParams, NullableDescription, strict } from '../schemas/common.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

const meta = { tags: ['registry'], security: ENV_SECURITY };

export const categoryRoutes: RouteModule = (app, deps) => {
  const r = typed(app);
  const env = (request: Parameters<typeof callerOf>[0]) => callerOf(request).environmentId;

  r.post(
    '/v1/categories',
    {
      config: { access: ADMIN },
      schema: {
        ...meta,
        summary: 'Create a category',
        body: Type.Object({ name: Name, description: Type.Optional(NullableDescription) }, strict),
      },
    },
    async (request, reply) => reply.code(201).send(presentCategory(await categories.createCategory(deps, env(request), request.body))),
  );

  r.get(
    '/v1/categories',
    { config: { access: ANY_ROLE }, schema: { ...meta, summary: 'List categories', querystring: Type.Object(PageQuery, strict) } },
    async (request) => presentPage(await categories.listCategories(deps, env(request), pageRequest(request.query)), presentCategory),
  );

  r.get(
    '/v1/categories/:name',
    { config: { access: ANY_ROLE }, schema: { ...meta, summary: 'Get a category', params: NameParams } },
    async (request) => presentCategory(await categories.getCategory(deps, env(request), request.params.name)),
  );

  r.patch(
    '/v1/categories/:name',
    {
      config: { access: ADMIN },
      schema: {
        ...meta,
        summary: 'Update a category',
        params: NameParams,
        body: Type.Object({ description: Type.Optional(NullableDescription) }, strict),
      },
    },
    async (request) => presentCategory(await categories.updateCategory(deps, env(request), request.params.name, request.body)),
  );

  r.delete(
    '/v1/categories/:name',
    {
      config: { access: ADMIN },
      schema: { ...meta, summary: 'Delete a category (409 while event types use it)', params: NameParams },
    },
    async (request, reply) => {
      await categories.deleteCategory(deps, env(request), request.params.name);
      return reply.code(204).send();
    },
  );
};
