import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CloudEvent, HTTP } from 'cloudevents';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import type { StoredEvent, Subscription } from '../domain/types.ts';
import { newId } from '../ids.ts';
import { buildBatchRequest } from './batch-request.ts';
import { renderBody } from './render.ts';
import { buildRequest, type DeliveryRequest } from './request.ts';
import { newSigningSecret } from './sign.ts';
import { testSubscription } from '../testing/test-store.ts';

const ENV = 'env_01JXYZ';
const USER_AGENT = 'Herald/9.9.9';
const T0 = Date.UTC(2025, 4, 6, 7, 8, 9, 123);

function subscription(overrides: Partial<Subscription> = {}): Subscription {
  return testSubscription({
    id: 'sub_01J',
    topic: 'customers',
    name: 'crm',
    url: 'https://receiver.example/hook',
    headers: { 'x-tenant': 'acme' },
    secretHeaderName: 'X-Static-Secret',
    secretHeaderValue: 's3cret',
    language: 'fr-CA',
    signingSecret: newSigningSecret(),
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  });
}

function event(i: number, overrides: Partial<StoredEvent> = {}): StoredEvent {
  return {
    id: `evt_${i}`,
    type: 'customer.created',
    source: null,
    subject: null,
    time: T0 + i,
    dataJson: `{"n":${i}}`,
    context: [],
    topic: 'customers',
    deliverAt: T0,
    cancelledAt: null,
    createdAt: T0,
    ...overrides,
  };
}

function batch(sub: Subscription, events: StoredEvent[], nowMs = Date.now()): DeliveryRequest {
  return buildBatchRequest({
    subscription: sub,
    events,
    environmentId: ENV,
    batchId: 'bat_01JBATCH',
    nowMs,
    userAgent: USER_AGENT,
  });
}

function parseBatch(request: DeliveryRequest): CloudEvent<unknown>[] {
  const parsed = HTTP.toEvent({ headers: request.headers, body: request.body });
  assert.ok(Array.isArray(parsed), 'a batch parses to an array of events');
  return parsed as CloudEvent<unknown>[];
}

/** The three Standard Webhooks headers of a request, under `webhook-*` or `svix-*` names. */
function signed(request: DeliveryRequest, prefix: 'webhook' | 'svix') {
  return {
    [`${prefix}-id`]: request.headers['webhook-id'] as string,
    [`${prefix}-timestamp`]: request.headers['webhook-timestamp'] as string,
    [`${prefix}-signature`]: request.headers['webhook-signature'] as string,
  };
}

describe('buildBatchRequest: cloudevents', () => {
  it('is a CloudEvents batch that the SDK parses into the events, in order', () => {
    const events = [
      event(3, { dataJson: '{"name":"Zoë 🚀","n":1.50}' }),
      event(1, { source: 'https://crm.example/accounts', subject: 'cust/42 "x"', type: 'customer.updated' }),
      event(2, { dataJson: '"just text"' }),
      event(0, { dataJson: 'null' }),
    ];
    const request = batch(subscription(), events);
    assert.equal(request.headers['content-type'], 'application/cloudevents-batch+json; charset=utf-8');
    const parsed = parseBatch(request);
    assert.deepEqual(
      parsed.map((e) => e.id),
      ['evt_3', 'evt_1', 'evt_2', 'evt_0'],
    );
    for (const [i, ce] of parsed.entries()) {
      const stored = events[i] as StoredEvent;
      assert.equal(ce.specversion, '1.0');
      assert.equal(ce.type, stored.type);
      assert.equal(ce.source, stored.source ?? `/environments/${ENV}/topics/customers`);
      assert.equal(ce.subject, stored.subject ?? undefined);
      assert.equal(new Date(ce.time as string).getTime(), stored.time);
      assert.equal(ce.datacontenttype, 'application/json');
      assert.deepEqual(ce.data ?? null, JSON.parse(stored.dataJson));
      assert.equal(ce.topic, 'customers');
      assert.equal(ce.environment, ENV);
    }
    // The stored data is spliced in as it was written (1.50 stays 1.50).
    assert.ok(request.body.includes('"data":{"name":"Zoë 🚀","n":1.50}'));
  });

  it('each element is exactly what renderBody makes for that event alone', () => {
    const events = [event(1), event(2, { subject: 'two' })];
    const single = (e: StoredEvent) =>
      renderBody({ event: e, topic: 'customers', environmentId: ENV, format: 'cloudevents' }).body;
    assert.equal(batch(subscription(), events).body, `[${events.map(single).join(',')}]`);
  });

  it('uses transform results by position in place of data', () => {
    const request = buildBatchRequest({
      subscription: subscription(),
      events: [event(1), event(2)],
      environmentId: ENV,
      batchId: 'bat_1',
      nowMs: T0,
      userAgent: USER_AGENT,
      transformed: [undefined, '{"renamed":true}'],
    });
    assert.deepEqual(
      parseBatch(request).map((e) => e.data),
      [{ n: 1 }, { renamed: true }],
    );
  });
});

