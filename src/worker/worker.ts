/**
 * The delivery worker: claims due deliveries fairly (the store ranks them across subscriptions),
 * runs each with bounded concurrency, settles them in group-committed batches (Settler), renews
 * the leases of what is in flight, and drains on stop.
 * Woken by publishes (Wakeup) and by finished deliveries; polls slowly as a fallback and sleeps
 * until the next scheduled or retrying delivery is due.
 */
import type { Clock } from '../clock.ts';
import type { AttemptSender } from '../delivery/send.ts';
import type { Wakeup } from '../queue/wakeup.ts';
import type { SecretBox } from '../secret-box.ts';
import type { ClaimedDelivery, ClaimedWork } from '../queue/queue.ts';
import type { Store } from '../store/store.ts';
import { RATE_LATENESS_MS } from '../queue/lane-plan.ts';
import { runBatch } from './run-batch.ts';
import { type RunContext, type RunReport, runDelivery } from './run-delivery.ts';
import { Settler } from './settler.ts';

export interface WorkerOptions {
  store: Store;
  clock: Clock;
  sender: AttemptSender;
  secrets: SecretBox;
  wakeup: Wakeup;
  /** Unique per process: leases name their holder. */
  workerId: string;
  retryScheduleMs: readonly number[];
  userAgent: string;
  /** Requests in flight in this worker. Default 1024 (DEFAULT_CONCURRENCY). */
  concurrency?: number;
  /** HERALD_MAX_INFLIGHT_PER_SUBSCRIPTION. */
  perSubscriptionCap: number;
  /** Lease length; renewed while a request is in flight. Default 30 s (SPEC §5). */
  leaseMs?: number;
  /** Longest sleep with nothing to do. Default 1 s. */
  pollMs?: number;
  /** After every settled attempt: operational events, emails. Errors are logged, never thrown. */
  onReport?: (report: RunReport) => Promise<void>;
  onError?: (error: unknown) => void;
}

const CLAIM_BATCH = 100;
/**
 * Requests in flight in one worker unless WorkerOptions.concurrency says otherwise: enough for
 * 64 subscriptions at the default cap of 16 with slow receivers (at 256, twenty subscriptions
 * answering in 100 ms could not all have their 16 out at once).
 */
export const DEFAULT_CONCURRENCY = 1024;
/** Least time between the end of one claim and a claim asked for by a settled delivery: see pace(). */
const KICK_INTERVAL_MS = 2;

export class Worker {
  /** Requests in flight, with the deliveries whose leases they hold (a batch's: all of them). */
  private readonly inflight = new Map<string, readonly ClaimedDelivery[]>();
  /** When a batch left waiting to fill up is due to go anyway (from the last claim). */
  private wakeAt: number | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  /** Wakes this worker's own loop when capacity frees up, without telling other processes. */
  private kick: (() => void) | null = null;
  /** How long the last claim took and when it ended (performance.now()): see pace(). */
  private lastClaimMs = 0;
  private lastClaimEnd = 0;
  /**
   * Whether a settled delivery sets off a claim (kick). Only when the last claim left due
   * deliveries waiting for a slot (or this worker was full): otherwise the slot it frees has
   * nothing to take, and at 500 single events a second every settle had set off an empty claim,
   * whose pause held back the claim for the next event (publishes wake the worker themselves).
   */
  private settlesClaim = true;

  private readonly context: RunContext;

  constructor(private readonly options: WorkerOptions) {
    const settler = new Settler((inputs) => options.store.queue.settle(inputs));
    this.context = { ...options, settle: (input) => settler.settle(input) };
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 1000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.loop = this.run();
  }

