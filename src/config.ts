/**
 * The only reader of process.env. Parses and validates every HERALD_* variable once; a bad value
 * stops start-up with a message naming the variable. The README's configuration table mirrors this.
 */
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http/server-limits.ts';

export interface Config {
  /** HERALD_PORT, default 8080. */
  readonly port: number;
  /** HERALD_HOST, default 0.0.0.0. */
  readonly host: string;
  /** HERALD_DATABASE_URL: `sqlite:<path>` (default `sqlite:./data/herald.db`) or `postgres://…`. */
  readonly databaseUrl: string;
  /** HERALD_ROOT_TOKEN: operator token for /v1/environments; unset = operator API refuses every call. */
  readonly rootToken: string | null;
  /** HERALD_ENCRYPTION_KEY: encrypts signing secrets at rest when set. */
  readonly encryptionKey: string | null;
  /** HERALD_SMTP_URL: where failure emails go; unset = no emails. */
  readonly smtpUrl: string | null;
  /** HERALD_EMAIL_FROM, default `Herald <herald@localhost>`. */
  readonly emailFrom: string;
  /** HERALD_PUBLIC_URL, default `http://localhost:<port>`: base of portal links. */
  readonly publicUrl: string;
  /** HERALD_ALLOW_PRIVATE_URLS, default false: allow subscription URLs on private networks. */
  readonly allowPrivateUrls: boolean;
  /** HERALD_RETRY_SCHEDULE, default `5s,30s,2m,10m,30m,1h,2h,4h,8h,12h`, in milliseconds here. */
  readonly retryScheduleMs: readonly number[];
  /** HERALD_MONTHLY_EVENT_QUOTA: default quota of new environments; unset = unlimited. */
  readonly monthlyEventQuota: number | null;
  /** HERALD_RETENTION_DAYS, default 30: events, deliveries and attempts kept this long. */
  readonly retentionDays: number;
  /** HERALD_MAX_BODY_BYTES, default 1 MiB. */
  readonly maxBodyBytes: number;
  /** HERALD_MAX_EVENT_DATA_BYTES, default 256 KiB: one event's serialised `data`. */
  readonly maxEventDataBytes: number;
  /** HERALD_MAX_EVENTS_PER_PUBLISH, default 500. */
  readonly maxEventsPerPublish: number;
  /** HERALD_MAX_DELIVERIES_PER_PUBLISH, default 50000: deliveries (events × matching subscriptions) one publish call may create. */
  readonly maxDeliveriesPerPublish: number;
  /** HERALD_MAX_INFLIGHT_PER_SUBSCRIPTION, default 16. */
  readonly maxInflightPerSubscription: number;
  /** HERALD_LEASE_MS, default 30000: how long a worker's claim on a delivery lasts (renewed while in flight). */
  readonly leaseMs: number;
  /** HERALD_SCHEMA_TIMEOUT_MS, default 1000: longest a schema check or one publish's schema validation may run. */
  readonly schemaTimeoutMs: number;
  /** HERALD_SCHEMA_THREADS, default 2: threads that compile and apply event types' JSON Schemas. */
  readonly schemaThreads: number;
  /**
   * The HTTP server's timeouts and connection limits: HERALD_HEADERS_TIMEOUT_MS (default 10000),
   * HERALD_REQUEST_TIMEOUT_MS (30000), HERALD_KEEP_ALIVE_TIMEOUT_MS (65000), HERALD_SOCKET_TIMEOUT_MS
   * (60000), HERALD_MAX_REQUESTS_PER_CONNECTION (1000), HERALD_MAX_CONNECTIONS (1024).
   */
  readonly httpLimits: Readonly<HttpLimits>;
  /** HERALD_LOG_LEVEL, default `info`. */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_RETRY_SCHEDULE = '5s,30s,2m,10m,30m,1h,2h,4h,8h,12h';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

type Env = Record<string, string | undefined>;

function text(env: Env, name: string): string | null {
  const value = env[name];
  return value === undefined || value.trim() === '' ? null : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name);
  if (raw === null) return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `10ms,20s,2m,1h` into milliseconds. */
export function parseDurationList(name: string, raw: string): number[] {
  const steps = raw.split(',').map((part) => part.trim());
  return steps.map((step) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(step);
    if (!match) throw new ConfigError(name, `"${step}" is not a duration like 500ms, 5s, 2m, 1h`);
    return Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
  });
}

function databaseUrl(env: Env): string {
  const raw = text(env, 'HERALD_DATABASE_URL') ?? 'sqlite:./data/herald.db';
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(raw)) {
    throw new ConfigError('HERALD_DATABASE_URL', 'expected sqlite:<path> or postgres://…');
  }
  return raw;
}

const SMTP_URL_PROBLEM = 'must be an smtp:// or smtps:// URL with a host, like smtp://user:pass@mail.example:587';

