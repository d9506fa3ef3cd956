/**
 * Which delivery statuses are final: a final delivery is neither waiting nor in flight, so the
 * queue will not touch it again on its own. A manual retry may put it back (requeue), and
 * retention may delete it once it is older than the horizon; a delivery in any other status is
 * still owed to its receiver and is kept, with its event and attempts.
 */
import type { DeliveryStatus } from './types.ts';

export const FINAL_DELIVERY_STATUSES = ['succeeded', 'failed', 'cancelled'] as const satisfies readonly DeliveryStatus[];

export type FinalDeliveryStatus = (typeof FINAL_DELIVERY_STATUSES)[number];

export function isFinalDeliveryStatus(status: DeliveryStatus): status is FinalDeliveryStatus {
  return (FINAL_DELIVERY_STATUSES as readonly DeliveryStatus[]).includes(status);
}

/** The first moment kept by a retention of `days`: rows accepted before it may be pruned. */
export function retentionHorizon(now: number, days: number): number {
  return now - days * 24 * 60 * 60 * 1000;
}
