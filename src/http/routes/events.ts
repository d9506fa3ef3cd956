import { Type } from 'typebox';
import * as events from '../../core/events.ts';
import * as logs from '../../core/logs.ts';
import { getUsage } from '../../core/usage.ts';
import { invalid } from '../../errors.ts';
import type { EventListFilter } from '../../store/store.ts';
import { PUBLISHERS, callerOf } from '../auth.ts';
import { PageQuery, pageRequest, presentPage } from '../pagination.ts';
import { presentDelivery, presentEvent, presentUsage } from '../present.ts';
import { IdParams, Name, strict } from '../schemas/common.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

const meta = { tags: ['logs'], security: ENV_SECURITY };
const DateTime = Type.String({ format: 'date-time' });

/** Milliseconds of a query date-time; RFC 3339 allows one (a leap second) that Date cannot hold. */
function instant(value: string, name: 'since' | 'until'): number {
  const ms = Date.parse(value);
  if (!Number.isNaN(ms)) return ms;
  throw invalid(`${name} is not a usable date-time`, [
    { path: `querystring:/${name}`, message: 'must be an RFC 3339 date-time' },
  ]);
}

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
      if (since !== undefined) filter.since = instant(since, 'since');
      if (until !== undefined) filter.until = instant(until, 'until');
      return presentPage(
        await events.listEvents(deps, callerOf(request).environmentId, filter, pageRequest(request.query)),
        presentEvent,
      );
    },
  );

  r.get(
    '/v1/events/:id',
    { config: { access: PUBLISHERS }, schema: { ...meta, summary: 'Get an event with its deliveries', params: IdParams } },
    async (request) => {
      const found = await logs.getEventWithDeliveries(deps, callerOf(request).environmentId, request.params.id);
      return { ...presentEvent(found.event), deliveries: found.deliveries.map(presentDelivery) };
    },
  );

  r.post(
    '/v1/events/:id/cancel',
    {
      config: { access: PUBLISHERS },
      schema: { ...meta, summary: 'Cancel a scheduled event (409 once its delivery has started)', params: IdParams },
    },
    async (request) => {
      const done = await logs.cancelEvent(deps, callerOf(request).environmentId, request.params.id);
      return { ...presentEvent(done.event), cancelledDeliveries: done.cancelled };
    },
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
