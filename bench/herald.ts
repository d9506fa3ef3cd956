/**
 * Bench: Herald as a user runs it — `bin/herald.mjs serve --role <role>`, with the node flags of
 * its `#!` line, in its own process — with its memory (VmRSS polled, VmHWM at the end) and CPU
 * time read from /proc.
 */
import { freePort } from '../src/testing/herald-process.ts';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { track } from './children.ts';
import { sleep } from './common.ts';

const BIN = new URL('../bin/herald.mjs', import.meta.url).pathname;
const CLOCK_TICKS_PER_SECOND = 100;
/** The node flags bin/herald.mjs's `#!/usr/bin/env -S node …` line gives it: `npm start` runs with them. */
const SHEBANG_NODE_ARGS = /^#!\S*env -S node(.*)$/m.exec(readFileSync(BIN, 'utf8').split('\n', 1)[0] ?? '')?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];

export type Role = 'api' | 'worker' | 'all';


function procField(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** User + system CPU time of a live process, in ms (null once it is gone). */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND) * 1000;
  } catch {
    return null;
  }
}

export class HeraldProcess {
  private stdout = '';
  private stderr = '';
  private rssMax = 0;
  private hwm = 0;
  private readonly poller: NodeJS.Timeout;
  private readonly exited: Promise<void>;

  constructor(
    readonly role: Role,
    readonly child: ChildProcess,
    readonly url: string | null,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 64_000) this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.poller = setInterval(() => this.sampleMemory(), 250);
    this.poller.unref();
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.stdout;
  }

  errors(): string {
    return this.stderr;
  }

  sampleMemory(): void {
    const rss = procField(this.pid, 'VmRSS');
    if (rss !== null) this.rssMax = Math.max(this.rssMax, rss);
    const hwm = procField(this.pid, 'VmHWM');
    if (hwm !== null) this.hwm = Math.max(this.hwm, hwm);
  }

  /** Peak resident memory (MB): the kernel's high-water mark, or the polled maximum if higher. */
  peakRssMb(): number {
    this.sampleMemory();
    return Math.max(this.hwm, this.rssMax) / (1024 * 1024);
  }

  cpuMs(): number {
    return cpuMsOf(this.pid) ?? 0;
  }

  /** SIGTERM (Herald drains in-flight requests), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.sampleMemory();
    clearInterval(this.poller);
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface StartOptions {
  databaseUrl: string;
  role: Role;
  env: Record<string, string>;
  /** First start on an empty database: wait for the printed HERALD_ENV_ID / HERALD_ADMIN_KEY. */
  expectBootstrap?: boolean;
}

/** Starts `herald serve` and resolves once it is up (/healthz answers; a worker: stayed up 2 s). */
export async function startHerald(options: StartOptions): Promise<HeraldProcess> {
  const port = options.role === 'worker' ? 0 : await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HERALD_DATABASE_URL: options.databaseUrl,
    HERALD_HOST: '127.0.0.1',
    HERALD_PORT: String(port),
    HERALD_LOG_LEVEL: 'warn',
    ...options.env,
  };
  // For profiling Herald under load: BENCH_HERALD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
  const nodeArgs = (process.env.BENCH_HERALD_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...SHEBANG_NODE_ARGS, ...nodeArgs, BIN, 'serve', '--role', options.role];
  const child = track(spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const url = options.role === 'worker' ? null : `http://127.0.0.1:${port}`;
  const herald = new HeraldProcess(options.role, child, url);
  const fail = async (why: string): Promise<never> => {
    await herald.stop(0);
    throw new Error(`herald --role ${options.role} ${why}: ${herald.errors().slice(-2000)}`);
  };
  const deadline = Date.now() + 30_000;
  if (url === null) {
    await sleep(2000);
    if (!herald.alive) return fail('exited during start-up');
    return herald;
  }
  for (;;) {
    if (!herald.alive) return fail('exited during start-up');
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) return fail('did not answer /healthz within 30 s');
    await sleep(100);
  }
  while (options.expectBootstrap && !/^HERALD_ADMIN_KEY=/m.test(herald.output())) {
    if (Date.now() > deadline) return fail('printed no HERALD_ADMIN_KEY');
    await sleep(50);
  }
  return herald;
}

/** The environment id and admin key Herald printed on its first start. */
export function bootstrapCredentials(output: string): { envId: string; key: string } {
  const envId = /^HERALD_ENV_ID=(\S+)$/m.exec(output)?.[1];
  const key = /^HERALD_ADMIN_KEY=(\S+)$/m.exec(output)?.[1];
  if (!envId || !key) throw new Error(`no credentials in Herald's first-start output:\n${output}`);
  return { envId, key };
}

/** Busy and total CPU time of the whole machine so far (clock ticks, all cores), from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}
