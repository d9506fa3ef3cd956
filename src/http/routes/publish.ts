import { Type } from 'typebox';
import { type EventInput, publish } from '../../core/publish.ts';
import { EVENT_ID_PATTERN } from '../../domain/names.ts';
import { PUBLISHERS, callerOf } from '../auth.ts';
import { Json, Name, TopicParams, strict } from '../schemas/common.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

const meta = { tags: ['publishing'], security: ENV_SECURITY };

/** One year: the furthest `delay` we accept. */
const MAX_DELAY_SECONDS = 365 * 24 * 3600;

export const EventSchema = Type.Object(
  {
    type: Name,
    id: Type.Optional(Type.String({ pattern: EVENT_ID_PATTERN, description: 'idempotency key; kept as given' })),
    data: Type.Optional(Json),
    source: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    time: Type.Optional(Type.String({ format: 'date-time', description: 'RFC 3339' })),
    context: Type.Optional(Type.Array(Name, { maxItems: 100, description: 'context tags' })),
    timestamp: Type.Optional(
      Type.Number({ minimum: 0, maximum: 253402300799999, description: 'ms since epoch (seconds if < 1e11)' }),
    ),
    delay: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_DELAY_SECONDS, description: 'seconds' })),
  },
  strict,
);

const PublishBody = Type.Object({ events: Type.Array(EventSchema, { minItems: 1 }) }, strict);

export const publishRoutes: RouteModule = (app, deps) => {
  const r = typed(app);

  r.post(
    '/v1/topics/:topic/events/publish',
    {
      config: { access: PUBLISHERS },
      schema: {
        ...meta,
        summary: "Publish events to one topic's subscriptions (atomic batch)",
        params: TopicParams,
        body: PublishBody,
      },
    },
    async (request, reply) => {
      const result = await publish(deps, callerOf(request).environmentId, { topic: request.params.topic }, request.body
        .events as EventInput[]);
      return reply.code(202).send(result);
    },
  );

  r.post(
    '/v1/events/publish',
    {
      config: { access: PUBLISHERS },
      schema: {
        ...meta,
        summary: 'Publish events to every topic that contains their type (atomic batch)',
        body: PublishBody,
      },
    },
    async (request, reply) => {
      const result = await publish(deps, callerOf(request).environmentId, { allTopics: true }, request.body
        .events as EventInput[]);
      return reply.code(202).send(result);
    },
  );
};
