import { Type } from 'typebox';
import * as eventTypes from '../../core/event-types.ts';
import type { JsonObject, JsonValue } from '../../domain/types.ts';
import { ADMIN, ANY_ROLE, PUBLISHERS, callerOf } from '../auth.ts';
import { PageQuery, pageRequest, presentPage } from '../pagination.ts';
import { presentEventType } from '../present.ts';
import { Json, JsonSchemaObject, Name, NameParams, NullableDescription, strict } from '../schemas/common.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

const meta = { tags: ['registry'], security: ENV_SECURITY };
const NullableName = Type.Union([Name, Type.Null()]);

export const eventTypeRoutes: RouteModule = (app, deps) => {
  const r = typed(app);
  const env = (request: Parameters<typeof callerOf>[0]) => callerOf(request).environmentId;

  r.post(
    '/v1/event-types',
    {
      config: { access: ADMIN },
      schema: {
        ...meta,
        summary: 'Register an event type (schema checked; example validated against it)',
        body: Type.Object(
          {
            name: Name,
            description: Type.Optional(NullableDescription),
            category: Type.Optional(NullableName),
            schema: Type.Optional(Type.Union([JsonSchemaObject, Type.Null()])),
            example: Type.Optional(Json),
          },
          strict,
        ),
      },
    },
    async (request, reply) => {
      const body = request.body;
      const created = await eventTypes.createEventType(deps, env(request), {
        ...body,
        schema: body.schema as JsonObject | null | undefined,
        example: body.example as JsonValue | undefined,
      });
      return reply.code(201).send(presentEventType(created));
    },
  );

  r.post(
    '/v1/event-types/generate-schema',
    {
      config: { access: PUBLISHERS },
      schema: {
        ...meta,
        summary: 'Infer a draft 2020-12 JSON Schema from a sample payload',
        body: Type.Object({ example: Json }, { ...strict, required: ['example'] }),
      },
    },
    async (request) => ({ schema: eventTypes.generateSchema(request.body.example as JsonValue) }),
  );

  r.get(
    '/v1/event-types',
    {
      config: { access: ANY_ROLE },
      schema: {
        ...meta,
        summary: 'List event types',
        querystring: Type.Object(
          { ...PageQuery, category: Type.Optional(Name), includeArchived: Type.Optional(Type.Boolean({ default: false })) },
          strict,
        ),
      },
    },
    async (request) => {
      const { category, includeArchived } = request.query;
      const filter = { includeArchived: includeArchived ?? false, ...(category !== undefined ? { category } : {}) };
      return presentPage(
        await eventTypes.listEventTypes(deps, env(request), filter, pageRequest(request.query)),
        presentEventType,
      );
    },
  );

  r.get(
    '/v1/event-types/:name',
    { config: { access: ANY_ROLE }, schema: { ...meta, summary: 'Get an event type', params: NameParams } },
    async (request) => presentEventType(await eventTypes.getEventType(deps, env(request), request.params.name)),
  );

  r.patch(
    '/v1/event-types/:name',
    {
      config: { access: ADMIN },
      schema: {
        ...meta,
        summary: 'Update an event type (a schema change bumps schemaVersion; archived: false restores it)',
        params: NameParams,
        body: Type.Object(
          {
            description: Type.Optional(NullableDescription),
            category: Type.Optional(NullableName),
            schema: Type.Optional(Type.Union([JsonSchemaObject, Type.Null()])),
            example: Type.Optional(Json),
            archived: Type.Optional(Type.Boolean()),
          },
          strict,
        ),
      },
    },
    async (request) => {
      const { example, schema, ...rest } = request.body;
      const patch: eventTypes.EventTypePatch = { ...rest, schema: schema as JsonObject | null | undefined };
      if ('example' in request.body) patch.example = example as JsonValue;
      return presentEventType(await eventTypes.updateEventType(deps, env(request), request.params.name, patch));
    },
  );

  r.delete(
    '/v1/event-types/:name',
    {
      config: { access: ADMIN },
      schema: { ...meta, summary: 'Archive an event type (new publishes refused; stored events stay)', params: NameParams },
    },
    async (request, reply) => {
      await eventTypes.archiveEventType(deps, env(request), request.params.name);
      return reply.code(204).send();
    },
  );
};
