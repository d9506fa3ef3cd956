/**
 * Retention in the background: deletes what is older than HERALD_RETENTION_DAYS, a small round at
 * a time (see DeliveryStore.pruneRound), pausing between rounds so that publishes and claims get
 * the database in between: on SQLite they share the one write lock, on PostgreSQL the rows a
 * round locks are few and held for one short transaction.
 *
 * What goes: final deliveries (succeeded, failed, cancelled) created before the horizon, with
 * their attempts; then events accepted before the horizon that have no delivery left. A delivery
 * still waiting or in flight keeps itself, its attempts and its event. As the idempotency check
 * is the event row itself, an event id counts as a duplicate exactly until its event is pruned.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../clock.ts';
import { retentionHorizon } from '../domain/delivery-status.ts';
import type { PruneCursor, PruneRound } from '../store/delivery-store.ts';

export interface PrunerOptions {
  store: { pruneRound(horizon: number, limit: number, cursor: PruneCursor | null): Promise<PruneRound> };
  clock: Clock;
  /** HERALD_RETENTION_DAYS. */
  retentionDays: number;
  /** Rows looked at per round, each round one short transaction. Default 500. */
  batchSize?: number;
  /** Pause between rounds. Default 50 ms. */
  pauseMs?: number;
  /** Time between passes (the first starts one pause after start()). Default 10 minutes. */
  intervalMs?: number;
  onError?: (error: unknown) => void;
}

export interface PruneTotals {
  deliveries: number;
  attempts: number;
  events: number;
  rounds: number;
}

export const DEFAULT_PRUNE_BATCH = 500;
export const DEFAULT_PRUNE_PAUSE_MS = 50;
export const DEFAULT_PRUNE_INTERVAL_MS = 10 * 60 * 1000;

export class Pruner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PruneTotals> | null = null;
  private stopping = false;

  constructor(private readonly options: PrunerOptions) {}

  start(): void {
    this.stopping = false;
    const tick = () => {
      if (this.stopping) return;
      void this.runPass().catch((error) => this.options.onError?.(error));
    };
    this.timer = setInterval(tick, this.options.intervalMs ?? DEFAULT_PRUNE_INTERVAL_MS);
    this.timer.unref();
    setTimeout(tick, this.options.pauseMs ?? DEFAULT_PRUNE_PAUSE_MS).unref();
  }

  /** Stops between rounds: a round already running finishes (it is one short transaction). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /**
   * One pass over every environment, with the horizon fixed at its start. Never overlaps itself:
   * a call during a pass gets that pass.
   */
  runPass(): Promise<PruneTotals> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<PruneTotals> {
    const { store, clock, retentionDays } = this.options;
    const limit = this.options.batchSize ?? DEFAULT_PRUNE_BATCH;
    const pauseMs = this.options.pauseMs ?? DEFAULT_PRUNE_PAUSE_MS;
    const horizon = retentionHorizon(clock.now(), retentionDays);
    const totals: PruneTotals = { deliveries: 0, attempts: 0, events: 0, rounds: 0 };
    let cursor: PruneCursor | null = null;
    do {
      const round: PruneRound = await store.pruneRound(horizon, limit, cursor);
      totals.deliveries += round.deliveries;
      totals.attempts += round.attempts;
      totals.events += round.events;
      totals.rounds += 1;
      cursor = round.next;
      if (cursor && !this.stopping) await sleep(pauseMs);
    } while (cursor && !this.stopping);
    return totals;
  }
}
