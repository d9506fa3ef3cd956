/**
 * Bench: the scenarios against a running Herald — throughput (batches), latency (steady single
 * publishes), fan-out (one topic, many subscriptions). Publishing happens in the load process,
 * arrivals are counted by the receiver process; every wait is bounded, so deliveries that never
 * come are reported as missing rather than hanging the run.
 */
import { type Credentials, createTopic, subscribe } from './api.ts';
import type { Helper } from './children.ts';
import { nowMs, sleep } from './common.ts';
import { type HeraldProcess, machineCpu } from './herald.ts';
import type { PublishTotals, SteadyTotals, Target } from './load-main.ts';
import type { Params } from './params.ts';
import type { GroupStats } from './receiver-main.ts';
import { type Distribution, distribution, perSecond, round } from './stats.ts';

export interface Rig {
  params: Params;
  receiver: Helper;
  receiverPort: number;
  load: Helper;
}

export interface Run {
  rig: Rig;
  api: Credentials;
  /** The Herald processes serving this run (their CPU is measured). */
  heralds: HeraldProcess[];
}

/** What arrived of one scenario's deliveries. */
export interface Arrivals {
  /** Receiver group (event ids are `<group>:<n>`). */
  group: string;
  expected: number;
  /** Arrived by the cut-off (when the scenario's wait ended): what its rates are computed from. */
  inWindow: number;
  missingAtCutoff: number;
  /** Never arrived, counted again at the end of the Herald run (late arrivals forgiven). */
  missing: number;
  duplicates: number;
  /** Why the wait ended early, if it did. */
  cutoffNote: string | null;
  /** Deliveries of earlier scenarios still not arrived when this one started (they compete with it). */
  backlogAtStart: number;
}

function arrivals(group: string, expected: number, waited: Waited, backlogAtStart: number): Arrivals {
  const missing = expected - waited.stats.distinct;
  return {
    group,
    expected,
    inWindow: waited.stats.distinct,
    missingAtCutoff: missing,
    missing,
    duplicates: waited.stats.duplicates,
    cutoffNote: waited.note,
    backlogAtStart,
  };
}

/**
 * At the end of a Herald run, before its processes stop: waits (bounded) for what each scenario
 * still missed, and recounts missing and duplicates, so "missing" means never delivered.
 */
export async function settle(run: Run, all: (Arrivals | undefined)[]): Promise<void> {
  for (const a of all) {
    if (!a) continue;
    const waited = await waitForArrivals(run, a.group, a.expected);
    a.missing = a.expected - waited.stats.distinct;
    a.duplicates = waited.stats.duplicates;
  }
}

/** Deliveries of earlier scenarios that have not arrived yet. */
async function backlogOf(run: Run, earlier: (Arrivals | undefined)[]): Promise<number> {
  let backlog = 0;
  for (const a of earlier) {
    if (!a) continue;
    const stats = await run.rig.receiver.call<GroupStats>('stats', { group: a.group }, 10_000);
    backlog += Math.max(0, a.expected - stats.distinct);
  }
  return backlog;
}

interface Waited {
  stats: GroupStats;
  complete: boolean;
  note: string | null;
}

/**
 * Polls the receiver until `expected` distinct deliveries of `group` arrived, or gives up: when
 * nothing at all (of any group) has arrived for stallMs, when no worker runs, or after maxWaitMs.
 */
async function waitForArrivals(run: Run, group: string, expected: number): Promise<Waited> {
  const { params, receiver } = run.rig;
  const started = Date.now();
  let lastTotal = -1;
  let lastChange = Date.now();
  for (;;) {
    const stats = await receiver.call<GroupStats>('stats', { group }, 10_000);
    if (stats.distinct >= expected) return { stats, complete: true, note: null };
    if (stats.allTotal !== lastTotal) {
      lastTotal = stats.allTotal;
      lastChange = Date.now();
    }
    if (!run.heralds.some((h) => h.alive && h.role !== 'api')) return { stats, complete: false, note: 'no Herald worker is running' };
    if (Date.now() - lastChange > params.stallMs) return { stats, complete: false, note: `nothing arrived for ${params.stallMs} ms` };
    if (Date.now() - started > params.maxWaitMs) return { stats, complete: false, note: `gave up after ${params.maxWaitMs} ms` };
    await sleep(100);
  }
}

/** CPU used by the Herald processes and by the whole machine between start() and the reading. */
function cpuMeter(heralds: HeraldProcess[]) {
  const herald0 = heralds.map((h) => h.cpuMs());
  const machine0 = machineCpu();
  const wall0 = nowMs();
  return () => {
    const wall = nowMs() - wall0;
    const machine = machineCpu();
    const heraldMs = heralds.reduce((sum, h, i) => sum + (h.cpuMs() - (herald0[i] ?? 0)), 0);
    const ticks = machine.total - machine0.total;
    return {
      /** CPU time of the Herald processes (all their threads: V8's garbage collector too), ms. */
      heraldCpuMs: round(heraldMs, 0),
      /** Percent of one core, summed over the Herald processes. */
      heraldCpuPct: round((heraldMs / wall) * 100, 0),
      /** Percent of all cores busy (anything on the machine, other test runs included). */
      machineBusyPct: ticks > 0 ? round(((machine.busy - machine0.busy) / ticks) * 100, 0) : null,
    };
  };
}

function target(run: Run, topic: string, group: string, deadlineMs: number): Target {
  return { origin: run.api.origin, envId: run.api.envId, key: run.api.key, topic, group, deadlineMs };
}

