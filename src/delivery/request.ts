/**
 * The HTTP request of one attempt (SPEC §5): rendered body, Standard Webhooks headers signed with
 * every valid secret, content-language, the static secret header and the subscription's headers.
 * A batch's request (batch-request.ts) is made by the same signedRequest.
 */
import type { StoredEvent, Subscription } from '../domain/types.ts';
import { type RenderedBody, renderBody } from './render.ts';
import { signatureHeader } from './sign.ts';

export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** The secrets that sign now: the current one, and the previous one for 24 h after a rotation. */
export function signingSecrets(subscription: Subscription, nowMs: number): string[] {
  const secrets = [subscription.signingSecret];
  if (
    subscription.previousSigningSecret &&
    subscription.previousSecretExpiresAt !== null &&
    subscription.previousSecretExpiresAt > nowMs
  ) {
    secrets.push(subscription.previousSigningSecret);
  }
  return secrets;
}

export function buildRequest(input: {
  /** With secrets in clear. */
  subscription: Subscription;
  event: StoredEvent;
  environmentId: string;
  /** `webhook-id`: the event id (same on every retry), or a fresh `msg_…` for a test send. */
  msgId: string;
  nowMs: number;
  userAgent: string;
  /** JSON text replacing `data` (transform result). */
  transformed?: string;
}): DeliveryRequest {
  const { subscription, event, environmentId, msgId, nowMs, userAgent } = input;
  const rendered = renderBody({
    event,
    topic: subscription.topic,
    environmentId,
    format: subscription.format,
    ...(input.transformed !== undefined ? { transformed: input.transformed } : {}),
  });
  return signedRequest({ subscription, rendered, msgId, nowMs, userAgent });
}

/**
 * The request for a rendered body, one event's or a batch's: the subscription's headers, the
 * static secret header, then Herald's own headers (set last, so a subscription header of the same
 * name cannot replace them) with one Standard Webhooks signature per valid secret over the body.
 */
export function signedRequest(input: {
  /** With secrets in clear. */
  subscription: Subscription;
  rendered: RenderedBody;
  /** `webhook-id`: signed together with the timestamp and the body. */
  msgId: string;
  nowMs: number;
  userAgent: string;
}): DeliveryRequest {
  const { subscription, rendered, msgId, nowMs, userAgent } = input;
  const timestamp = Math.floor(nowMs / 1000);
  const headers: Record<string, string> = { ...subscription.headers };
  if (subscription.secretHeaderName && subscription.secretHeaderValue !== null) {
    headers[subscription.secretHeaderName.toLowerCase()] = subscription.secretHeaderValue;
  }
  Object.assign(headers, {
    'content-type': rendered.contentType,
    'user-agent': userAgent,
    'content-language': subscription.language,
    'webhook-id': msgId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(signingSecrets(subscription, nowMs), msgId, timestamp, rendered.body),
  });
  return { url: subscription.url, headers, body: rendered.body, timeoutMs: subscription.timeoutMs };
}

/** The headers as the attempt log keeps them: the static secret is never stored in the log. */
export function loggableHeaders(request: DeliveryRequest, subscription: Subscription): Record<string, string> {
  const headers = { ...request.headers };
  const secretName = subscription.secretHeaderName?.toLowerCase();
  if (secretName && secretName in headers) headers[secretName] = '[redacted]';
  return headers;
}
