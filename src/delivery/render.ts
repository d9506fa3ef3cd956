/**
 * Request bodies (SPEC §5): structured CloudEvents 1.0 JSON, or the bare data.
 * `dataJson` is the event's data as stored, and is spliced in verbatim: re-parsing and
 * re-serialising up to 256 KiB per attempt would cost time and could change bytes the
 * publisher chose (number formatting, key order).
 */

import { defaultSource } from '../domain/event.ts';
import type { StoredEvent } from '../domain/types.ts';

export type BodyFormat = 'cloudevents' | 'data';

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
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
  const { event } = input;
  // An empty string would make the whole document invalid JSON; absent data is `null`.
  const data = (input.transformed ?? event.dataJson) || 'null';
  if (input.format === 'data') return { body: data, contentType: JSON_CONTENT_TYPE };
  const q = JSON.stringify;
  const source = event.source ?? defaultSource(input.environmentId, input.topic);
  const body =
    `{"specversion":"1.0","id":${q(event.id)},"source":${q(source)},"type":${q(event.type)}` +
    (event.subject === null ? '' : `,"subject":${q(event.subject)}`) +
    `,"time":${q(new Date(event.time).toISOString())},"datacontenttype":"application/json"` +
    `,"data":${data},"topic":${q(input.topic)},"environment":${q(input.environmentId)}}`;
  return { body, contentType: CLOUDEVENTS_CONTENT_TYPE };
}
