/**
 * The delivery log and recovery (SPEC §4 Logs, Subscriptions): deliveries and their attempts,
 * manual retry, cancelling scheduled events, replay, per-subscription stats. A subscriber key
 * reaches only deliveries of subscriptions on topics it may see (anything else is a 404).
 */
import { wantsType } from '../domain/matching.ts';
import { OPERATIONAL_TOPIC } from '../domain/names.ts';
import type { Attempt, Delivery, DeliveryStatus, Page, PageRequest, StoredEvent } from '../domain/types.ts';
import { HeraldError, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import type { NewDelivery } from '../store/delivery-store.ts';
import type { CoreDeps } from './deps.ts';
import { getEvent } from './events.ts';
import { operationalAudience } from './operational.ts';
import { getSubscription } from './subscriptions.ts';
import type { Viewer } from './topics.ts';

/** Most events one replay call re-queues; call again with a later `since` for more. */
export const REPLAY_LIMIT = 10_000;

export async function getEventWithDeliveries(
  deps: CoreDeps,
  environmentId: string,
  id: string,
): Promise<{ event: StoredEvent; deliveries: Delivery[] }> {
  const event = await getEvent(deps, environmentId, id);
  const deliveries = await deps.store.listDeliveries(environmentId, { eventId: id }, { limit: 250, after: null });
  return { event, deliveries: deliveries.data };
}

export async function getDelivery(deps: CoreDeps, environmentId: string, id: string, viewer: Viewer): Promise<Delivery> {
  const delivery = await deps.store.getDelivery(environmentId, id);
  if (!delivery) throw notFound(`delivery ${id}`);
  if (viewer.role === 'subscriber') {
    try {
      await getSubscription(deps, environmentId, delivery.subscriptionId, viewer);
    } catch (error) {
      if (error instanceof HeraldError && error.code === 'not_found') throw notFound(`delivery ${id}`);
      throw error;
    }
  }
  return delivery;
}

export async function listAttempts(
  deps: CoreDeps,
  environmentId: string,
  deliveryId: string,
  page: PageRequest,
  viewer: Viewer,
): Promise<Page<Attempt>> {
  await getDelivery(deps, environmentId, deliveryId, viewer);
  return deps.store.listAttempts(environmentId, deliveryId, page);
}

/** A disabled subscription's deliveries are cancelled by the worker: queueing more would only hide that. */
function requireEnabled(subscription: { status: string } | null, id: string): void {
  if (subscription && subscription.status !== 'enabled') {
    throw new HeraldError('conflict', `subscription ${id} is disabled; enable it first`);
  }
}

/** Sends a finished delivery again now (same webhook-id). 409 while it is still on its way. */
export async function retryDelivery(deps: CoreDeps, environmentId: string, id: string, viewer: Viewer): Promise<Delivery> {
  const delivery = await getDelivery(deps, environmentId, id, viewer);
  const [event, subscription] = await Promise.all([
    deps.store.getEvent(environmentId, delivery.eventId),
    deps.store.getSubscription(environmentId, delivery.subscriptionId),
  ]);
  if (event?.cancelledAt != null) throw new HeraldError('conflict', `event ${delivery.eventId} was cancelled`);
  requireEnabled(subscription, delivery.subscriptionId);
  const requeued = await deps.store.requeueDelivery(environmentId, id, deps.clock.now());
  if (!requeued) {
    throw new HeraldError('conflict', `delivery ${id} is ${delivery.status}; only finished deliveries can be retried`);
  }
  deps.delivery.wakeup.notify();
  return (await deps.store.getDelivery(environmentId, id)) as Delivery;
}

/** Cancels an event whose delivery has not started yet. */
export async function cancelEvent(
  deps: CoreDeps,
  environmentId: string,
  id: string,
): Promise<{ event: StoredEvent; cancelled: number }> {
  const event = await getEvent(deps, environmentId, id);
  const now = deps.clock.now();
  if (event.cancelledAt !== null) return { event, cancelled: 0 };
  if (event.deliverAt <= now) {
    throw new HeraldError('conflict', `event ${id} is not scheduled: its delivery started at ${new Date(event.deliverAt).toISOString()}`);
  }
  const cancelled = await deps.store.cancelScheduledDeliveries(environmentId, id, now);
  return { event: await getEvent(deps, environmentId, id), cancelled };
}

export async function listSubscriptionDeliveries(
  deps: CoreDeps,
  environmentId: string,
  subscriptionId: string,
  status: DeliveryStatus | undefined,
  page: PageRequest,
  viewer: Viewer,
): Promise<Page<Delivery>> {
  await getSubscription(deps, environmentId, subscriptionId, viewer);
  return deps.store.listDeliveries(
    environmentId,
    { subscriptionId, ...(status !== undefined ? { status } : {}) },
    page,
  );
}

export interface ReplayRequest {
  since: number;
  until?: number;
  onlyFailed?: boolean;
}

/**
 * Queues the subscription's events accepted in [since, until) again, as new deliveries with the
 * events' own ids as webhook-id (receivers de-duplicate). `onlyFailed`: only events whose delivery
 * to this subscription failed. On `herald.operational`, only events its scope may receive.
 */
export async function replay(
  deps: CoreDeps,
  environmentId: string,
  subscriptionId: string,
  request: ReplayRequest,
  viewer: Viewer,
): Promise<{ queued: number }> {
  const subscription = await getSubscription(deps, environmentId, subscriptionId, viewer);
  requireEnabled(subscription, subscriptionId);
  const now = deps.clock.now();
  const until = request.until ?? now + 1;
  if (until <= request.since) {
    throw new HeraldError('validation_failed', '`until` must be after `since`', [
      { path: '/until', message: 'must be after since' },
    ]);
  }
  const events = await deps.store.eventsForReplay(
    environmentId,
    subscription,
    { since: request.since, until, onlyFailed: request.onlyFailed ?? false },
    REPLAY_LIMIT,
  );
  const mayReceive = operationalAudience(deps.store, environmentId);
  const wanted: StoredEvent[] = [];
  for (const e of events) {
    if (e.cancelledAt !== null || !wantsType(subscription.events, e.type)) continue;
    if (subscription.topic === OPERATIONAL_TOPIC && !(await mayReceive(subscription.scope, e))) continue;
    wanted.push(e);
  }
  const deliveries: NewDelivery[] = wanted.map((e) => ({
    id: newId('dlv', now),
    eventId: e.id,
    subscriptionId,
    topic: subscription.topic,
    // An event not due yet keeps its schedule (and stays cancellable with the event).
    status: e.deliverAt > now ? 'scheduled' : 'pending',
    nextAttemptAt: Math.max(now, e.deliverAt),
    createdAt: now,
  }));
  await deps.store.insertDeliveries(environmentId, deliveries);
  if (deliveries.length > 0) deps.delivery.wakeup.notify();
  return { queued: deliveries.length };
}

export interface SubscriptionStatsView {
  counts: Record<DeliveryStatus, number>;
  /** Succeeded attempts / all attempts; null before the first attempt. */
  successRate: number | null;
  lastAttemptAt: number | null;
  latencyMs: { p50: number | null; p99: number | null };
  /** Its circuit breaker: `open` while its receiver keeps failing (new events wait but for a probe now and then). */
  breaker: { state: 'closed' | 'open'; openedAt: number | null; failures: number; nextProbeAt: number | null };
}

/** Nearest-rank percentile of a sample. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export async function subscriptionStats(
  deps: CoreDeps,
  environmentId: string,
  subscriptionId: string,
  viewer: Viewer,
): Promise<SubscriptionStatsView> {
  await getSubscription(deps, environmentId, subscriptionId, viewer);
  const stats = await deps.store.subscriptionStats(environmentId, subscriptionId);
  const total = stats.succeededAttempts + stats.failedAttempts;
  return {
    counts: stats.counts,
    successRate: total === 0 ? null : stats.succeededAttempts / total,
    lastAttemptAt: stats.lastAttemptAt,
    latencyMs: { p50: percentile(stats.recentDurationsMs, 50), p99: percentile(stats.recentDurationsMs, 99) },
    breaker: {
      state: stats.breaker.openedAt === null ? 'closed' : 'open',
      openedAt: stats.breaker.openedAt,
      failures: stats.breaker.failures,
      nextProbeAt: stats.breaker.openedAt === null ? null : stats.breaker.probeAt,
    },
  };
}