  /** Stops claiming, waits for in-flight requests to settle. */
  async stop(): Promise<void> {
    this.running = false;
    this.kick?.();
    this.options.wakeup.notify();
    await this.loop;
    while (this.inflight.size > 0) await new Promise((r) => setTimeout(r, 20));
    if (this.renewTimer) clearInterval(this.renewTimer);
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  private async run(): Promise<void> {
    // Claims wait for the sender: requests handed over before it is up would leave together,
    // and a rate-limited subscription's, booked 1/rate apart, would arrive in a burst.
    await this.options.sender.ready?.();
    /** Whether a settled delivery (kick) ended the last sleep: that claim is paced, see pace(). */
    let kicked = false;
    while (this.running) {
      let claimedFull = false;
      let claimedAt = this.options.clock.now();
      try {
        const free = this.concurrency - this.inflight.size;
        if (free > 0) {
          const limit = Math.min(free, CLAIM_BATCH);
          if (kicked) await this.pace();
          kicked = false;
          claimedAt = this.options.clock.now();
          const started = performance.now();
          const { work, moreDue, wakeAt } = await this.options.store.queue.claim({
            workerId: this.options.workerId,
            now: claimedAt,
            limit,
            perSubscriptionCap: this.options.perSubscriptionCap,
            leaseMs: this.leaseMs,
          });
          this.lastClaimEnd = performance.now();
          this.lastClaimMs = this.lastClaimEnd - started;
          this.settlesClaim = moreDue;
          this.wakeAt = wakeAt;
          if (work.length > 0) this.dispatch(work);
          claimedFull = work.length === limit;
        } else {
          // At this worker's own limit: each settle frees a slot for the work still queued.
          this.settlesClaim = true;
        }
        if (!claimedFull && this.running) kicked = await this.sleep(claimedAt);
      } catch (error) {
        this.settlesClaim = true;
        this.options.onError?.(error);
        if (this.running) await this.sleep(claimedAt);
      }
    }
  }

  /**
   * Before a claim that a settled delivery asked for: waits until KICK_INTERVAL_MS, or as long as
   * the last claim took if that was longer, has passed since the last claim ended. Without a pause
   * every settled delivery set off a claim of its own: a backlogged subscription at its in-flight
   * cap made the loop claim back to back, one delivery per claim, and on SQLite, whose driver is
   * synchronous, that starved the API and the sends (measured: 1,837 claims of ~4 deliveries,
   * half a millisecond each, for 9,000 deliveries). With it, one claim refills every slot that
   * freed up meanwhile. New work (a publish's wake-up, a delivery falling due, the poll) is claimed
   * at once: that keeps another tenant's single event quick, and publishes are coalesced by the
   * wake-up, so they cannot storm.
   */
  private async pace(): Promise<void> {
    const wait = this.lastClaimEnd + Math.max(KICK_INTERVAL_MS, this.lastClaimMs) - performance.now();
    if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  /**
   * Sleeps until woken, until the next delivery falls due, or for pollMs. Deliveries already due
   * at `claimedAt` that a short claim left behind belong to subscriptions at their in-flight cap:
   * only a settled delivery (kick) or released leases (wake-up) make them claimable, so they must
   * not cut the sleep short. (They once did: the loop spun on claims without yielding, and on
   * SQLite, whose driver is synchronous, starved the process's HTTP server and its own sends.)
   * True when a settled delivery (kick) ended the sleep.
   */
  private async sleep(claimedAt: number): Promise<boolean> {
    let wait = this.pollMs;
    if (this.inflight.size < this.concurrency) {
      const next = await this.options.store.queue.nextDueAt(claimedAt);
      if (next !== null) wait = Math.max(0, Math.min(wait, next - this.options.clock.now()));
      if (this.wakeAt !== null) wait = Math.max(0, Math.min(wait, this.wakeAt - this.options.clock.now()));
    }
    if (wait === 0) return false;
    const stopWaiting = new AbortController();
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const done = (byKick: boolean) => {
        if (settled) return;
        settled = true;
        this.kick = null;
        // Withdraw from the wake-up's waiters, or the next notify would be spent on this old sleep.
        // (When the wake-up itself ended it, the waiter is gone already: aborting costs an error object.)
        if (byKick) stopWaiting.abort();
        resolve(byKick);
      };
      this.kick = () => done(true);
      void this.options.wakeup.wait(wait, stopWaiting.signal).then(() => done(false));
    });
  }

  private dispatch(claimed: ClaimedWork[]): void {
    for (const work of claimed) {
      const { delivery, subscription, event, sendAt, batch } = work;
      const key = `${delivery.environmentId}/${batch?.id ?? delivery.id}`;
      this.inflight.set(key, batch ? batch.deliveries : [delivery]);
      void this.untilSendAt(sendAt, subscription?.rateLimitPerSecond != null)
        .then(async (onTime) => {
          if (onTime) return batch ? runBatch(this.context, { ...work, batch }) : runDelivery(this.context, delivery, subscription, event);
          // Too late for its booked slot (a busy worker): sent now it could break the rate limit.
          await this.options.store.queue.releaseClaimed(
            delivery.environmentId,
            (batch?.deliveries ?? [delivery]).map((d) => d.id),
            this.options.workerId,
            this.options.clock.now(),
          );
          this.settlesClaim = true;
          return null;
        })
        .then((report) => {
          if (report === null) return;
          // A retry was written after the sleep read the next due time: claim to read it again.
          if (report.decision?.kind === 'retry') this.settlesClaim = true;
          return this.options.onReport?.(report);
        })
        .catch((error: unknown) => this.options.onError?.(error))
        .finally(() => {
          this.inflight.delete(key);
          if (this.settlesClaim) this.kick?.();
        });
    }
  }

  /**
   * A rate-limited lane's request waits for the slot its claim booked (lane-plan.ts); others go at
   * once. False when a booked request is more than RATE_LATENESS_MS past its slot.
   */
  private async untilSendAt(sendAt: number, booked: boolean): Promise<boolean> {
    const wait = sendAt - this.options.clock.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return !booked || this.options.clock.now() - sendAt <= RATE_LATENESS_MS;
  }

  private async renewLeases(): Promise<void> {
    if (this.inflight.size === 0) return;
    const keys = [...this.inflight.values()].flat().map((d) => ({ environmentId: d.environmentId, id: d.id }));
    try {
      await this.options.store.queue.extendLeases(this.options.workerId, keys, this.options.clock.now() + this.leaseMs);
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}
