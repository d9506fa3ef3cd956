/**
 * Fan-out: the deliveries an accepted event gets, one per enabled matching subscription of each
 * topic it goes to. They are written in the same transaction as the event, so a 202 means
 * nothing can be lost.
 */
import { wantsType } from '../domain/matching.ts';
import type { StoredEvent } from '../domain/types.ts';
import { newId } from '../ids.ts';
import type { FanoutTarget, NewDelivery } from '../store/delivery-store.ts';

/**
 * @param topicsOf the topics each event goes to (a topic publish: that one; a global publish:
 *   every topic holding its type).
 */
export function planDeliveries(
  events: readonly StoredEvent[],
  topicsOf: (event: StoredEvent) => readonly string[],
  targets: readonly FanoutTarget[],
  now: number,
): NewDelivery[] {
  const byTopic = new Map<string, FanoutTarget[]>();
  for (const target of targets) {
    const list = byTopic.get(target.topic) ?? [];
    list.push(target);
    byTopic.set(target.topic, list);
  }
  const deliveries: NewDelivery[] = [];
  for (const event of events) {
    for (const topic of topicsOf(event)) {
      for (const target of byTopic.get(topic) ?? []) {
        if (!wantsType(target.events, event.type)) continue;
        deliveries.push({
          id: newId('dlv', now),
          eventId: event.id,
          subscriptionId: target.id,
          topic,
          status: event.deliverAt > now ? 'scheduled' : 'pending',
          nextAttemptAt: event.deliverAt,
          createdAt: now,
          ...(target.ordering === 'fifo' ? { fifo: true } : {}),
        });
      }
    }
  }
  return deliveries;
}