/** HERALD_SMTP_URL as nodemailer reads it: an smtp:// or smtps:// URL (anything else it takes for options). */
function smtpUrl(env: Env): string | null {
  const raw = text(env, 'HERALD_SMTP_URL');
  if (raw === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError('HERALD_SMTP_URL', SMTP_URL_PROBLEM);
  }
  if ((parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') || parsed.hostname === '') {
    throw new ConfigError('HERALD_SMTP_URL', SMTP_URL_PROBLEM);
  }
  return raw;
}

function httpLimits(env: Env): Readonly<HttpLimits> {
  const d = DEFAULT_HTTP_LIMITS;
  const limits: HttpLimits = {
    headersTimeoutMs: integer(env, 'HERALD_HEADERS_TIMEOUT_MS', d.headersTimeoutMs, 100, 600_000),
    requestTimeoutMs: integer(env, 'HERALD_REQUEST_TIMEOUT_MS', d.requestTimeoutMs, 100, 3_600_000),
    keepAliveTimeoutMs: integer(env, 'HERALD_KEEP_ALIVE_TIMEOUT_MS', d.keepAliveTimeoutMs, 100, 3_600_000),
    socketTimeoutMs: integer(env, 'HERALD_SOCKET_TIMEOUT_MS', d.socketTimeoutMs, 100, 3_600_000),
    maxRequestsPerConnection: integer(
      env,
      'HERALD_MAX_REQUESTS_PER_CONNECTION',
      d.maxRequestsPerConnection,
      1,
      1_000_000,
    ),
    maxConnections: integer(env, 'HERALD_MAX_CONNECTIONS', d.maxConnections, 1, 1_000_000),
  };
  // Node refuses a header timeout longer than the request timeout that contains it.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new ConfigError(
      'HERALD_HEADERS_TIMEOUT_MS',
      `must not be longer than HERALD_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs})`,
    );
  }
  return Object.freeze(limits);
}

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'HERALD_PORT', 8080, 0, 65535);
  const publicUrl = (text(env, 'HERALD_PUBLIC_URL') ?? `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    new URL(publicUrl);
  } catch {
    throw new ConfigError('HERALD_PUBLIC_URL', `"${publicUrl}" is not a URL`);
  }
  const logLevel = text(env, 'HERALD_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('HERALD_LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}`);
  }
  const quotaRaw = text(env, 'HERALD_MONTHLY_EVENT_QUOTA');
  const config: Config = {
    port,
    host: text(env, 'HERALD_HOST') ?? '0.0.0.0',
    databaseUrl: databaseUrl(env),
    rootToken: text(env, 'HERALD_ROOT_TOKEN'),
    encryptionKey: text(env, 'HERALD_ENCRYPTION_KEY'),
    smtpUrl: smtpUrl(env),
    emailFrom: text(env, 'HERALD_EMAIL_FROM') ?? 'Herald <herald@localhost>',
    publicUrl,
    allowPrivateUrls: boolean(env, 'HERALD_ALLOW_PRIVATE_URLS', false),
    retryScheduleMs: parseDurationList(
      'HERALD_RETRY_SCHEDULE',
      text(env, 'HERALD_RETRY_SCHEDULE') ?? DEFAULT_RETRY_SCHEDULE,
    ),
    monthlyEventQuota:
      quotaRaw === null ? null : integer(env, 'HERALD_MONTHLY_EVENT_QUOTA', 0, 0, Number.MAX_SAFE_INTEGER),
    retentionDays: integer(env, 'HERALD_RETENTION_DAYS', 30, 1, 3650),
    maxBodyBytes: integer(env, 'HERALD_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxEventDataBytes: integer(env, 'HERALD_MAX_EVENT_DATA_BYTES', 256 * 1024, 16, 64 * 1024 * 1024),
    maxEventsPerPublish: integer(env, 'HERALD_MAX_EVENTS_PER_PUBLISH', 500, 1, 10_000),
    maxDeliveriesPerPublish: integer(env, 'HERALD_MAX_DELIVERIES_PER_PUBLISH', 50_000, 1, 10_000_000),
    maxInflightPerSubscription: integer(env, 'HERALD_MAX_INFLIGHT_PER_SUBSCRIPTION', 16, 1, 1000),
    leaseMs: integer(env, 'HERALD_LEASE_MS', 30_000, 1000, 3_600_000),
    schemaTimeoutMs: integer(env, 'HERALD_SCHEMA_TIMEOUT_MS', 1000, 10, 60_000),
    schemaThreads: integer(env, 'HERALD_SCHEMA_THREADS', 2, 1, 64),
    httpLimits: httpLimits(env),
    logLevel: logLevel as Config['logLevel'],
  };
  return Object.freeze(config);
}
