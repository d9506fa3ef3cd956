/**
 * Bench helper process: the publisher. Drives Herald only through POST /v1/topics/{t}/events/publish
 * with undici keep-alive, in its own process so the bench's bookkeeping never slows the load.
 *  - `batches`: `count` events in calls of `batchSize`, `inflight` calls at a time (closed loop).
 *  - `steady`: single-event calls at a fixed rate (open loop: a slow answer does not delay the
 *    next call), recording each call's start time by event id.
 */
import { setMaxListeners } from 'node:events';
import { Pool } from 'undici';
import { serveCommands } from './children.ts';
import { eventData, eventId, nowMs, sleep } from './common.ts';

export interface Target {
  origin: string;
  envId: string;
  key: string;
  topic: string;
  group: string;
  /** Calls still unanswered this long after the start are aborted and counted as failed. */
  deadlineMs: number;
}

interface CallOutcome {
  accepted: number;
  duplicates: number;
  deliveries: number;
  failed: number;
  error: string | null;
}

/** Aborts every call still open at the deadline (one signal shared by all of them). */
function deadline(ms: number): AbortSignal {
  const signal = AbortSignal.timeout(ms);
  setMaxListeners(Number.MAX_SAFE_INTEGER, signal);
  return signal;
}

function openPool(origin: string, connections: number): Pool {
  return new Pool(origin, { connections, keepAliveTimeout: 60_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
}

async function publish(pool: Pool, target: Target, events: object[], signal: AbortSignal): Promise<CallOutcome> {
  try {
    const response = await pool.request({
      signal,
      path: `/v1/topics/${encodeURIComponent(target.topic)}/events/publish`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-environment-id': target.envId, 'x-auth-token': target.key },
      body: JSON.stringify({ events }),
    });
    const text = await response.body.text();
    if (response.statusCode !== 202) {
      return { accepted: 0, duplicates: 0, deliveries: 0, failed: events.length, error: `HTTP ${response.statusCode}: ${text.slice(0, 300)}` };
    }
    const body = JSON.parse(text) as { events: { status: string; deliveries: number }[] };
    let accepted = 0;
    let duplicates = 0;
    let deliveries = 0;
    for (const e of body.events) {
      if (e.status === 'accepted') accepted += 1;
      else duplicates += 1;
      deliveries += e.deliveries;
    }
    return { accepted, duplicates, deliveries, failed: 0, error: null };
  } catch (error) {
    const message = signal.aborted ? 'no answer before the scenario deadline' : (error as Error).message;
    return { accepted: 0, duplicates: 0, deliveries: 0, failed: events.length, error: message };
  }
}

export interface PublishTotals {
  sent: number;
  accepted: number;
  duplicates: number;
  deliveries: number;
  failed: number;
  errors: string[];
  /** When the first call started and the last 202 arrived (ms, wall clock). */
  startedAt: number;
  lastAcceptAt: number;
  /** Call latencies (ms), publish start → 202. */
  callMs: number[];
  cpuMs: number;
}

function totals(): PublishTotals {
  return { sent: 0, accepted: 0, duplicates: 0, deliveries: 0, failed: 0, errors: [], startedAt: 0, lastAcceptAt: 0, callMs: [], cpuMs: 0 };
}

function add(into: PublishTotals, outcome: CallOutcome, startedAt: number): void {
  const now = nowMs();
  into.accepted += outcome.accepted;
  into.duplicates += outcome.duplicates;
  into.deliveries += outcome.deliveries;
  into.failed += outcome.failed;
  if (outcome.error && into.errors.length < 5) into.errors.push(outcome.error);
  if (outcome.failed === 0) {
    into.lastAcceptAt = Math.max(into.lastAcceptAt, now);
    into.callMs.push(now - startedAt);
  }
}

async function batches(args: Target & { count: number; batchSize: number; inflight: number }): Promise<PublishTotals> {
  const pool = openPool(args.origin, args.inflight);
  const result = totals();
  const cpuBefore = process.cpuUsage();
  let next = 0;
  result.startedAt = nowMs();
  const signal = deadline(args.deadlineMs);
  const lane = async () => {
    while (next < args.count && !signal.aborted) {
      const from = next;
      const to = Math.min(args.count, from + args.batchSize);
      next = to;
      const events = [];
      for (let seq = from; seq < to; seq++) events.push({ id: eventId(args.group, seq), type: 'bench.event', data: eventData(seq) });
      result.sent += events.length;
      const startedAt = nowMs();
      add(result, await publish(pool, args, events, signal), startedAt);
    }
  };
  await Promise.all(Array.from({ length: args.inflight }, lane));
  const cpu = process.cpuUsage(cpuBefore);
  result.cpuMs = (cpu.user + cpu.system) / 1000;
  await pool.close();
  return result;
}

export interface SteadyTotals extends PublishTotals {
  /** Event id → when its publish call started (ms, wall clock). */
  starts: Record<string, number>;
  /** Publishes per second actually achieved. */
  achievedRate: number;
}

async function steady(args: Target & { rate: number; durationMs: number }): Promise<SteadyTotals> {
  const pool = openPool(args.origin, 64);
  const result: SteadyTotals = { ...totals(), starts: {}, achievedRate: 0 };
  const total = Math.round((args.rate * args.durationMs) / 1000);
  const inflight = new Set<Promise<void>>();
  const cpuBefore = process.cpuUsage();
  const signal = deadline(args.deadlineMs);
  result.startedAt = nowMs();
  let seq = 0;
  while (seq < total && !signal.aborted) {
    const due = Math.min(total, Math.floor(((nowMs() - result.startedAt) * args.rate) / 1000) + 1);
    for (; seq < due; seq++) {
      const id = eventId(args.group, seq);
      const startedAt = nowMs();
      result.starts[id] = startedAt;
      result.sent += 1;
      const call = publish(pool, args, [{ id, type: 'bench.event', data: eventData(seq) }], signal).then((outcome) => {
        add(result, outcome, startedAt);
        inflight.delete(call);
      });
      inflight.add(call);
    }
    await sleep(1);
  }
  const sendingMs = nowMs() - result.startedAt;
  await Promise.all(inflight);
  const cpu = process.cpuUsage(cpuBefore);
  result.cpuMs = (cpu.user + cpu.system) / 1000;
  result.achievedRate = total / (sendingMs / 1000 + 1 / args.rate);
  await pool.close();
  return result;
}

serveCommands({ batches, steady });
