/** Request schemas of the subscription routes (SPEC §4 "Subscriptions"). */
import { type TSchema, Type } from 'typebox';
import { PageQuery } from '../pagination.ts';
import { Description, Json, Name, NO_NUL_PATTERN, Text, strict } from './common.ts';

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * Fields of SPEC §4 not built yet. They are refused with a 400 naming each one (rather than
 * dropped silently), before the schema runs, so the message says "not supported yet" and not just
 * "unknown field".
 */
export const UNSUPPORTED_FIELDS: readonly string[] = ['filter', 'contextFilters', 'transform'];

const EventSelector = Type.String({
  pattern: '^(\\*|[A-Za-z0-9][A-Za-z0-9_.:-]{0,127})$',
  description: 'an event type of the topic, or * for all',
});

/** Both limits are required: PATCH replaces the whole object (null clears it). */
const Batch = Type.Object(
  {
    maxEvents: Type.Integer({ minimum: 1, maximum: 1000, description: 'events per request at most' }),
    maxWaitMs: Type.Integer({
      minimum: 0,
      maximum: 60000,
      description: 'how long the first event of a batch may wait for more',
    }),
  },
  {
    ...strict,
    description:
      'aggregate events into one request (application/cloudevents-batch+json, or a JSON array for format data); ' +
      'default null: one event per request',
  },
);

const StringMap = (description: string, keyMax: number, valueMax: number) =>
  Type.Record(Type.String(), Text({ maxLength: valueMax }), {
    maxProperties: 50,
    propertyNames: { minLength: 1, maxLength: keyMax, pattern: NO_NUL_PATTERN },
    description,
  });

/** Every updatable field; the create schema makes `name` and `url` required. */
const fields = {
  description: Type.Optional(nullable(Description)),
  customId: Type.Optional(nullable(Text({ minLength: 1, maxLength: 256, description: "the caller's own id" }))),
  metadata: Type.Optional(StringMap('free string → string map (at most 50 entries)', 128, 1024)),
  events: Type.Optional(Type.Array(EventSelector, { minItems: 1, maxItems: 1000, description: 'default ["*"]' })),
  format: Type.Optional(Type.Enum(['cloudevents', 'data'], { description: 'default cloudevents' })),
  batch: Type.Optional(nullable(Batch)),
  headers: Type.Optional(
    Type.Record(Type.String(), Type.String({ maxLength: 4096 }), {
      maxProperties: 50,
      propertyNames: { minLength: 1, maxLength: 256 },
      description:
        'extra request headers: HTTP token names, values of visible ASCII or Latin-1 characters; not the ones ' +
        'Herald sets (content-type, user-agent, webhook-*, content-language) nor connection ones (host, ' +
        'content-length, connection, keep-alive, transfer-encoding, upgrade, expect, te, trailer, proxy-*)',
    }),
  ),
  secretHeaderName: Type.Optional(
    nullable(
      Type.String({ minLength: 1, maxLength: 256, description: 'a static secret header (with secretHeaderValue)' }),
    ),
  ),
  secretHeaderValue: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 4096 }))),
  maxRetries: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 25, description: 'retries after the first attempt; default 3' }),
  ),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 30000, description: 'per attempt; default 5000' })),
  rateLimitPerSecond: Type.Optional(
    nullable(
      Type.Number({
        minimum: 0.01,
        maximum: 10000,
        description:
          'requests spaced at least 1/rate seconds apart (fractions allowed: 0.5 = one every 2 s); excess waits, ' +
          'nothing is dropped; default null: unlimited',
      }),
    ),
  ),
  ordering: Type.Optional(
    Type.Enum(['unordered', 'fifo'], {
      description: 'fifo: one delivery in flight at a time, in publish order; default unordered',
    }),
  ),
  failureEmail: Type.Optional(nullable(Type.String({ format: 'email', maxLength: 254 }))),
  language: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$',
      maxLength: 35,
      description: 'BCP 47 language tag sent as content-language; default en-US',
    }),
  ),
  enabled: Type.Optional(
    Type.Boolean({ description: 'input only: false creates or sets it disabled (disabledReason manual)' }),
  ),
  disableAfterFailures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 10' })),
};

const SubscriptionName = Text({ minLength: 1, maxLength: 128, description: 'unique within the topic' });
const Url = Text({
  minLength: 1,
  maxLength: 2048,
  description:
    'http(s) URL; private addresses refused (SPEC §7). On herald.operational, the key that sets it decides what the ' +
    'subscription receives: events about the topics that key may see',
});

export const CreateSubscriptionBody = Type.Object({ name: SubscriptionName, url: Url, ...fields }, strict);

export const UpdateSubscriptionBody = Type.Object(
  {
    version: Type.Optional(Type.Integer({ minimum: 1, description: 'the current version (required: 409 otherwise)' })),
    name: Type.Optional(SubscriptionName),
    url: Type.Optional(Url),
    ...fields,
  },
  strict,
);

export const RotateSecretBody = Type.Object(
  {
    signingSecret: Type.Optional(
      Type.String({ maxLength: 200, description: 'whsec_ + base64 of 24..64 bytes; default a fresh one' }),
    ),
  },
  strict,
);

export const TestSendBody = Type.Object(
  { type: Name, data: Type.Optional(Json) },
  { ...strict, description: 'type: an event type of the topic; data: any JSON (default null)' },
);

export const SubscriptionListQuery = Type.Object(
  {
    ...PageQuery,
    topic: Type.Optional(Name),
    customId: Type.Optional(Text({ minLength: 1, maxLength: 256 })),
  },
  strict,
);
