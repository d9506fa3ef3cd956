/** What a settle decision means for the delivery row and for the subscription's health, shared by both dialects. */
import type { Breaker, BreakerChange } from '../domain/circuit-breaker.ts';
import type { FinalOutcome } from '../domain/subscription-health.ts';
import type { SettleDecision, SettleEffects, SettleInput } from './queue.ts';

/** The delivery's status after the decision: a retry waits again. */
export function statusAfter(decision: SettleDecision): 'pending' | 'succeeded' | 'failed' {
  return decision.kind === 'retry' ? 'pending' : decision.kind;
}

/** The final outcome a decision counts as; retries count nothing. */
export function finalOutcome(decision: SettleDecision): FinalOutcome {
  if (decision.kind === 'succeeded') return 'succeeded';
  if (decision.kind === 'failed') return decision.gone ? 'gone' : 'failed';
  throw new Error('a retry is not a final outcome');
}

/** Settled inputs of a batch by subscription (lane), in input order within each, in key order. */
function groupBySubscription(
  inputs: readonly SettleInput[],
  effects: readonly SettleEffects[],
  counts: (input: SettleInput) => boolean,
): { environmentId: string; subscriptionId: string; indexes: number[] }[] {
  const groups = new Map<string, { environmentId: string; subscriptionId: string; indexes: number[] }>();
  inputs.forEach((input, index) => {
    if (!effects[index]?.settled || !counts(input)) return;
    const key = `${input.environmentId}\u0000${input.attempt.subscriptionId}`;
    const group = groups.get(key);
    if (group) group.indexes.push(index);
    else groups.set(key, { environmentId: input.environmentId, subscriptionId: input.attempt.subscriptionId, indexes: [index] });
  });
  return [...groups.values()].sort((a, b) =>
    a.environmentId === b.environmentId ? (a.subscriptionId < b.subscriptionId ? -1 : 1) : a.environmentId < b.environmentId ? -1 : 1,
  );
}

/** The settled final outcomes (not retries) by subscription, for its health. */
export const groupFinalOutcomes = (inputs: readonly SettleInput[], effects: readonly SettleEffects[]) =>
  groupBySubscription(inputs, effects, (input) => input.decision.kind !== 'retry');

/** Every settled attempt by subscription, for its lane's breaker. */
export const groupAttempts = (inputs: readonly SettleInput[], effects: readonly SettleEffects[]) =>
  groupBySubscription(inputs, effects, () => true);

/** What a breaker change tells the worker (for operational events). */
export function breakerEffect(change: Exclude<BreakerChange, null>, breaker: Breaker): SettleEffects['breaker'] {
  return change === 'opened' ? { change, failures: breaker.failures, probeAt: breaker.probeAt } : { change };
}
