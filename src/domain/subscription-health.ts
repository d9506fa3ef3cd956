/**
 * How final delivery outcomes move a subscription's health (SPEC §5): a delivery that exhausts
 * its retries raises the consecutive-failure count, a success resets it, and the subscription is
 * disabled when the count reaches `disableAfterFailures`, or at once when the receiver answers
 * 410 Gone. Retries move nothing: only final outcomes count. The queue's settle applies these
 * rules to what it reads under lock; it never decides them in SQL.
 */
import type { DisabledReason, SubscriptionStatus } from './types.ts';

/** A final outcome of one delivery (or one batch, which counts once). */
export type FinalOutcome = 'succeeded' | 'failed' | 'gone';

export interface Health {
  status: SubscriptionStatus;
  consecutiveFailures: number;
  disableAfterFailures: number;
}

/** What one outcome did, for operational events and emails. */
export interface HealthEffect {
  /** A success that ended a run of failures. */
  recovered: boolean;
  /** Set when this outcome disabled the subscription. */
  disabled: DisabledReason | null;
  /** The count after this outcome. */
  consecutiveFailures: number;
}

/** Applies one final outcome; a disabled subscription keeps counting but is not disabled again. */
export function applyOutcome(health: Health, outcome: FinalOutcome): { health: Health; effect: HealthEffect } {
  if (outcome === 'succeeded') {
    const recovered = health.consecutiveFailures > 0;
    return {
      health: { ...health, consecutiveFailures: 0 },
      effect: { recovered, disabled: null, consecutiveFailures: 0 },
    };
  }
  const consecutiveFailures = health.consecutiveFailures + 1;
  let disabled: DisabledReason | null = null;
  if (health.status === 'enabled') {
    if (outcome === 'gone') disabled = 'gone';
    else if (consecutiveFailures >= health.disableAfterFailures) disabled = 'failures';
  }
  return {
    health: { ...health, consecutiveFailures, status: disabled ? 'disabled' : health.status },
    effect: { recovered: false, disabled, consecutiveFailures },
  };
}

/** Applies outcomes in order; effects in the same order. */
export function applyOutcomes(health: Health, outcomes: readonly FinalOutcome[]): { health: Health; effects: HealthEffect[] } {
  const effects: HealthEffect[] = [];
  let current = health;
  for (const outcome of outcomes) {
    const next = applyOutcome(current, outcome);
    current = next.health;
    effects.push(next.effect);
  }
  return { health: current, effects };
}

