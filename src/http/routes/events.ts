import { Type } from 'typebox';
import * as events from '../../core/events.ts';
import { getUsage } from '../../core/usage.ts';
import type { EventListFilter } from '../../store/store.ts';
import { PUBLISHERS, callerOf } from '../auth.ts';
import { PageQuery, pageRequest, presentPage } from '../pagination.ts';
import { presentEvent, presentUsage } from '../present.ts';
import { IdParams, Name, strict } from '../schemas/common.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

const meta = { tags: ['logs'], security: ENV_SECURITY };
const DateTime = Type.String({ format: 'date-time' });

export const eventRoutes: RouteModule = (app, deps) => {
  const r = typed(app);

  r.get(
    '/v1/events',
    {
      config: { access: PUBLISHERS },
      schema: {
        ...meta,
        summary: 'List accepted events, newest first',
        querystring: Type.Object(
          {
            ...PageQuery,
            topic: Type.Optional(Name),
            type: Type.Optional(Name),
            since: Type.Optional(DateTime),
            until: Type.Optional(DateTime),
          },
          strict,
        ),
      },
    },
    async (request) => {
      const { topic, type, since, until } = request.query;
      const filter: EventListFilter = {};
      if (topic !== undefined) filter.topic = topic;
      if (type !== undefined) filter.type = type;
      if (since !== undefined) filter.since = Date.parse(since);
      if (until !== undefined) filter.until = Date.parse(until);
      return presentPage(
        await events.listEvents(deps, callerOf(request).environmentId, filter, pageRequest(request.query)),
        presentEvent,
      );
    },
  );

  r.get(
    '/v1/events/:id',
    { config: { access: PUBLISHERS }, schema: { ...meta, summary: 'Get an event', params: IdParams } },
    async (request) => presentEvent(await events.getEvent(deps, callerOf(request).environmentId, request.params.id)),
  );

  r.get(
    '/v1/usage',
    {
      config: { access: PUBLISHERS },
      schema: { tags: ['publishing'], security: ENV_SECURITY, summary: "This month's accepted events and quota" },
    },
    async (request) => presentUsage(await getUsage(deps, callerOf(request).environmentId)),
  );
};
