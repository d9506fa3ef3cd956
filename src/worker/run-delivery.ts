/**
 * One attempt of one claimed delivery, in typed stages: prepare (load + render + sign) → send →
 * classify → decide → settle. Retry arithmetic stays in domain/retry-schedule.ts.
 */
import type { Clock } from '../clock.ts';
import { operationalAudience } from '../core/operational.ts';
import { openSubscriptionSecrets } from '../core/subscription-secrets.ts';
import { type Outcome, classify } from '../delivery/classify.ts';
import { buildRequest, loggableHeaders } from '../delivery/request.ts';
import type { AttemptSender, SendResult } from '../delivery/send.ts';
import { OPERATIONAL_TOPIC } from '../domain/names.ts';
import { retryDelayMs } from '../domain/retry-schedule.ts';
import type { Attempt, StoredEvent, Subscription } from '../domain/types.ts';
import { newId } from '../ids.ts';
import type { SecretBox } from '../secret-box.ts';
import type { ClaimedDelivery, SettleDecision, SettleEffects, SettleInput } from '../store/delivery-store.ts';
import type { Store } from '../store/store.ts';

export interface RunContext {
  store: Store;
  /** Records the attempt and moves the delivery on (the worker batches these: see Settler). */
  settle: (input: SettleInput) => Promise<SettleEffects>;
  clock: Clock;
  sender: AttemptSender;
  secrets: SecretBox;
  workerId: string;
  retryScheduleMs: readonly number[];
  userAgent: string;
}

/** What happened, for the caller's side effects (operational events, emails). */
export interface RunReport {
  delivery: ClaimedDelivery;
  subscription: Subscription | null;
  event: StoredEvent | null;
  decision: SettleDecision | null;
  effects: SettleEffects | null;
  attempt: Attempt | null;
}


/** Retries left after attempt `number` (1-based): `maxRetries` retries follow the first attempt. */
export function decide(outcome: Outcome, attemptNumber: number, maxRetries: number, now: number, schedule: readonly number[]): SettleDecision {
  if (outcome.kind === 'succeeded') return { kind: 'succeeded' };
  if (outcome.kind === 'gone') return { kind: 'failed', gone: true };
  if (attemptNumber > maxRetries) return { kind: 'failed', gone: false };
  return { kind: 'retry', nextAttemptAt: now + retryDelayMs(attemptNumber, schedule, outcome.retryAfterMs) };
}

export function attemptFrom(
  delivery: ClaimedDelivery,
  number: number,
  startedAt: number,
  requestHeaders: Record<string, string>,
  result: SendResult,
  outcome: Outcome,
): Attempt {
  const base = {
    id: newId('att', startedAt),
    deliveryId: delivery.id,
    subscriptionId: delivery.subscriptionId,
    number,
    startedAt,
    durationMs: result.durationMs,
    requestHeaders,
    outcome: outcome.kind === 'succeeded' ? ('succeeded' as const) : ('failed' as const),
  };
  if (result.kind === 'error') {
    return { ...base, responseStatus: null, responseBody: null, error: { kind: result.errorKind, message: result.message } };
  }
  return {
    ...base,
    responseStatus: result.status,
    responseBody: result.body,
    error: outcome.kind === 'succeeded' ? null : { kind: 'http_status', message: `the receiver answered ${result.status}` },
  };
}

/**
 * An operational event goes out only if the subscription's scope, as read with this claim (with
 * the URL it goes to), may see the topic the event is about: a delivery planned under an earlier
 * scope (queued before the URL changed, or retried since) must not reach the new URL.
 */
async function mayReceive(ctx: RunContext, environmentId: string, subscription: Subscription, event: StoredEvent) {
  if (subscription.topic !== OPERATIONAL_TOPIC) return true;
  return operationalAudience(ctx.store, environmentId)(subscription.scope, event);
}

export async function runDelivery(
  ctx: RunContext,
  delivery: ClaimedDelivery,
  subscription: Subscription | null,
  event: StoredEvent | null,
): Promise<RunReport> {
  const report: RunReport = { delivery, subscription, event, decision: null, effects: null, attempt: null };
  if (
    !subscription ||
    !event ||
    subscription.status !== 'enabled' ||
    !(await mayReceive(ctx, delivery.environmentId, subscription, event))
  ) {
    // Deleted or disabled since fan-out: nothing to send; `retry` or `replay` can send it later.
    // An operational event its scope may not see is cancelled the same way.
    await ctx.store.cancelClaimedDelivery(delivery.environmentId, delivery.id, ctx.workerId, ctx.clock.now());
    return report;
  }
  const startedAt = ctx.clock.now();
  const request = buildRequest({
    subscription: openSubscriptionSecrets(ctx.secrets, subscription),
    event,
    environmentId: delivery.environmentId,
    msgId: event.id,
    nowMs: startedAt,
    userAgent: ctx.userAgent,
  });
  const result = await ctx.sender.send(request);
  const now = ctx.clock.now();
  const outcome = classify(result, now);
  const number = delivery.attempts + 1;
  const attempt = attemptFrom(delivery, number, startedAt, loggableHeaders(request, subscription), result, outcome);
  const decision = decide(outcome, number, subscription.maxRetries, now, ctx.retryScheduleMs);
  const effects = await ctx.settle({
    environmentId: delivery.environmentId,
    deliveryId: delivery.id,
    workerId: ctx.workerId,
    attempt,
    decision,
    now,
  });
  return { ...report, decision, effects, attempt };
}
