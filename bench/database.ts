/**
 * Bench: one fresh database per dialect, dropped at the end (also on errors and Ctrl-C).
 * SQLite: a file in a temp directory. PostgreSQL: a new database on the local server
 * (HERALD_BENCH_POSTGRES_URL, else HERALD_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/postgres).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { onCleanup } from './children.ts';
import type { Dialect } from './params.ts';

const ADMIN_URL =
  process.env.HERALD_BENCH_POSTGRES_URL ?? process.env.HERALD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Whether the PostgreSQL server answers on its TCP port (within 1 s). */
export function postgresAnswers(): Promise<boolean> {
  const url = new URL(ADMIN_URL);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(url.port || 5432), url.hostname, () => done(true));
  });
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(dialect: Dialect): Promise<BenchDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
    const drop = async () => rmSync(dir, { recursive: true, force: true });
    const forget = onCleanup(drop);
    return {
      url: `sqlite:${join(dir, 'herald.db')}`,
      drop: async () => {
        forget();
        await drop();
      },
    };
  }
  const name = `herald_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const drop = () => admin(async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));
  const forget = onCleanup(drop);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      forget();
      await drop();
    },
  };
}

/** Server settings that change what the figures mean (autovacuum off lets the queue table bloat). */
export async function postgresSettings(): Promise<Record<string, string>> {
  const names = ['server_version', 'autovacuum', 'synchronous_commit', 'fsync', 'shared_buffers', 'max_connections'];
  return admin(async (client) => {
    const result = await client.query<{ name: string; setting: string }>(
      'SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1)',
      [names],
    );
    return Object.fromEntries(result.rows.map((row) => [row.name, row.setting]));
  });
}
