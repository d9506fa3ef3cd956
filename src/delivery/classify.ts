/**
 * What an attempt's result means for its delivery (SPEC §5): the classify stage between send and
 * settle, pure so the rules are tested without a network.
 */
import { parseRetryAfter } from '../domain/retry-schedule.ts';
import type { SendResult } from './send.ts';

export type Outcome =
  | { kind: 'succeeded' }
  /** Try again; `retryAfterMs` is the receiver's Retry-After (429/503 only), else null. */
  | { kind: 'retry'; retryAfterMs: number | null }
  /** 410: fail the delivery and disable the subscription at once. */
  | { kind: 'gone' };

export function classify(result: SendResult, nowMs: number): Outcome {
  if (result.kind === 'error') return { kind: 'retry', retryAfterMs: null };
  const { status } = result;
  if (status >= 200 && status < 300) return { kind: 'succeeded' };
  if (status === 410) return { kind: 'gone' };
  if (status === 429 || status === 503) {
    return { kind: 'retry', retryAfterMs: parseRetryAfter(result.headers['retry-after'], nowMs) };
  }
  return { kind: 'retry', retryAfterMs: null };
}
