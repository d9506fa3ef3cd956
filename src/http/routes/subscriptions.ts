/**
 * Subscriptions (SPEC §4): admin and subscriber keys manage them (a subscriber only on topics it
 * may see: others answer 404); publisher keys may read them, never write, and never see secrets.
 *
 * `secretHeaderValue` is shown in clear only in single-subscription answers to keys that manage
 * the subscription (admin, subscriber); lists and publisher keys get it masked. `signingSecret` is
 * in the creation answer only; after that GET /v1/subscriptions/{id}/secret reads it.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { sendTestEvent } from '../../core/subscription-test-send.ts';
import * as subscriptions from '../../core/subscriptions.ts';
import type { Subscription } from '../../domain/types.ts';
import { type FieldProblem, invalid } from '../../errors.ts';
import { ANY_ROLE, type Access, callerOf } from '../auth.ts';
import { pageRequest, presentPage } from '../pagination.ts';
import { presentSubscription, presentAttempt } from '../present.ts';
import { IdParams, TopicParams } from '../schemas/common.ts';
import {
  CreateSubscriptionBody,
  RotateSecretBody,
  SubscriptionListQuery,
  TestSendBody,
  UNSUPPORTED_FIELDS,
  UpdateSubscriptionBody,
} from '../schemas/subscriptions.ts';
import { ENV_SECURITY, type RouteModule, typed } from './types.ts';

/** Keys that manage subscriptions: admins everywhere, subscribers on the topics they may see. */
export const SUBSCRIPTION_MANAGERS: Access = { roles: ['admin', 'subscriber'] };

const meta = { tags: ['subscriptions'], security: ENV_SECURITY };

/** Refuses the SPEC §4 fields not built yet, naming each, before the schema calls them unknown. */
async function refuseUnsupported(request: FastifyRequest): Promise<void> {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const problems: FieldProblem[] = UNSUPPORTED_FIELDS.filter((field) => Object.hasOwn(body, field)).map((field) => ({
    path: `/${field}`,
    message: `${field} is not supported yet`,
  }));
  if (problems.length > 0) {
    throw invalid(`${problems.map((p) => p.path.slice(1)).join(', ')}: not supported yet by this Herald`, problems);
  }
}

