/** The HTTP limits through configuration: HERALD_* variables read, validated, and their defaults. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { DEFAULT_HTTP_LIMITS, connectionsCheckingIntervalMs } from '../../src/http/server-limits.ts';

const VARIABLES = {
  HERALD_HEADERS_TIMEOUT_MS: 'headersTimeoutMs',
  HERALD_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
  HERALD_KEEP_ALIVE_TIMEOUT_MS: 'keepAliveTimeoutMs',
  HERALD_SOCKET_TIMEOUT_MS: 'socketTimeoutMs',
  HERALD_MAX_REQUESTS_PER_CONNECTION: 'maxRequestsPerConnection',
  HERALD_MAX_CONNECTIONS: 'maxConnections',
} as const;

test('unset, the limits are the defaults a reverse proxy in front expects', () => {
  assert.deepEqual(
    { ...loadConfig({}).httpLimits },
    {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
      socketTimeoutMs: 60_000,
      maxRequestsPerConnection: 1000,
      maxConnections: 1024,
    },
  );
  assert.deepEqual({ ...loadConfig({}).httpLimits }, { ...DEFAULT_HTTP_LIMITS });
});

test('each variable sets its limit', () => {
  for (const [variable, field] of Object.entries(VARIABLES)) {
    // 500 is valid for each one; the header timeout goes down with it so it stays within the request timeout.
    const limits = loadConfig({ HERALD_HEADERS_TIMEOUT_MS: '500', [variable]: '500' }).httpLimits;
    assert.equal(limits[field], 500, variable);
    assert.throws(() => ((limits as { [k: string]: number })[field] = 1), TypeError, 'the limits are frozen');
  }
});

test('a bad value stops start-up with a message naming the variable', () => {
  for (const variable of Object.keys(VARIABLES)) {
    for (const bad of ['soon', '-1', '1.5', '0', '99999999999']) {
      assert.throws(
        () => loadConfig({ [variable]: bad }),
        (error: unknown) => error instanceof ConfigError && error.message.startsWith(`${variable}:`),
        `${variable}=${bad}`,
      );
    }
  }
});

test('a header timeout longer than the request timeout is refused', () => {
  assert.throws(
    () => loadConfig({ HERALD_HEADERS_TIMEOUT_MS: '5000', HERALD_REQUEST_TIMEOUT_MS: '4000' }),
    /^ConfigError: HERALD_HEADERS_TIMEOUT_MS: must not be longer than HERALD_REQUEST_TIMEOUT_MS/,
  );
  const equal = loadConfig({ HERALD_HEADERS_TIMEOUT_MS: '4000', HERALD_REQUEST_TIMEOUT_MS: '4000' }).httpLimits;
  assert.equal(equal.headersTimeoutMs, 4000);
});

test('timeouts are checked often enough to hold: within a quarter of the shorter one, at most 1 s', () => {
  assert.equal(connectionsCheckingIntervalMs(DEFAULT_HTTP_LIMITS), 1000);
  assert.equal(connectionsCheckingIntervalMs({ ...DEFAULT_HTTP_LIMITS, headersTimeoutMs: 200, requestTimeoutMs: 400 }), 50);
});
