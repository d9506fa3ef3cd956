import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type EventInput, publish } from '../../core/publish.ts';
import { EVENT_ID_PATTERN } from '../../domain/names.ts';
import type { FieldProblem } from '../../errors.ts';
import { PUBLISHERS, callerOf } from '../auth.ts';
import { toHeraldError } from '../problem.ts';
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

const EVENT_PATH = /^\/events\/\d+(\/|$)/;

/**
 * The batch, and the problems the body schema found inside single events. The route validates with
 * attachValidation so that those reach the core and are listed together with its own checks
 * (SPEC: "400 listing every problem"); any other problem of the body (no `events` array, an empty
 * one, an unknown top-level field) is answered at once.
 */
function batchOf(request: FastifyRequest): { inputs: EventInput[]; flawed: FieldProblem[] } {
  const body = request.body as { events?: unknown } | null;
  const error = request.validationError;
  if (!error) return { inputs: body?.events as EventInput[], flawed: [] };
  const known = toHeraldError(error);
  const problems = known?.errors ?? [];
  const perEvent = problems.length > 0 && problems.every((p) => EVENT_PATH.test(p.path));
  if (!known || !perEvent || !Array.isArray(body?.events)) throw known ?? error;
  return { inputs: body.events as EventInput[], flawed: problems };
}

export const publishRoutes: RouteModule = (app, deps) => {
  const r = typed(app);

  r.post(
    '/v1/topics/:topic/events/publish',
    {
      config: { access: PUBLISHERS },
      attachValidation: true,
      schema: {
        ...meta,
        summary: "Publish events to one topic's subscriptions (atomic batch)",
        params: TopicParams,
        body: PublishBody,
      },
    },
    async (request, reply) => {
      const { inputs, flawed } = batchOf(request);
      const result = await publish(deps, callerOf(request).environmentId, { topic: request.params.topic }, inputs, flawed);
      return reply.code(202).send(result);
    },
  );

  r.post(
    '/v1/events/publish',
    {
      config: { access: PUBLISHERS },
      attachValidation: true,
      schema: {
        ...meta,
        summary: 'Publish events to every topic that contains their type (atomic batch)',
        body: PublishBody,
      },
    },
    async (request, reply) => {
      const { inputs, flawed } = batchOf(request);
      const result = await publish(deps, callerOf(request).environmentId, { allTopics: true }, inputs, flawed);
      return reply.code(202).send(result);
    },
  );
};
