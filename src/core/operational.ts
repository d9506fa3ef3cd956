/**
 * Operational events (SPEC §6): every environment has the built-in topic `herald.operational`
 * with three event types. Herald publishes to it when a delivery exhausts its retries, when a
 * subscription is disabled (failures or 410) and when one recovers. Subscribing works like any
 * topic. Operational events do not count against the quota, and failures of deliveries *of*
 * operational events raise no further operational events (no feedback loop).
 *
 * Tenant isolation: every operational event is about one topic (its data's `topic`) and names
 * that topic's subscriptions and events. A subscription on `herald.operational` receives it only
 * when its `scope` (the view of the key that created it or last changed its URL) may see that
 * topic, by the rule the API applies (domain/visibility.ts). Fan-out applies it, replay applies
 * it, and the worker applies it again just before sending, with the subscription as it is then:
 * deliveries queued under an earlier scope (before a URL change, or retried) are cancelled.
 */
import { monthOf } from '../domain/month.ts';
import { OPERATIONAL_TOPIC } from '../domain/names.ts';
import type { App, EventType, JsonObject, StoredEvent, Topic } from '../domain/types.ts';
import { type Viewer, maySeeTopic, seesEverything } from '../domain/visibility.ts';
import { newId } from '../ids.ts';
import type { Store } from '../store/store.ts';
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
        batchId: { type: ['string', 'null'], description: 'the batch it failed in; the other events of the batch failed with it' },
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
  'herald.subscription.breaker_opened': {
    description:
      "A subscription's attempts failed several times in a row: its new events wait (but for a probe now and then) while its retries go on.",
    schema: {
      type: 'object',
      required: ['subscriptionId', 'topic', 'failures', 'nextProbeAt'],
      properties: {
        subscriptionId: { type: 'string' },
        topic: { type: 'string' },
        failures: { type: 'integer', description: 'attempts failed in a row' },
        nextProbeAt: { type: 'string', format: 'date-time' },
      },
    },
  },
  'herald.subscription.breaker_closed': {
    description: "A subscription's attempt succeeded while its breaker was open: its new events go again.",
    schema: {
      type: 'object',
      required: ['subscriptionId', 'topic'],
      properties: { subscriptionId: { type: 'string' }, topic: { type: 'string' } },
    },
  },
};

/**
 * Creates the built-in topic and its event types if missing; idempotent. An environment made by an
 * earlier Herald gets the types added since (its topic is completed).
 */
export async function ensureOperationalTopic(deps: CoreDeps, environmentId: string): Promise<void> {
  const now = deps.clock.now();
  const existing = await deps.store.getTopic(environmentId, OPERATIONAL_TOPIC);
  if (existing && Object.keys(OPERATIONAL_TYPES).every((name) => existing.eventTypes.includes(name))) return;
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
  const topic = {
    name: OPERATIONAL_TOPIC,
    description: "Herald's own events about deliveries and subscriptions",
    eventTypes: Object.keys(OPERATIONAL_TYPES).sort(),
    appId: null,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  if (existing) await deps.store.updateTopic(environmentId, topic);
  else await deps.store.insertTopic(environmentId, topic);
}

/** Publishes one operational event to the built-in topic's subscribers. */
export async function emitOperationalEvent(
  deps: CoreDeps,
  environmentId: string,
  type: keyof typeof OPERATIONAL_TYPES,
  data: JsonObject,
): Promise<void> {
  await ensureOperationalTopic(deps, environmentId);
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
  const mayReceive = operationalAudience(deps.store, environmentId);
  const subscribed = await deps.store.fanoutTargets(environmentId, [OPERATIONAL_TOPIC]);
  const allowed = await Promise.all(subscribed.map((target) => mayReceive(target.scope, event)));
  const targets = subscribed.filter((_, i) => allowed[i]);
  const deliveries = planDeliveries([event], () => [OPERATIONAL_TOPIC], targets, now);
  await deps.store.acceptEvents(environmentId, [event], { month: monthOf(now), limit: null, count: false }, deliveries);
  if (deliveries.length > 0) deps.delivery.wakeup.notify();
}

/** The topic an operational event is about (its data's `topic`), or null when it names none. */
function topicAbout(event: StoredEvent): string | null {
  try {
    const data = JSON.parse(event.dataJson) as { topic?: unknown } | null;
    return typeof data?.topic === 'string' ? data.topic : null;
  } catch {
    return null;
  }
}

/**
 * Whether a subscription of `scope` may receive an operational event of the environment: when the
 * scope may see the topic the event is about. An event naming no topic, or a topic since deleted
 * (its owner unknown), reaches only scopes that see everything. Topics and apps are read once per
 * returned function: make one per fan-out, replay or send.
 */
export function operationalAudience(
  store: Pick<Store, 'getTopic' | 'getApp'>,
  environmentId: string,
): (scope: Viewer, event: StoredEvent) => Promise<boolean> {
  const owners = new Map<string, Promise<{ topic: Topic | null; app: App | null }>>();
  const ownerOf = async (name: string) => {
    const topic = await store.getTopic(environmentId, name);
    const app = topic?.appId ? await store.getApp(environmentId, topic.appId) : null;
    return { topic, app };
  };
  return async (scope, event) => {
    if (seesEverything(scope)) return true;
    const name = topicAbout(event);
    if (name === null) return maySeeTopic(scope, null, null);
    let owner = owners.get(name);
    if (!owner) {
      owner = ownerOf(name);
      owners.set(name, owner);
    }
    const { topic, app } = await owner;
    return maySeeTopic(scope, topic, app);
  };
}
