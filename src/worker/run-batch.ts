/**
 * One attempt of a claimed batch (SPEC §4 `batch`): its events in one signed request whose
 * `webhook-id` is the batch's `bat_…` id (the same on every retry), settled as one: one attempt
 * logged for the batch, and every delivery in it moved together. Deliveries whose event or
 * visibility is gone are cancelled first and leave the batch; the rest go as run-delivery.ts sends one.
 */
import { openSubscriptionSecrets, secretsUnavailableFor } from '../core/subscription-secrets.ts';
import { buildBatchRequest } from '../delivery/batch-request.ts';
import { classify } from '../delivery/classify.ts';
import { loggableHeaders } from '../delivery/request.ts';
import type { StoredEvent } from '../domain/types.ts';
import type { ClaimedBatchOfEvents, ClaimedDelivery, ClaimedWork } from '../queue/queue.ts';
import { type RunContext, type RunReport, attemptFrom, mayReceive, settleAttempt, settleUnsent } from './run-delivery.ts';

export async function runBatch(ctx: RunContext, work: ClaimedWork & { batch: ClaimedBatchOfEvents }): Promise<RunReport> {
  const { subscription, batch } = work;
  const environmentId = work.delivery.environmentId;
  const now = () => ctx.clock.now();
  const cancel = (delivery: ClaimedDelivery) => ctx.store.queue.cancelClaimed(environmentId, delivery.id, ctx.workerId, now());
  const members: ClaimedDelivery[] = [];
  const events: StoredEvent[] = [];
  for (const [i, delivery] of batch.deliveries.entries()) {
    const event = batch.events[i] ?? null;
    // Deleted or disabled since fan-out, or an operational event its scope may not see: not sent.
    if (!subscription || !event || subscription.status !== 'enabled' || !(await mayReceive(ctx, environmentId, subscription, event))) {
      await cancel(delivery);
      continue;
    }
    members.push(delivery);
    events.push(event);
  }
  const first = members[0];
  const report: RunReport = {
    delivery: first ?? work.delivery,
    batch: { id: batch.id, deliveryIds: members.map((d) => d.id) },
    subscription,
    event: events[0] ?? null,
    decision: null,
    effects: null,
    attempt: null,
  };
  if (!first || !subscription) return report;
  const startedAt = now();
  const opened = openSubscriptionSecrets(ctx.secrets, subscription);
  const unavailable = secretsUnavailableFor(opened, startedAt);
  if (unavailable.length > 0) return settleUnsent(ctx, report, subscription, unavailable, startedAt);
  const request = buildBatchRequest({
    subscription: opened,
    events,
    environmentId,
    batchId: batch.id,
    nowMs: startedAt,
    userAgent: ctx.userAgent,
  });
  const result = await ctx.sender.send(request);
  const settledAt = now();
  const outcome = classify(result, settledAt);
  // The batch's deliveries have been attempted together since it was formed.
  const number = Math.max(...members.map((d) => d.attempts)) + 1;
  const attempt = {
    ...attemptFrom(first, number, startedAt, loggableHeaders(request, subscription), result, outcome),
    deliveryId: batch.id,
  };
  return settleAttempt(ctx, report, subscription, attempt, outcome, settledAt);
}
