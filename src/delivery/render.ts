/**
 * Request bodies (SPEC §5): structured CloudEvents 1.0 JSON, or the bare data; for a batch
 * (SPEC §4 `batch`), a JSON array of either.
 * `dataJson` is the event's data as stored, and is spliced in verbatim: re-parsing and
 * re-serialising up to 256 KiB per attempt would cost time and could change bytes the
 * publisher chose (number formatting, key order).
 */

import { defaultSource } from '../domain/event.ts';
import type { StoredEvent } from '../domain/types.ts';

export type BodyFormat = 'cloudevents' | 'data';

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
export const CLOUDEVENTS_BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';
export const JSON_CONTENT_TYPE = 'application/json';

/**
 * The stored event, as render needs it. `source` null = Herald's default; `subject` null = omitted;
 * `context` is used by filters, not sent (CloudEvents extensions cannot hold lists).
 */
export type RenderEvent = Pick<StoredEvent, 'id' | 'type' | 'source' | 'subject' | 'time' | 'dataJson' | 'context'>;

export interface RenderInput {
  event: RenderEvent;
  topic: string;
  environmentId: string;
  format: BodyFormat;
  /** JSON text of a transform's result; replaces `data` when given. */
  transformed?: string;
}

export interface RenderedBody {
  body: string;
  contentType: string;
}

export function renderBody(input: RenderInput): RenderedBody {
  const data = dataText(input.event, input.transformed);
  if (input.format === 'data') return { body: data, contentType: JSON_CONTENT_TYPE };
  const body = cloudEventText(input.event, input.topic, input.environmentId, data);
  return { body, contentType: CLOUDEVENTS_CONTENT_TYPE };
}

/** The JSON text sent as `data`: the transform result if any, else the stored data. */
function dataText(event: RenderEvent, transformed: string | undefined): string {
  // An empty string would make the whole document invalid JSON; absent data is `null`.
  return (transformed ?? event.dataJson) || 'null';
}

/** One structured CloudEvent as JSON text, with `data` (already JSON text) spliced in. */
function cloudEventText(event: RenderEvent, topic: string, environmentId: string, data: string): string {
  const q = JSON.stringify;
  const source = event.source ?? defaultSource(environmentId, topic);
  return (
    `{"specversion":"1.0","id":${q(event.id)},"source":${q(source)},"type":${q(event.type)}` +
    (event.subject === null ? '' : `,"subject":${q(event.subject)}`) +
    `,"time":${q(new Date(event.time).toISOString())},"datacontenttype":"application/json"` +
    `,"data":${data},"topic":${q(topic)},"environment":${q(environmentId)}}`
  );
}

export interface RenderBatchInput {
  /** In the order they are to be sent; at least one. */
  events: readonly RenderEvent[];
  topic: string;
  environmentId: string;
  format: BodyFormat;
  /** Transform results by position in `events` (JSON text; `undefined` = that event's own data). */
  transformed?: readonly (string | undefined)[];
}

/**
 * A batch body (SPEC §4 `batch`): a JSON array of what renderBody would send for each event —
 * the CloudEvents objects (`application/cloudevents-batch+json`) or the bare data values
 * (`application/json`). Each element is spliced in as text like renderBody's `data`, and the
 * parts are joined once, so the cost stays linear in the body size for 1000 events.
 */
export function renderBatchBody(input: RenderBatchInput): RenderedBody {
  const { events, transformed } = input;
  if (events.length === 0) throw new Error('a batch has at least one event');
  if (transformed !== undefined && transformed.length !== events.length) {
    throw new Error(`a batch of ${events.length} events has ${transformed.length} transform results`);
  }
  const parts = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as RenderEvent;
    const data = dataText(event, transformed?.[i]);
    parts[i] = input.format === 'data' ? data : cloudEventText(event, input.topic, input.environmentId, data);
  }
  const body = `[${parts.join(',')}]`;
  return { body, contentType: input.format === 'data' ? JSON_CONTENT_TYPE : CLOUDEVENTS_BATCH_CONTENT_TYPE };
}
