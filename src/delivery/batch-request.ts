/**
 * The HTTP request of one attempt at a batch (SPEC §4 `batch`, §5): the events rendered as one
 * JSON array (render.ts renderBatchBody), sent with the same headers as one event's request
 * (request.ts signedRequest). `webhook-id` is the batch's `bat_…` id, which the caller keeps
 * across retries so receivers can de-duplicate the batch; one signature covers the whole body.
 */
import type { StoredEvent, Subscription } from '../domain/types.ts';
import { renderBatchBody } from './render.ts';
import { type DeliveryRequest, signedRequest } from './request.ts';

export function buildBatchRequest(input: {
  /** With secrets in clear. */
  subscription: Subscription;
  /** In the order they are to be sent; at least one. */
  events: readonly StoredEvent[];
  environmentId: string;
  /** `bat_…` (ids.ts `newId('bat')`), made once when the batch is formed. */
  batchId: string;
  nowMs: number;
  userAgent: string;
  /** Transform results (JSON text) by position in `events`; `undefined` = that event's own data. */
  transformed?: readonly (string | undefined)[];
}): DeliveryRequest {
  const { subscription, events, environmentId, batchId, nowMs, userAgent } = input;
  const rendered = renderBatchBody({
    events,
    topic: subscription.topic,
    environmentId,
    format: subscription.format,
    ...(input.transformed !== undefined ? { transformed: input.transformed } : {}),
  });
  return signedRequest({ subscription, rendered, msgId: batchId, nowMs, userAgent });
}
