/**
 * `POST /v1/subscriptions/{id}/test` (SPEC §4): one signed request of a synthetic event, sent now
 * and answered with its attempt; nothing is stored or retried.
 */
import { classify } from '../delivery/classify.ts';
import { buildRequest, loggableHeaders } from '../delivery/request.ts';
import type { Attempt, StoredEvent } from '../domain/types.ts';
import { invalid } from '../errors.ts';
import { newId } from '../ids.ts';
import type { CoreDeps } from './deps.ts';
import { secretsUnavailableFor, unavailableSecretsMessage } from './subscription-secrets.ts';
import { loadVisible, openSecrets } from './subscriptions.ts';
import type { Viewer } from './topics.ts';

/** A `test` send's attempt: like a logged Attempt, but of no delivery and never stored. */
export interface TestAttempt extends Omit<Attempt, 'deliveryId'> {
  deliveryId: null;
}

/**
 * Sends one signed request of a synthetic event now (a fresh `msg_…` id), whatever the
 * subscription's status, and answers the attempt. Nothing is stored or retried.
 * `type` must be an event type of the subscription's topic; `data` defaults to null.
 */
export async function sendTestEvent(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  input: { type: string; data?: unknown },
  viewer: Viewer,
): Promise<TestAttempt> {
  const { stored, topic } = await loadVisible(deps, environmentId, id, viewer);
  if (!topic.eventTypes.includes(input.type)) {
    throw invalid('the test event is not valid', [
      { path: '/type', message: `${input.type} is not an event type of topic ${topic.name}` },
    ]);
  }
  const dataJson = JSON.stringify(input.data === undefined ? null : input.data);
  if (Buffer.byteLength(dataJson) > deps.limits.maxEventDataBytes) {
    throw invalid('the test event is not valid', [
      { path: '/data', message: `is larger than ${deps.limits.maxEventDataBytes} bytes` },
    ]);
  }
  const subscription = openSecrets(deps, stored);
  const startedAt = deps.clock.now();
  const msgId = newId('msg', startedAt);
  const unavailable = secretsUnavailableFor(subscription, startedAt);
  if (unavailable.length > 0) {
    return {
      id: newId('att', startedAt),
      deliveryId: null,
      subscriptionId: subscription.id,
      number: 1,
      startedAt,
      durationMs: 0,
      requestHeaders: {},
      outcome: 'failed',
      responseStatus: null,
      responseBody: null,
      error: { kind: 'secret_unavailable', message: unavailableSecretsMessage(unavailable) },
    };
  }
  const event: StoredEvent = {
    id: msgId,
    type: input.type,
    source: null,
    subject: null,
    time: startedAt,
    dataJson,
    context: [],
    topic: topic.name,
    deliverAt: startedAt,
    cancelledAt: null,
    createdAt: startedAt,
  };
  const request = buildRequest({
    subscription,
    event,
    environmentId,
    msgId,
    nowMs: startedAt,
    userAgent: deps.delivery.userAgent,
  });
  const result = await deps.delivery.sender.send(request);
  const outcome = classify(result, deps.clock.now());
  const base = {
    id: newId('att', startedAt),
    deliveryId: null,
    subscriptionId: subscription.id,
    number: 1,
    startedAt,
    durationMs: result.durationMs,
    requestHeaders: loggableHeaders(request, subscription),
    outcome: outcome.kind === 'succeeded' ? ('succeeded' as const) : ('failed' as const),
  };
  if (result.kind === 'error') {
    return {
      ...base,
      responseStatus: null,
      responseBody: null,
      error: { kind: result.errorKind, message: result.message },
    };
  }
  return {
    ...base,
    responseStatus: result.status,
    responseBody: result.body,
    error:
      outcome.kind === 'succeeded' ? null : { kind: 'http_status', message: `the receiver answered ${result.status}` },
  };
}
