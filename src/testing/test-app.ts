/**
 * Test-only: the HTTP API in-process (app.inject) over a real store, once per dialect.
 * `api.call(...)` sends a request as a given key; `api.environment()` makes a fresh environment
 * with an admin key, so tests stay independent inside one database.
 */
import { after, before, describe } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ManualClock } from '../clock.ts';
import type { CoreDeps } from '../core/deps.ts';
import { createEnvironment } from '../core/environments.ts';
import { SchemaThreads } from '../core/schemas/schema-threads.ts';
import { Sender } from '../delivery/send.ts';
import type { Lookup } from '../delivery/url-guard.ts';
import { buildApp } from '../http/app.ts';
import type { HttpLimits } from '../http/server-limits.ts';
import { LocalWakeup } from '../queue/wakeup.ts';
import { makeSecretBox } from '../secret-box.ts';
import { VERSION } from '../version.ts';
import { Maintenance } from '../worker/maintenance.ts';
import { Worker } from '../worker/worker.ts';
import { withRegistryCache } from '../store/registry-cache.ts';
import type { Dialect } from '../store/store.ts';
import { DIALECTS, type TestStore, makeTestStore } from './test-store.ts';

export const ROOT_TOKEN = 'test-root-token';

export interface Caller {
  environmentId: string;
  key: string;
}

export interface CallOptions {
  as?: Caller | null;
  body?: unknown;
  /** Raw payload instead of JSON `body`. */
  payload?: string | Buffer;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back.
  body: any;
}

export interface TestApi {
  app: FastifyInstance;
  /** The in-process worker, when ApiOptions.worker asked for one. */
  worker: Worker | null;
  maintenance: Maintenance | null;
  deps: CoreDeps;
  clock: ManualClock;
  dialect: Dialect;
  /** The test database's HERALD_DATABASE_URL (for execOnTestDatabase). */
  databaseUrl: string;
  call(method: string, url: string, options?: CallOptions): Promise<Answer>;
  /** A new environment and its admin key. */
  environment(name?: string, monthlyEventQuota?: number | null): Promise<Caller>;
  /** A key of `role` in the caller's environment. */
  key(admin: Caller, role: 'admin' | 'publisher' | 'subscriber', permissions?: string[]): Promise<Caller>;
}

/** 2026-03-15T12:00:00Z: mid-month, so quota tests can step across month ends. */
export const TEST_EPOCH = Date.UTC(2026, 2, 15, 12, 0, 0);

export interface ApiOptions {
  maxEventDataBytes?: number;
  maxEventsPerPublish?: number;
  maxDeliveriesPerPublish?: number;
  maxBodyBytes?: number;
  /** HERALD_SCHEMA_TIMEOUT_MS; default 5000 here, so a loaded test machine never trips it by accident. */
  schemaTimeoutMs?: number;
  /** The dialects to run on (default both): only for suites whose subject is not storage. */
  dialects?: readonly Dialect[];
  /** JSON text of schemas compiled on one schema thread before it retires (default: Herald's). */
  schemaBudgetBytes?: number;
  /** Server timeouts and connection limits, for tests that listen (see raw-http.ts). */
  httpLimits?: Partial<HttpLimits>;
  defaultMonthlyEventQuota?: number | null;
  /** Default true here: test receivers listen on 127.0.0.1. */
  allowPrivateUrls?: boolean;
  /** Name resolution for the URL guard and the sender. */
  lookup?: Lookup;
  /** HERALD_ENCRYPTION_KEY; null = unset. Default `test-encryption-key`. */
  encryptionKey?: string | null;
  /**
   * Run a delivery worker in-process (on the system clock: retries and schedules really wait,
   * so pair it with a fast HERALD_RETRY_SCHEDULE such as [20, 40]).
   */
  /** HERALD_SMTP_URL for the in-process worker's failure emails. */
  smtpUrl?: string;
  worker?: { retryScheduleMs?: number[]; perSubscriptionCap?: number; leaseMs?: number; pollMs?: number };
}

/** `call` over any app built in-process (app.inject): JSON in, JSON parsed back. */
export function injector(app: FastifyInstance): TestApi['call'] {
  return async (method, url, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.as) {
      headers['x-environment-id'] = opts.as.environmentId;
      headers['x-auth-token'] = opts.as.key;
    }
    let payload: string | Buffer | undefined = opts.payload;
    if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    let body: unknown = response.body;
    if (/json/.test(String(response.headers['content-type'] ?? ''))) body = response.json();
    return { status: response.statusCode, headers: response.headers as Answer['headers'], body };
  };
}

