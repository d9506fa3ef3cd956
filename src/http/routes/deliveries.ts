import { Type } from 'typebox';
import * as logs from '../../core/logs.ts';
import { invalid } from '../../errors.ts';
import { callerOf } from '../auth.ts';
import { PageQuery, pageRequest, presentPage } from '../pagination.ts';
import { iso, presentAttempt, presentDelivery } from '../present.ts';
import { IdParams, strict } from '../schemas/common.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

const meta = { tags: ['logs'], security: ENV_SECURITY };
/** Subscriber keys reach the logs of subscriptions on topics they may see; publishers only publish. */
const LOG_READERS = { roles: ['admin', 'subscriber'] as const };
const DeliveryStatus = Type.Union(
  ['scheduled', 'pending', 'delivering', 'succeeded', 'failed', 'cancelled'].map((s) => Type.Literal(s)),
);
const DateTime = Type.String({ format: 'date-time' });

export const deliveryRoutes: RouteModule = (app, deps) => {
  const r = typed(app);
  const env = (request: Parameters<typeof callerOf>[0]) => callerOf(request).environmentId;

  r.get(
    '/v1/deliveries/:id',
    { config: { access: LOG_READERS }, schema: { ...meta, summary: 'Get a delivery', params: IdParams } },
    async (request) => presentDelivery(await logs.getDelivery(deps, env(request), request.params.id, callerOf(request))),
  );

  r.get(
    '/v1/deliveries/:id/attempts',
    {
      config: { access: LOG_READERS },
      schema: { ...meta, summary: "A delivery's attempts, first to last", params: IdParams, querystring: Type.Object(PageQuery, strict) },
    },
    async (request) =>
      presentPage(
        await logs.listAttempts(deps, env(request), request.params.id, pageRequest(request.query), callerOf(request)),
        presentAttempt,
      ),
  );

  r.post(
    '/v1/deliveries/:id/retry',
    {
      config: { access: LOG_READERS },
      schema: { ...meta, summary: 'Send a finished delivery again now (same webhook-id)', params: IdParams },
    },
    async (request, reply) =>
      reply.code(202).send(presentDelivery(await logs.retryDelivery(deps, env(request), request.params.id, callerOf(request)))),
  );

  r.get(
    '/v1/subscriptions/:id/deliveries',
    {
      config: { access: LOG_READERS },
      schema: {
        ...meta,
        summary: "A subscription's deliveries, newest first",
        params: IdParams,
        querystring: Type.Object({ ...PageQuery, status: Type.Optional(DeliveryStatus) }, strict),
      },
    },
    async (request) =>
      presentPage(
        await logs.listSubscriptionDeliveries(
          deps,
          env(request),
          request.params.id,
          request.query.status as Parameters<typeof logs.listSubscriptionDeliveries>[3],
          pageRequest(request.query),
          callerOf(request),
        ),
        presentDelivery,
      ),
  );

  r.get(
    '/v1/subscriptions/:id/stats',
    {
      config: { access: LOG_READERS },
      schema: { ...meta, summary: 'Counts by status, success rate, last attempt, p50/p99 latency, circuit breaker', params: IdParams },
    },
    async (request) => {
      const stats = await logs.subscriptionStats(deps, env(request), request.params.id, callerOf(request));
      const at = (ms: number | null) => (ms === null ? null : iso(ms));
      return {
        ...stats,
        lastAttemptAt: at(stats.lastAttemptAt),
        breaker: { ...stats.breaker, openedAt: at(stats.breaker.openedAt), nextProbeAt: at(stats.breaker.nextProbeAt) },
      };
    },
  );

  r.post(
    '/v1/subscriptions/:id/replay',
    {
      config: { access: LOG_READERS },
      schema: {
        ...meta,
        summary: `Queue the subscription's events since a time again (at most ${logs.REPLAY_LIMIT} per call)`,
        params: IdParams,
        body: Type.Object(
          { since: DateTime, until: Type.Optional(DateTime), onlyFailed: Type.Optional(Type.Boolean()) },
          strict,
        ),
      },
    },
    async (request, reply) => {
      const { since, until, onlyFailed } = request.body;
      const parsedSince = Date.parse(since);
      const parsedUntil = until === undefined ? undefined : Date.parse(until);
      // A leap second is valid RFC 3339 but no JavaScript date.
      if (Number.isNaN(parsedSince) || (parsedUntil !== undefined && Number.isNaN(parsedUntil))) {
        throw invalid('since/until must be representable instants', [{ path: '/since', message: 'is not a usable instant' }]);
      }
      const result = await logs.replay(
        deps,
        env(request),
        request.params.id,
        {
          since: parsedSince,
          ...(parsedUntil !== undefined ? { until: parsedUntil } : {}),
          ...(onlyFailed !== undefined ? { onlyFailed } : {}),
        },
        callerOf(request),
      );
      return reply.code(202).send(result);
    },
  );
};
