/**
 * Test-only: real stores on both dialects. SQLite gets a temp file; PostgreSQL a fresh database on
 * the local server (HERALD_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres),
 * dropped afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../store/open-store.ts';
import type { ClaimOptions, ClaimedDelivery, SettleEffects, SettleInput } from '../queue/queue.ts';
import { issueKey } from '../core/keys.ts';
import type { StoredEvent, Subscription } from '../domain/types.ts';
import type { Dialect, Store } from '../store/store.ts';

export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

const ADMIN_URL = process.env.HERALD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** A HERALD_DATABASE_URL for this database (to start real processes against it). */
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database of the dialect; nothing is migrated yet. */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'herald-test-'));
    return { url: `sqlite:${join(dir, 'herald.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `herald_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export interface TestStore {
  store: Store;
  url: string;
  cleanup(): Promise<void>;
}

/** Runs `sql` on a test database over a connection of its own, as another process would. */
export async function execOnTestDatabase(url: string, sql: string): Promise<void> {
  if (url.startsWith('sqlite:')) {
    const db = new Database(url.slice('sqlite:'.length));
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A migrated store on a fresh database. */
export async function makeTestStore(dialect: Dialect): Promise<TestStore> {
  const database = await createTestDatabase(dialect);
  const store = openStore(database.url);
  await store.migrate();
  return {
    store,
    url: database.url,
    cleanup: async () => {
      await store.close();
      await database.drop();
    },
  };
}

/**
 * Runs `suite` once per dialect, each inside its own `describe` with a fresh migrated store.
 * `get()` returns the store once `before` has run.
 */
export function describeEachDialect(title: string, suite: (get: () => Store, dialect: Dialect) => void): void {
  for (const dialect of DIALECTS) {
    describe(`${title} [${dialect}]`, () => {
      let current: TestStore | undefined;
      before(async () => {
        current = await makeTestStore(dialect);
      });
      after(async () => {
        await current?.cleanup();
      });
      suite(() => {
        if (!current) throw new Error('store not ready');
        return current.store;
      }, dialect);
    });
  }
}

/**
 * Queues `count` pending deliveries of `subscriptionId` (topic `work`), due one millisecond apart
 * from `from`, without events or a subscription behind them: enough for claim tests.
 */
export function queueDeliveries(store: Store, environmentId: string, subscriptionId: string, count: number, from: number, now = Date.now()) {
  return store.insertDeliveries(
    environmentId,
    Array.from({ length: count }, (_, i) => ({
      id: `dlv_${subscriptionId}_${String(i).padStart(4, '0')}`,
      eventId: `evt_${subscriptionId}_${i}`,
      subscriptionId,
      topic: 'work',
      status: 'pending' as const,
      nextAttemptAt: from + i,
      createdAt: now,
    })),
  );
}

/** The queue's claim, as the deliveries it leased (tests that play a worker by hand). */
export async function claimDeliveries(store: Store, options: ClaimOptions): Promise<ClaimedDelivery[]> {
  return (await store.queue.claim(options)).work.map((work) => work.delivery);
}

/** Settles one attempt through the queue; its effects. */
export async function settleOne(store: Store, input: SettleInput): Promise<SettleEffects> {
  return (await store.queue.settle([input]))[0] as SettleEffects;
}

/** A subscription as the store keeps it, for queue and store tests; `overrides` set what the test is about. */
export function testSubscription(overrides: Partial<Subscription> & { id: string }): Subscription {
  return {
    topic: 'work',
    name: overrides.id,
    description: null,
    customId: null,
    metadata: {},
    events: ['*'],
    url: 'http://127.0.0.1:9/hook',
    format: 'cloudevents',
    headers: {},
    secretHeaderName: null,
    secretHeaderValue: null,
    maxRetries: 3,
    timeoutMs: 5000,
    failureEmail: null,
    language: 'en-US',
    status: 'enabled',
    disabledReason: null,
    disableAfterFailures: 10,
    consecutiveFailures: 0,
    signingSecret: 'plain:whsec_dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtMTIz',
    previousSigningSecret: null,
    previousSecretExpiresAt: null,
    version: 1,
    lastEmailAt: null,
    scope: { role: 'admin', permissions: [] },
    ordering: 'unordered',
    rateLimitPerSecond: null,
    batch: null,
    createdAt: 0,
    updatedAt: 0,
    ...overrides,
  };
}

/** A stored event for store tests: `order.created` on topic `orders`, accepted at 1,000 ms. */
export function testEvent(id: string, overrides: Partial<StoredEvent> = {}): StoredEvent {
  return {
    id,
    type: 'order.created',
    source: null,
    subject: null,
    time: 1_000,
    dataJson: '{"n":1}',
    context: [],
    topic: 'orders',
    deliverAt: 1_000,
    cancelledAt: null,
    createdAt: 1_000,
    ...overrides,
  };
}

/** A new environment (with its admin key) in the store, for store tests; its id. */
export async function testEnvironment(store: Store, prefix: string): Promise<string> {
  const id = `env_${prefix}${process.pid}x${Math.random().toString(36).slice(2, 10)}`;
  await store.insertEnvironment(
    { id, name: id, monthlyEventQuota: null, createdAt: 1_000, updatedAt: 1_000 },
    issueKey(id, 'admin', 'admin', [], 1_000).stored,
  );
  return id;
}