async function makeApi(dialect: Dialect, testStore: TestStore, options: ApiOptions): Promise<TestApi> {
  const clock = new ManualClock(options.worker ? Date.now() : TEST_EPOCH);
  if (options.worker) {
    // Delivery tests run on real time: the manual clock follows the system clock.
    clock.now = () => Date.now();
  }
  const deps: CoreDeps = {
    // As `herald serve` has it: every API test also checks the cache never serves a stale row.
    store: withRegistryCache(testStore.store),
    clock,
    limits: {
      maxEventDataBytes: options.maxEventDataBytes ?? 256 * 1024,
      maxEventsPerPublish: options.maxEventsPerPublish ?? 500,
      maxDeliveriesPerPublish: options.maxDeliveriesPerPublish ?? 50_000,
    },
    defaultMonthlyEventQuota: options.defaultMonthlyEventQuota ?? null,
    schemas: new SchemaThreads({
      timeoutMs: options.schemaTimeoutMs ?? 5000,
      threads: 2,
      ...(options.schemaBudgetBytes ? { budgetBytes: options.schemaBudgetBytes } : {}),
    }),
    delivery: {
      allowPrivateUrls: options.allowPrivateUrls ?? true,
      ...(options.lookup ? { lookup: options.lookup } : {}),
      secrets: makeSecretBox(options.encryptionKey === undefined ? 'test-encryption-key' : options.encryptionKey),
      sender: new Sender({ allowPrivateUrls: options.allowPrivateUrls ?? true, userAgent: `Herald/${VERSION}`, ...(options.lookup ? { lookup: options.lookup } : {}) }),
      wakeup: new LocalWakeup(),
      userAgent: `Herald/${VERSION}`,
    },
  };
  const app = await buildApp({
    deps,
    rootToken: ROOT_TOKEN,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    ...(options.httpLimits ? { limits: options.httpLimits } : {}),
    logLevel: false,
  });

  let worker: Worker | null = null;
  let maintenance: Maintenance | null = null;
  if (options.worker) {
    maintenance = new Maintenance({
      deps,
      config: { smtpUrl: options.smtpUrl ?? null, emailFrom: 'Herald <herald@test>', publicUrl: 'http://localhost:8080' },
      intervalMs: 200,
    });
    worker = new Worker({
      store: deps.store,
      clock,
      sender: deps.delivery.sender,
      secrets: deps.delivery.secrets,
      wakeup: deps.delivery.wakeup,
      workerId: `test-${process.pid}`,
      retryScheduleMs: options.worker.retryScheduleMs ?? [20, 40],
      userAgent: deps.delivery.userAgent,
      perSubscriptionCap: options.worker.perSubscriptionCap ?? 16,
      leaseMs: options.worker.leaseMs ?? 30_000,
      pollMs: options.worker.pollMs ?? 200,
      onReport: (report) => (maintenance as Maintenance).afterAttempt(report),
      onError: (error) => console.error('worker error', error),
    });
    worker.start();
    maintenance.start();
  }

  const call = injector(app);

  return {
    app,
    worker,
    maintenance,
    deps,
    clock,
    dialect,
    databaseUrl: testStore.url,
    call,
    environment: async (name = 'test', monthlyEventQuota = null) => {
      const created = await createEnvironment(deps, { name, monthlyEventQuota });
      return { environmentId: created.environment.id, key: created.adminKey };
    },
    key: async (admin, role, permissions = []) => {
      const answer = await call('POST', '/v1/api-keys', { as: admin, body: { name: role, role, permissions } });
      if (answer.status !== 201) throw new Error(`could not create key: ${JSON.stringify(answer.body)}`);
      return { environmentId: admin.environmentId, key: answer.body.key as string };
    },
  };
}

/** Runs `suite` once per dialect, each with a fresh database and app. */
export function describeApi(title: string, suite: (get: () => TestApi) => void, options: ApiOptions = {}): void {
  for (const dialect of options.dialects ?? DIALECTS) {
    describe(`${title} [${dialect}]`, () => {
      let testStore: TestStore | undefined;
      let api: TestApi | undefined;
      before(async () => {
        testStore = await makeTestStore(dialect);
        api = await makeApi(dialect, testStore, options);
      });
      after(async () => {
        await api?.worker?.stop();
        await api?.maintenance?.stop();
        await api?.app.close();
        await api?.deps.delivery.sender.close();
        await api?.deps.delivery.wakeup.close();
        await api?.deps.schemas.close();
        await testStore?.cleanup();
      });
      suite(() => {
        if (!api) throw new Error('api not ready');
        return api;
      });
    });
  }
}
