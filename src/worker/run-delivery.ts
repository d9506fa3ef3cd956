/**
 * One attempt of one claimed delivery, in typed stages: prepare (load + render + sign) → send →
 * classify → decide → settle. Retry arithmetic stays in domain/retry-schedule.ts.
 */
import type { Clock } from '../clock.ts';
import { operationalAudience } from '../core/operational.ts';
import {
  openSubscriptionSecrets,
  type SecretField,
  secretsUnavailableFor,
  unavailableSecretsMessage,
} from '../core/subscription-secrets.ts';
import { type Outcome, classify } from '../delivery/classify.ts';
import { buildRequest, loggableHeaders } from '../delivery/request.ts';
import type { AttemptSender, SendResult } from '../delivery/send.ts';
import { OPERATIONAL_TOPIC } from '../domain/names.ts';
import { retryDelayMs } from '../domain/retry-schedule.ts';
import type { Attempt, StoredEvent, Subscription } from '../domain/types.ts';
import { newId } from '../ids.ts';
import type { SecretBox } from '../secret-box.ts';
import type { ClaimedDelivery, SettleDecision, SettleEffects, SettleInput } from '../queue/queue.ts';
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
  /** Told of an attempt not sent because a secret it needs cannot be decrypted (an operator's matter). */
  onError?: (error: unknown) => void;
}

/** What happened, for the caller's side effects (operational events, emails). */
export interface RunReport {
  /** The delivery, or a batch's first. */
  delivery: ClaimedDelivery;
  /** The batch attempted, when the request was one. */
  batch: { id: string; deliveryIds: readonly string[] } | null;
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
export async function mayReceive(ctx: RunContext, environmentId: string, subscription: Subscription, event: StoredEvent) {
  if (subscription.topic !== OPERATIONAL_TOPIC) return true;
  return operationalAudience(ctx.store, environmentId)(subscription.scope, event);
}

export async function runDelivery(
  ctx: RunContext,
  delivery: ClaimedDelivery,
  subscription: Subscription | null,
  event: StoredEvent | null,
): Promise<RunReport> {
  const report: RunReport = { delivery, batch: null, subscription, event, decision: null, effects: null, attempt: null };
  if (
    !subscription ||
    !event ||
    subscription.status !== 'enabled' ||
    !(await mayReceive(ctx, delivery.environmentId, subscription, event))
  ) {
    // Deleted or disabled since fan-out: nothing to send; `retry` or `replay` can send it later.
    // An operational event its scope may not see is cancelled the same way.
    await ctx.store.queue.cancelClaimed(delivery.environmentId, delivery.id, ctx.workerId, ctx.clock.now());
    return report;
  }
  const startedAt = ctx.clock.now();
  const opened = openSubscriptionSecrets(ctx.secrets, subscription);
  const unavailable = secretsUnavailableFor(opened, startedAt);
  if (unavailable.length > 0) return settleUnsent(ctx, report, subscription, unavailable, startedAt);
  const request = buildRequest({
    subscription: opened,
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
  return settleAttempt(ctx, report, subscription, attempt, outcome, now);
}

/** Decides what follows the attempt (retry, success, failure) and records both (a batch's: for all its deliveries). */
export async function settleAttempt(
  ctx: RunContext,
  report: RunReport,
  subscription: Subscription,
  attempt: Attempt,
  outcome: Outcome,
  now: number,
): Promise<RunReport> {
  const decision = decide(outcome, attempt.number, subscription.maxRetries, now, ctx.retryScheduleMs);
  const effects = await ctx.settle({
    environmentId: report.delivery.environmentId,
    deliveryId: report.batch?.id ?? report.delivery.id,
    ...(report.batch ? { members: report.batch.deliveryIds } : {}),
    workerId: ctx.workerId,
    attempt,
    decision,
    now,
  });
  return { ...report, decision, effects, attempt };
}

/**
 * A secret the request needs cannot be decrypted: nothing is sent (never unsigned, never without
 * its secret header). The attempt fails like any other, retried on the schedule, so the delivery
 * never sits in `delivering`, and setting the right key or replacing the secret lets a retry
 * through. The error names the fields, never a value.
 */
export async function settleUnsent(
  ctx: RunContext,
  report: RunReport,
  subscription: Subscription,
  unavailable: readonly SecretField[],
  startedAt: number,
): Promise<RunReport> {
  const { delivery } = report;
  const message = unavailableSecretsMessage(unavailable);
  ctx.onError?.(new Error(`${report.batch ? `batch ${report.batch.id}` : `delivery ${delivery.id}`} of subscription ${delivery.subscriptionId} ${message}`));
  const number = delivery.attempts + 1;
  const attempt: Attempt = {
    id: newId('att', startedAt),
    deliveryId: report.batch?.id ?? delivery.id,
    subscriptionId: delivery.subscriptionId,
    number,
    startedAt,
    durationMs: 0,
    requestHeaders: {},
    responseStatus: null,
    responseBody: null,
    error: { kind: 'secret_unavailable', message },
    outcome: 'failed',
  };
  return settleAttempt(ctx, report, subscription, attempt, { kind: 'retry', retryAfterMs: null }, ctx.clock.now());
}