export const subscriptionRoutes: RouteModule = (app, deps) => {
  const r = typed(app);
  const env = (request: FastifyRequest) => callerOf(request).environmentId;
  const manages = (request: FastifyRequest) => callerOf(request).role !== 'publisher';
  const one = (request: FastifyRequest, s: Subscription) =>
    presentSubscription(s, { revealSecretHeader: manages(request) });
  const listed = (s: Subscription) => presentSubscription(s, { revealSecretHeader: false });

  r.post(
    '/v1/topics/:topic/subscriptions',
    {
      config: { access: SUBSCRIPTION_MANAGERS },
      preValidation: refuseUnsupported,
      schema: {
        ...meta,
        summary: 'Create a subscription on a topic (answers the signing secret once)',
        params: TopicParams,
        body: CreateSubscriptionBody,
      },
    },
    async (request, reply) => {
      const created = await subscriptions.createSubscription(
        deps,
        env(request),
        request.params.topic,
        request.body,
        callerOf(request),
      );
      return reply.code(201).send(presentSubscription(created, { revealSecretHeader: true, withSigningSecret: true }));
    },
  );

  r.get(
    '/v1/topics/:topic/subscriptions',
    {
      config: { access: ANY_ROLE },
      schema: {
        ...meta,
        summary: "List a topic's subscriptions",
        params: TopicParams,
        querystring: Type.Object(
          { limit: SubscriptionListQuery.properties.limit, cursor: SubscriptionListQuery.properties.cursor },
          { additionalProperties: false },
        ),
      },
    },
    async (request) =>
      presentPage(
        await subscriptions.listTopicSubscriptions(
          deps,
          env(request),
          request.params.topic,
          pageRequest(request.query),
          callerOf(request),
        ),
        listed,
      ),
  );

  r.get(
    '/v1/subscriptions',
    {
      config: { access: ANY_ROLE },
      schema: { ...meta, summary: 'List subscriptions, by topic and/or customId', querystring: SubscriptionListQuery },
    },
    async (request) => {
      const { topic, customId } = request.query;
      const filter: { topic?: string; customId?: string } = {};
      if (topic !== undefined) filter.topic = topic;
      if (customId !== undefined) filter.customId = customId;
      return presentPage(
        await subscriptions.listSubscriptions(
          deps,
          env(request),
          filter,
          pageRequest(request.query),
          callerOf(request),
        ),
        listed,
      );
    },
  );

  r.get(
    '/v1/subscriptions/:id',
    { config: { access: ANY_ROLE }, schema: { ...meta, summary: 'Get a subscription', params: IdParams } },
    async (request) =>
      one(request, await subscriptions.getSubscription(deps, env(request), request.params.id, callerOf(request))),
  );

  r.patch(
    '/v1/subscriptions/:id',
    {
      config: { access: SUBSCRIPTION_MANAGERS },
      preValidation: refuseUnsupported,
      schema: {
        ...meta,
        summary: 'Update a subscription (send the current version; the answer carries the next)',
        params: IdParams,
        body: UpdateSubscriptionBody,
      },
    },
    async (request) =>
      one(
        request,
        await subscriptions.updateSubscription(deps, env(request), request.params.id, request.body, callerOf(request)),
      ),
  );

  r.delete(
    '/v1/subscriptions/:id',
    {
      config: { access: SUBSCRIPTION_MANAGERS },
      schema: { ...meta, summary: 'Delete a subscription (its unsent deliveries are cancelled)', params: IdParams },
    },
    async (request, reply) => {
      await subscriptions.deleteSubscription(deps, env(request), request.params.id, callerOf(request));
      return reply.code(204).send();
    },
  );

  r.get(
    '/v1/subscriptions/:id/secret',
    {
      config: { access: SUBSCRIPTION_MANAGERS },
      schema: { ...meta, summary: 'Read the signing secret', params: IdParams },
    },
    async (request) => ({
      signingSecret: await subscriptions.getSigningSecret(deps, env(request), request.params.id, callerOf(request)),
    }),
  );

  r.post(
    '/v1/subscriptions/:id/secret/rotate',
    {
      config: { access: SUBSCRIPTION_MANAGERS },
      // The body is optional: no body at all means "generate one", like `{}`.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        ...meta,
        summary: 'Rotate the signing secret (the old one keeps signing for 24 h); the body is optional',
        params: IdParams,
        body: RotateSecretBody,
      },
    },
    async (request) => ({
      signingSecret: await subscriptions.rotateSigningSecret(
        deps,
        env(request),
        request.params.id,
        callerOf(request),
        request.body.signingSecret,
      ),
    }),
  );

  r.post(
    '/v1/subscriptions/:id/enable',
    {
      config: { access: SUBSCRIPTION_MANAGERS },
      schema: { ...meta, summary: 'Enable (clears disabledReason and the failure count)', params: IdParams },
    },
    async (request) =>
      one(request, await subscriptions.enableSubscription(deps, env(request), request.params.id, callerOf(request))),
  );

  r.post(
    '/v1/subscriptions/:id/disable',
    {
      config: { access: SUBSCRIPTION_MANAGERS },
      schema: { ...meta, summary: 'Disable by hand (disabledReason manual)', params: IdParams },
    },
    async (request) =>
      one(request, await subscriptions.disableSubscription(deps, env(request), request.params.id, callerOf(request))),
  );

  r.post(
    '/v1/subscriptions/:id/test',
    {
      config: { access: SUBSCRIPTION_MANAGERS },
      schema: {
        ...meta,
        summary: 'Send one signed test request now (also when disabled); answers the attempt, which is not stored',
        params: IdParams,
        body: TestSendBody,
      },
    },
    async (request) =>
      presentAttempt(
        await sendTestEvent(deps, env(request), request.params.id, request.body, callerOf(request)),
      ),
  );
};
