/** Bench: command-line flags and the size of every scenario (full run and `--quick`). */

export type Dialect = 'sqlite' | 'postgres';

export interface Params {
  quick: boolean;
  dialects: Dialect[];
  /** Where the JSON goes; default bench/results/<YYYY-MM-DD>.json. */
  out: string | null;
  ceiling: { durationMs: number; concurrency: number };
  throughput: { events: number; batchSize: number; inflight: number };
  latency: { rate: number; durationMs: number };
  fanout: { subscriptions: number; events: number; batchSize: number; inflight: number };
  /** Herald settings the bench runs with (as a user tuning for throughput would set them). */
  herald: { maxEventsPerPublish: number; maxInflightPerSubscription: number };
  /** Waiting for deliveries: give up after this long without a new arrival, or this long in all. */
  stallMs: number;
  maxWaitMs: number;
}

const USAGE = `usage: npm run bench [-- --quick] [--dialect sqlite|postgres] [--inflight N] [--out FILE]
  --quick        scaled-down scenarios (about a minute for both dialects)
  --dialect D    only this dialect (default: sqlite, and postgres when 127.0.0.1:5432 answers)
  --inflight N   HERALD_MAX_INFLIGHT_PER_SUBSCRIPTION for the Herald processes (default 64)
  --out FILE     write the JSON here instead of bench/results/<date>.json`;

export function parseParams(argv: readonly string[]): Params {
  let quick = false;
  let dialects: Dialect[] = ['sqlite', 'postgres'];
  let out: string | null = null;
  let inflight = 64;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return next;
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--dialect') {
      const d = value();
      if (d !== 'sqlite' && d !== 'postgres') throw new Error(`unknown dialect ${d}\n${USAGE}`);
      dialects = [d];
    } else if (arg === '--inflight') inflight = Number(value());
    else if (arg === '--out') out = value();
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (!Number.isInteger(inflight) || inflight < 1) throw new Error(`--inflight must be a positive whole number\n${USAGE}`);
  return {
    quick,
    dialects,
    out,
    ceiling: { durationMs: quick ? 2000 : 5000, concurrency: 64 },
    throughput: { events: quick ? 5000 : 50_000, batchSize: 100, inflight: 8 },
    latency: { rate: 500, durationMs: quick ? 3000 : 10_000 },
    fanout: quick
      ? { subscriptions: 20, events: 100, batchSize: 10, inflight: 8 }
      : { subscriptions: 100, events: 500, batchSize: 10, inflight: 8 },
    herald: { maxEventsPerPublish: 500, maxInflightPerSubscription: inflight },
    stallMs: quick ? 8000 : 20_000,
    maxWaitMs: quick ? 20_000 : 600_000,
  };
}