export interface ThroughputResult {
  events: number;
  accepted: number;
  publishFailed: number;
  publishErrors: string[];
  acceptPerSecond: number;
  deliveredPerSecond: number;
  arrivals: Arrivals;
  acceptMs: number;
  deliverMs: number;
  publishCallMs: Distribution;
  loadCpuPct: number;
  heraldCpuMs: number;
  heraldCpuPct: number;
  machineBusyPct: number | null;
}

/** `events` events in publish calls of batchSize, `inflight` calls at a time, to one subscription. */
export async function throughput(run: Run, topic: string, group: string, events: number, earlier: (Arrivals | undefined)[] = []): Promise<ThroughputResult> {
  const { params, load } = run.rig;
  const backlog = await backlogOf(run, earlier);
  const meter = cpuMeter(run.heralds);
  const published = await load.call<PublishTotals>(
    'batches',
    { ...target(run, topic, group, params.maxWaitMs), count: events, batchSize: params.throughput.batchSize, inflight: params.throughput.inflight },
    params.maxWaitMs + 15_000,
  );
  const waited = await waitForArrivals(run, group, events);
  const cpu = meter();
  const acceptMs = published.lastAcceptAt - published.startedAt;
  const deliverMs = waited.stats.lastAt - published.startedAt;
  return {
    events,
    accepted: published.accepted,
    publishFailed: published.failed,
    publishErrors: published.errors,
    acceptPerSecond: perSecond(published.accepted, acceptMs),
    deliveredPerSecond: perSecond(waited.stats.distinct, deliverMs),
    arrivals: arrivals(group, events, waited, backlog),
    acceptMs: round(acceptMs, 0),
    deliverMs: round(deliverMs, 0),
    publishCallMs: distribution(published.callMs),
    loadCpuPct: round((published.cpuMs / Math.max(1, deliverMs)) * 100, 0),
    ...cpu,
  };
}

export interface LatencyResult {
  rate: number;
  achievedRate: number;
  sent: number;
  accepted: number;
  publishFailed: number;
  publishErrors: string[];
  arrivals: Arrivals;
  /** Receiver arrival − publish call start, per event (ms). */
  endToEndMs: Distribution;
  /** Publish call start → 202 (ms). */
  publishCallMs: Distribution;
  heraldCpuMs: number;
  heraldCpuPct: number;
  machineBusyPct: number | null;
}

/** Single-event publishes at a steady rate; end-to-end latency matched by webhook-id. */
export async function latency(run: Run, topic: string, group: string, earlier: (Arrivals | undefined)[]): Promise<LatencyResult> {
  const { params, load, receiver } = run.rig;
  const backlog = await backlogOf(run, earlier);
  const { rate, durationMs } = params.latency;
  const meter = cpuMeter(run.heralds);
  const deadlineMs = durationMs + params.maxWaitMs;
  const published = await load.call<SteadyTotals>('steady', { ...target(run, topic, group, deadlineMs), rate, durationMs }, deadlineMs + 15_000);
  const waited = await waitForArrivals(run, group, published.sent);
  const cpu = meter();
  const arrived = await receiver.call<Record<string, number>>('arrivals', { group }, 30_000);
  const samples: number[] = [];
  for (const [id, startedAt] of Object.entries(published.starts)) {
    const at = arrived[id];
    if (at !== undefined) samples.push(at - startedAt);
  }
  return {
    rate,
    achievedRate: round(published.achievedRate, 0),
    sent: published.sent,
    accepted: published.accepted,
    publishFailed: published.failed,
    publishErrors: published.errors,
    arrivals: arrivals(group, published.sent, waited, backlog),
    endToEndMs: distribution(samples),
    publishCallMs: distribution(published.callMs),
    ...cpu,
  };
}

export interface FanoutResult {
  subscriptions: number;
  events: number;
  expected: number;
  accepted: number;
  deliveriesReported: number;
  publishFailed: number;
  publishErrors: string[];
  deliveriesPerSecond: number;
  arrivals: Arrivals;
  deliverMs: number;
  heraldCpuMs: number;
  heraldCpuPct: number;
  machineBusyPct: number | null;
}

/** One topic with `subscriptions` subscriptions (distinct receiver paths), `events` events. */
export async function fanout(run: Run, topic: string, group: string, earlier: (Arrivals | undefined)[]): Promise<FanoutResult> {
  const { params, load, receiverPort } = run.rig;
  const { subscriptions, events, batchSize, inflight } = params.fanout;
  await createTopic(run.api, topic);
  for (let i = 0; i < subscriptions; i++) {
    await subscribe(run.api, topic, `fan-${i}`, `http://127.0.0.1:${receiverPort}/fanout/${i}`);
  }
  const expected = subscriptions * events;
  const backlog = await backlogOf(run, earlier);
  const meter = cpuMeter(run.heralds);
  const published = await load.call<PublishTotals>(
    'batches',
    { ...target(run, topic, group, params.maxWaitMs), count: events, batchSize, inflight },
    params.maxWaitMs + 15_000,
  );
  const waited = await waitForArrivals(run, group, expected);
  const cpu = meter();
  const deliverMs = waited.stats.lastAt - published.startedAt;
  return {
    subscriptions,
    events,
    expected,
    accepted: published.accepted,
    deliveriesReported: published.deliveries,
    publishFailed: published.failed,
    publishErrors: published.errors,
    deliveriesPerSecond: perSecond(waited.stats.distinct, deliverMs),
    arrivals: arrivals(group, expected, waited, backlog),
    deliverMs: round(deliverMs, 0),
    ...cpu,
  };
}