describe('buildBatchRequest: data', () => {
  it('is a JSON array of each data value, in order', () => {
    const values = ['"a string"', '42', '-1.5e3', 'null', '{"nested":{"list":[1,"two",null]}}', '[1,2]', 'true'];
    const request = batch(
      subscription({ format: 'data' }),
      values.map((dataJson, i) => event(i, { dataJson })),
    );
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.body, `[${values.join(',')}]`);
    assert.deepEqual(
      JSON.parse(request.body),
      values.map((v) => JSON.parse(v)),
    );
  });

  it('keeps the stored bytes and sends absent data as null', () => {
    const request = batch(subscription({ format: 'data' }), [
      event(1, { dataJson: '{ "price" : 1.50 }' }),
      event(2, { dataJson: '' }),
    ]);
    assert.equal(request.body, '[{ "price" : 1.50 },null]');
  });
});

describe('buildBatchRequest: headers and signature', () => {
  it('signs the whole body once per secret with the batch id; both verifiers accept it', () => {
    const sub = subscription();
    const request = batch(sub, [event(1), event(2), event(3)]);
    assert.equal(request.headers['webhook-id'], 'bat_01JBATCH');
    assert.equal(request.headers['webhook-signature']?.split(' ').length, 1);
    assert.doesNotThrow(() => new StandardWebhook(sub.signingSecret).verify(request.body, signed(request, 'webhook')));
    assert.doesNotThrow(() => new SvixWebhook(sub.signingSecret).verify(request.body, signed(request, 'svix')));
    assert.doesNotThrow(() => new SvixWebhook(sub.signingSecret).verify(request.body, signed(request, 'webhook')));
    // The signature covers the body: a receiver must reject a batch with an event dropped.
    const tampered = request.body.replace(/,\{"specversion[^]*\]$/, ']');
    assert.notEqual(tampered, request.body);
    assert.throws(() => new StandardWebhook(sub.signingSecret).verify(tampered, signed(request, 'webhook')));
  });

  it('while a rotated secret is still valid, either secret verifies; after it expires only the new one', () => {
    const now = Date.now();
    const oldSecret = newSigningSecret();
    const rotated = subscription({ previousSigningSecret: oldSecret, previousSecretExpiresAt: now + 60_000 });
    const request = batch(rotated, [event(1), event(2)], now);
    assert.equal(request.headers['webhook-signature']?.split(' ').length, 2);
    for (const secret of [rotated.signingSecret, oldSecret]) {
      assert.doesNotThrow(() => new StandardWebhook(secret).verify(request.body, signed(request, 'webhook')));
      assert.doesNotThrow(() => new SvixWebhook(secret).verify(request.body, signed(request, 'svix')));
    }
    const expired = batch({ ...rotated, previousSecretExpiresAt: now }, [event(1)], now);
    assert.equal(expired.headers['webhook-signature']?.split(' ').length, 1);
    assert.throws(() => new StandardWebhook(oldSecret).verify(expired.body, signed(expired, 'webhook')));
    const current = new StandardWebhook(rotated.signingSecret);
    assert.doesNotThrow(() => current.verify(expired.body, signed(expired, 'webhook')));
  });

  it('carries the same other headers as one event, and Herald’s own headers win over the subscription’s', () => {
    const sub = subscription({
      headers: { 'x-tenant': 'acme', 'webhook-id': 'spoofed', 'content-type': 'text/plain' },
    });
    const nowMs = T0 + 2500;
    const request = batch(sub, [event(1)], nowMs);
    const one = buildRequest({
      subscription: sub,
      event: event(1),
      environmentId: ENV,
      msgId: 'evt_1',
      nowMs,
      userAgent: USER_AGENT,
    });
    const differ = ['content-type', 'webhook-id', 'webhook-signature'];
    const without = (h: Record<string, string>) =>
      Object.fromEntries(Object.entries(h).filter(([name]) => !differ.includes(name)));
    assert.deepEqual(without(request.headers), without(one.headers));
    assert.deepEqual(without(request.headers), {
      'x-tenant': 'acme',
      'x-static-secret': 's3cret',
      'user-agent': USER_AGENT,
      'content-language': 'fr-CA',
      'webhook-timestamp': String(Math.floor(nowMs / 1000)),
    });
    assert.equal(request.headers['webhook-id'], 'bat_01JBATCH');
    assert.equal(request.headers['content-type'], 'application/cloudevents-batch+json; charset=utf-8');
    assert.equal(request.url, sub.url);
    assert.equal(request.timeoutMs, sub.timeoutMs);
  });

  it('takes a batch id made by newId("bat")', () => {
    const batchId = newId('bat');
    const request = buildBatchRequest({
      subscription: subscription(),
      events: [event(1)],
      environmentId: ENV,
      batchId,
      nowMs: Date.now(),
      userAgent: USER_AGENT,
    });
    assert.match(request.headers['webhook-id'] as string, /^bat_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(request.headers['webhook-id'], batchId);
  });
});

describe('buildBatchRequest: sizes', () => {
  it('a batch of one is an array of one', () => {
    const request = batch(subscription(), [event(7)]);
    const parsed = parseBatch(request);
    assert.equal(parsed.length, 1);
    assert.equal(parsed[0]?.id, 'evt_7');
    const data = batch(subscription({ format: 'data' }), [event(7)]);
    assert.equal(data.body, '[{"n":7}]');
  });

  it('a batch of 1000 keeps every event in order, and its body is the parts plus the commas and brackets', () => {
    const events = Array.from({ length: 1000 }, (_, i) => event(i));
    const request = batch(subscription(), events);
    const parsed = parseBatch(request);
    assert.equal(parsed.length, 1000);
    assert.deepEqual(
      parsed.map((e) => e.id),
      events.map((e) => e.id),
    );
    assert.deepEqual(
      parsed.map((e) => (e.data as { n: number }).n),
      events.map((_, i) => i),
    );
    const parts = events.map(
      (e) => renderBody({ event: e, topic: 'customers', environmentId: ENV, format: 'cloudevents' }).body.length,
    );
    assert.equal(request.body.length, parts.reduce((a, b) => a + b, 0) + 999 + 2);

    const data = batch(subscription({ format: 'data' }), events);
    const expected = events.reduce((sum, e) => sum + e.dataJson.length, 0) + 999 + 2;
    assert.equal(data.body.length, expected);
    assert.deepEqual(JSON.parse(data.body), events.map((_, i) => ({ n: i })));
  });

  it('refuses an empty batch, and transform results that do not match the events', () => {
    assert.throws(() => batch(subscription(), []), /at least one event/);
    assert.throws(
      () =>
        buildBatchRequest({
          subscription: subscription(),
          events: [event(1), event(2)],
          environmentId: ENV,
          batchId: 'bat_1',
          nowMs: T0,
          userAgent: USER_AGENT,
          transformed: ['1'],
        }),
      /2 events has 1 transform results/,
    );
  });
});
