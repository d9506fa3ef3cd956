/**
 * The worker's side jobs: returning expired leases to the queue, reacting to settled attempts
 * (operational events, failure emails), sending the emails owed, and retention (pruner.ts, on
 * its own slower timer so that a long pass never delays the reaper).
 */
import type { Config } from '../config.ts';
import type { CoreDeps } from '../core/deps.ts';
import { emitOperationalEvent } from '../core/operational.ts';
import { OPERATIONAL_TOPIC } from '../domain/names.ts';
import { FailureMailer } from './notifications.ts';
import { Pruner } from './pruner.ts';
import type { RunReport } from './run-delivery.ts';

export interface MaintenanceOptions {
  deps: CoreDeps;
  /** Without `retentionDays` nothing is pruned (in-process test workers, which run on real time). */
  config: Pick<Config, 'smtpUrl' | 'emailFrom' | 'publicUrl'> & Partial<Pick<Config, 'retentionDays'>>;
  /** How often expired leases are reaped and owed emails sent. Default 5 s. */
  intervalMs?: number;
  onError?: (error: unknown) => void;
}

export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private readonly mailer: FailureMailer | null;
  private running: Promise<void> | null = null;
  /** Retention, when the config sets it. */
  readonly pruner: Pruner | null;

  constructor(private readonly options: MaintenanceOptions) {
    const { smtpUrl, emailFrom, publicUrl } = options.config;
    this.mailer = smtpUrl ? new FailureMailer({ store: options.deps.store, smtpUrl, from: emailFrom, publicUrl }) : null;
    const { retentionDays } = options.config;
    this.pruner =
      retentionDays === undefined
        ? null
        : new Pruner({ store: options.deps.store, clock: options.deps.clock, retentionDays, onError: options.onError });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 5000);
    this.timer.unref();
    this.pruner?.start();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.pruner?.stop();
    await this.running;
    await this.mailer?.close();
  }

  /** One round: reap expired leases, send owed emails. Never overlaps itself. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      const { store, clock } = this.options.deps;
      try {
        const released = await store.queue.reapExpired(clock.now());
        if (released > 0) this.options.deps.delivery.wakeup.notify();
        await this.mailer?.sendOwed(clock.now());
      } catch (error) {
        this.options.onError?.(error);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** After each settled attempt: operational events and the failure-email budget. */
  async afterAttempt(report: RunReport): Promise<void> {
    const { delivery, subscription, decision, effects, attempt } = report;
    if (!subscription || !decision || !effects?.settled) return;
    // Failures delivering operational events raise none themselves: no feedback loop.
    if (subscription.topic === OPERATIONAL_TOPIC) return;
    const deps = this.options.deps;
    const env = delivery.environmentId;
    const base = { subscriptionId: subscription.id, topic: subscription.topic };
    let owesEmail = false;
    if (decision.kind === 'failed') {
      await emitOperationalEvent(deps, env, 'herald.delivery.failed', {
        ...base,
        deliveryId: delivery.id,
        eventId: delivery.eventId,
        batchId: report.batch?.id ?? null,
        attempts: attempt?.number ?? delivery.attempts,
        lastError: attempt?.error?.message ?? null,
      });
      owesEmail = true;
    }
    if (effects.disabled) {
      await emitOperationalEvent(deps, env, 'herald.subscription.disabled', {
        ...base,
        reason: effects.disabled,
        consecutiveFailures: effects.consecutiveFailures,
      });
      owesEmail = true;
    }
    if (effects.recovered) await emitOperationalEvent(deps, env, 'herald.subscription.recovered', base);
    if (effects.breaker?.change === 'opened') {
      await emitOperationalEvent(deps, env, 'herald.subscription.breaker_opened', {
        ...base,
        failures: effects.breaker.failures,
        nextProbeAt: new Date(effects.breaker.probeAt).toISOString(),
      });
    }
    if (effects.breaker?.change === 'closed') await emitOperationalEvent(deps, env, 'herald.subscription.breaker_closed', base);
    if (owesEmail && subscription.failureEmail && this.mailer) {
      await deps.store.markEmailPending(env, subscription.id, deps.clock.now());
      void this.tick();
    }
  }
}
