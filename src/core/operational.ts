/**
 * Operational events (SPEC §6): every environment has the built-in topic `herald.operational`
 * with three event types. Herald publishes to it when a delivery exhausts its retries, when a
 * subscription is disabled (failures or 410) and when one recovers. Subscribing works like any
 * topic. Operational events do not count against the quota, and failures of deliveries *of*
 * operational events raise no further operational events (no feedback loop).
 */
import { monthOf } from '../domain/month.ts';
import { OPERATIONAL_TOPIC } from '../domain/names.ts';
import type { EventType, JsonObject, StoredEvent } from '../domain/types.ts';
import { newId } from '../ids.ts';
import type { CoreDeps } from './deps.ts';
import { planDeliveries } from './fanout.ts';

export const OPERATIONAL_TYPES: Record<string, { description: string; schema: JsonObject }> = {
  'herald.delivery.failed': {
    description: 'A delivery exhausted its retries.',
    schema: {
      type: 'object',
      required: ['deliveryId', 'eventId', 'subscriptionId', 'topic', 'attempts'],
      properties: {
        deliveryId: { type: 'string' },
        eventId: { type: 'string' },
        subscriptionId: { type: 'string' },
        topic: { type: 'string' },
        attempts: { type: 'integer' },
        lastError: { type: ['string', 'null'] },
      },
    },
  },
  'herald.subscription.disabled': {
    description: 'A subscription was disabled after consecutive failures or a 410 Gone.',
    schema: {
      type: 'object',
      required: ['subscriptionId', 'topic', 'reason'],
      properties: {
        subscriptionId: { type: 'string' },
        topic: { type: 'string' },
        reason: { enum: ['failures', 'gone'] },
        consecutiveFailures: { type: 'integer' },
      },
    },
  },
  'herald.subscription.recovered': {
    description: 'A subscription delivered successfully after one or more exhausted deliveries.',
    schema: {
      type: 'object',
      required: ['subscriptionId', 'topic'],
      properties: { subscriptionId: { type: 'string' }, topic: { type: 'string' } },
    },
  },
};

/** Creates the built-in topic and its event types if missing; idempotent. */
export async function ensureOperationalTopic(deps: CoreDeps, environmentId: string): Promise<void> {
  const now = deps.clock.now();
  for (const [name, spec] of Object.entries(OPERATIONAL_TYPES)) {
    const eventType: EventType = {
      name,
      description: spec.description,
      category: null,
      schema: spec.schema,
      example: undefined,
      schemaVersion: 1,
      archivedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    await deps.store.insertEventType(environmentId, eventType);
  }
  await deps.store.insertTopic(environmentId, {
    name: OPERATIONAL_TOPIC,
    description: "Herald's own events about deliveries and subscriptions",
    eventTypes: Object.keys(OPERATIONAL_TYPES).sort(),
    appId: null,
    createdAt: now,
    updatedAt: now,
  });
}

/** Publishes one operational event to the built-in topic's subscribers. */
export async function emitOperationalEvent(
  deps: CoreDeps,
  environmentId: string,
  type: keyof typeof OPERATIONAL_TYPES,
  data: JsonObject,
): Promise<void> {
  const now = deps.clock.now();
  const event: StoredEvent = {
    id: newId('evt', now),
    type,
    source: `/environments/${environmentId}/herald`,
    subject: typeof data.subscriptionId === 'string' ? data.subscriptionId : null,
    time: now,
    dataJson: JSON.stringify(data),
    context: [],
    topic: OPERATIONAL_TOPIC,
    deliverAt: now,
    cancelledAt: null,
    createdAt: now,
  };
  const targets = await deps.store.fanoutTargets(environmentId, [OPERATIONAL_TOPIC]);
  const deliveries = planDeliveries([event], () => [OPERATIONAL_TOPIC], targets, now);
  await deps.store.acceptEvents(environmentId, [event], { month: monthOf(now), limit: null, count: false }, deliveries);
  if (deliveries.length > 0) deps.delivery.wakeup.notify();
}
