/** Test-only: Herald as a user runs it — a real `herald` process on a free port. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

const BIN = new URL('../../bin/herald.mjs', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface HeraldProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** Everything printed to stdout so far. */
  output(): string;
  /** Sends the signal and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function heraldEnv(databaseUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HERALD_DATABASE_URL: databaseUrl,
    HERALD_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Runs `herald <args>` to completion. */
export function runHerald(args: string[], env: NodeJS.ProcessEnv) {
  const result = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export type ServeRole = 'api' | 'worker' | 'all';

/** A `herald serve` child process, with what it printed and a way to stop it. */
interface Spawned {
  child: ChildProcess;
  output(): string;
  errors(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function spawnServe(role: ServeRole, env: NodeJS.ProcessEnv): Spawned {
  const child = spawn(process.execPath, [BIN, 'serve', '--role', role], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => stdout,
    errors: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Starts `herald serve` (role `all` unless `role` says otherwise) and resolves once /healthz
 * answers. A worker has no HTTP port: use startHeraldWorker for `--role worker`.
 */
export async function startHerald(
  databaseUrl: string,
  extra: Record<string, string> = {},
  role: Exclude<ServeRole, 'worker'> = 'all',
): Promise<HeraldProcess> {
  const port = await freePort();
  const spawned = spawnServe(role, heraldEnv(databaseUrl, { HERALD_PORT: String(port), HERALD_HOST: '127.0.0.1', ...extra }));
  const { child } = spawned;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`herald exited early (${child.exitCode}): ${spawned.errors()}`);
    try {
      const health = await fetch(`${url}/healthz`);
      if (health.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`herald did not start within 30 s: ${spawned.errors()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, url, child, output: spawned.output, stop: spawned.stop };
}

export interface HeraldWorkerProcess {
  child: ChildProcess;
  /** Everything printed to stdout so far. */
  output(): string;
  /** Everything printed to stderr so far (worker errors are written there). */
  errors(): string;
  /** Sends the signal and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `herald serve --role worker`. It has no HTTP port to wait for, so this resolves once the
 * process has stayed up for `settleMs` (long enough to load, migrate and start claiming), and
 * throws if it exited before that.
 */
export async function startHeraldWorker(
  databaseUrl: string,
  extra: Record<string, string> = {},
  settleMs = 1500,
): Promise<HeraldWorkerProcess> {
  const spawned = spawnServe('worker', heraldEnv(databaseUrl, extra));
  const { child } = spawned;
  const deadline = Date.now() + settleMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`herald worker exited early (${child.exitCode}): ${spawned.errors()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (child.exitCode !== null) throw new Error(`herald worker exited early (${child.exitCode}): ${spawned.errors()}`);
  return spawned;
}

/** Where a `herald serve` process answers and the environment it bootstrapped on an empty database. */
export interface HeraldCredentials {
  url: string;
  envId: string;
  adminKey: string;
}

/** The HERALD_ENV_ID / HERALD_ADMIN_KEY a first `herald serve` printed when it bootstrapped. */
export function bootstrapCredentials(server: HeraldProcess): HeraldCredentials {
  const output = server.output();
  const envId = /^HERALD_ENV_ID=(env_\w+)$/m.exec(output)?.[1] ?? '';
  const adminKey = /^HERALD_ADMIN_KEY=(\S+)$/m.exec(output)?.[1] ?? '';
  if (!envId || !adminKey) throw new Error(`no bootstrap credentials in: ${output}`);
  return { url: server.url, envId, adminKey };
}

/** A JSON call to a running Herald as the bootstrapped environment's admin. */
export async function callHerald(c: HeraldCredentials, method: string, path: string, body?: unknown) {
  const response = await fetch(`${c.url}${path}`, {
    method,
    headers: {
      'x-environment-id': c.envId,
      'x-auth-token': c.adminKey,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back.
  return { status: response.status, body: (text ? JSON.parse(text) : null) as any };
}
