import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify } from './classify.ts';
import type { SendErrorKind, SendResult } from './send.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

function response(status: number, headers: Record<string, string> = {}): SendResult {
  return { kind: 'response', status, headers, body: '', durationMs: 12 };
}

function failure(errorKind: SendErrorKind): SendResult {
  return { kind: 'error', errorKind, message: errorKind, durationMs: 12 };
}

describe('classify', () => {
  it('any 2xx succeeds', () => {
    for (const status of [200, 201, 202, 204, 299]) {
      assert.deepEqual(classify(response(status), NOW), { kind: 'succeeded' }, String(status));
    }
  });

  it('410 is gone', () => {
    assert.deepEqual(classify(response(410), NOW), { kind: 'gone' });
  });

  it('429 and 503 retry after the Retry-After the receiver asked for', () => {
    assert.deepEqual(classify(response(429, { 'retry-after': '30' }), NOW), { kind: 'retry', retryAfterMs: 30_000 });
    assert.deepEqual(classify(response(503, { 'retry-after': 'Wed, 15 Jan 2025 12:02:00 GMT' }), NOW), {
      kind: 'retry',
      retryAfterMs: 120_000,
    });
    assert.deepEqual(classify(response(429), NOW), { kind: 'retry', retryAfterMs: null });
    assert.deepEqual(classify(response(503, { 'retry-after': 'later' }), NOW), { kind: 'retry', retryAfterMs: null });
  });

  it('ignores Retry-After on other statuses', () => {
    assert.deepEqual(classify(response(500, { 'retry-after': '30' }), NOW), { kind: 'retry', retryAfterMs: null });
  });

  it('every other status retries on the schedule, redirects and 1xx included', () => {
    for (const status of [100, 301, 302, 304, 400, 401, 404, 408, 500, 502, 504]) {
      assert.deepEqual(classify(response(status), NOW), { kind: 'retry', retryAfterMs: null }, String(status));
    }
  });

  it('every send error retries on the schedule', () => {
    for (const kind of ['timeout', 'dns', 'refused', 'tls', 'network', 'blocked_url'] as const) {
      assert.deepEqual(classify(failure(kind), NOW), { kind: 'retry', retryAfterMs: null }, kind);
    }
  });
});
