import { Type } from 'typebox';
import * as topics from '../../core/topics.ts';
import { ADMIN, ANY_ROLE, callerOf } from '../auth.ts';
import { PageQuery, pageRequest, presentPage } from '../pagination.ts';
import { presentTopic } from '../present.ts';
import { Id, Name, NullableDescription, TopicParams, strict } from '../schemas/common.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

const meta = { tags: ['topics'], security: ENV_SECURITY };
const EventTypeNames = Type.Array(Name, { maxItems: 1000, description: 'registered, non-archived event types' });

export const topicRoutes: RouteModule = (app, deps) => {
  const r = typed(app);
  const env = (request: Parameters<typeof callerOf>[0]) => callerOf(request).environmentId;

  r.post(
    '/v1/topics',
    {
      config: { access: ADMIN },
      schema: {
        ...meta,
        summary: 'Create a topic',
        body: Type.Object(
          {
            name: Name,
            description: Type.Optional(NullableDescription),
            eventTypes: EventTypeNames,
            appId: Type.Optional(Type.Union([Id, Type.Null()])),
          },
          strict,
        ),
      },
    },
    async (request, reply) => reply.code(201).send(presentTopic(await topics.createTopic(deps, env(request), request.body))),
  );

  r.get(
    '/v1/topics',
    {
      config: { access: ANY_ROLE },
      schema: { ...meta, summary: 'List the topics the key may see', querystring: Type.Object(PageQuery, strict) },
    },
    async (request) =>
      presentPage(
        await topics.listTopics(deps, env(request), pageRequest(request.query), callerOf(request)),
        presentTopic,
      ),
  );

  r.get(
    '/v1/topics/:topic',
    { config: { access: ANY_ROLE }, schema: { ...meta, summary: 'Get a topic', params: TopicParams } },
    async (request) => presentTopic(await topics.getTopic(deps, env(request), request.params.topic, callerOf(request))),
  );

  r.patch(
    '/v1/topics/:topic',
    {
      config: { access: ADMIN },
      schema: {
        ...meta,
        summary: 'Update a topic (eventTypes replaces the set)',
        params: TopicParams,
        body: Type.Object(
          {
            description: Type.Optional(NullableDescription),
            eventTypes: Type.Optional(EventTypeNames),
            appId: Type.Optional(Type.Union([Id, Type.Null()])),
          },
          strict,
        ),
      },
    },
    async (request) => presentTopic(await topics.updateTopic(deps, env(request), request.params.topic, request.body)),
  );

  r.delete(
    '/v1/topics/:topic',
    {
      config: { access: ADMIN },
      schema: { ...meta, summary: 'Delete a topic (409 while it has subscriptions)', params: TopicParams },
    },
    async (request, reply) => {
      await topics.deleteTopic(deps, env(request), request.params.topic);
      return reply.code(204).send();
    },
  );
};
