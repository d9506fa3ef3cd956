import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CloudEvent, HTTP } from 'cloudevents';
import { type RenderInput, renderBody } from './render.ts';

const TIME = Date.UTC(2025, 4, 6, 7, 8, 9, 123);

function input(overrides: Partial<RenderInput['event']> = {}, rest: Partial<RenderInput> = {}): RenderInput {
  return {
    event: {
      id: 'evt_01JABC',
      type: 'customer.created',
      source: null,
      subject: null,
      time: TIME,
      dataJson: '{"name":"Ada","tags":["a","b"]}',
      context: ['context.region.3'],
      ...overrides,
    },
    topic: 'customers',
    environmentId: 'env_01JXYZ',
    format: 'cloudevents',
    ...rest,
  };
}

function parse(rendered: { body: string; contentType: string }): CloudEvent<unknown> {
  const event = HTTP.toEvent({ headers: { 'content-type': rendered.contentType }, body: rendered.body });
  assert.ok(!Array.isArray(event), 'one event, not a batch');
  return event as CloudEvent<unknown>;
}

describe('renderBody: cloudevents', () => {
  it('is structured CloudEvents 1.0 that the SDK accepts', () => {
    const rendered = renderBody(input());
    assert.equal(rendered.contentType, 'application/cloudevents+json; charset=utf-8');
    const event = parse(rendered);
    assert.equal(event.specversion, '1.0');
    assert.equal(event.id, 'evt_01JABC');
    assert.equal(event.type, 'customer.created');
    assert.equal(event.source, '/environments/env_01JXYZ/topics/customers');
    assert.equal(event.subject, undefined);
    assert.equal(event.datacontenttype, 'application/json');
    assert.equal(new Date(event.time as string).getTime(), TIME);
    assert.deepEqual(event.data, { name: 'Ada', tags: ['a', 'b'] });
    assert.equal(event.topic, 'customers');
    assert.equal(event.environment, 'env_01JXYZ');
  });

  it('writes time as RFC 3339 and omits subject when null', () => {
    const parsed = JSON.parse(renderBody(input()).body) as Record<string, unknown>;
    assert.equal(parsed.time, '2025-05-06T07:08:09.123Z');
    assert.ok(!('subject' in parsed));
    assert.deepEqual(Object.keys(parsed), [
      'specversion',
      'id',
      'source',
      'type',
      'time',
      'datacontenttype',
      'data',
      'topic',
      'environment',
    ]);
  });

  it("keeps the publisher's source and subject", () => {
    const event = parse(renderBody(input({ source: 'https://crm.example/accounts', subject: 'cust/42 "x"' })));
    assert.equal(event.source, 'https://crm.example/accounts');
    assert.equal(event.subject, 'cust/42 "x"');
  });

  it('embeds dataJson verbatim: unicode, escapes, nesting and number formatting survive byte-exact', () => {
    const dataJson =
      '{ "name" : "Zoë 🚀 日本語", "esc":"\\u00e9\\n\\"q\\"", "n": 1.50, ' +
      '"deep": {"a":[1,[2,[3,{"b":null}]]]}, "big": 12345678901234567890 }';
    const rendered = renderBody(input({ dataJson }));
    assert.ok(rendered.body.includes(`"data":${dataJson},`));
    assert.ok(Buffer.from(rendered.body, 'utf8').includes(Buffer.from(dataJson, 'utf8')));
    const event = parse(rendered);
    assert.deepEqual(event.data, JSON.parse(dataJson));
    assert.equal((event.data as { name: string }).name, 'Zoë 🚀 日本語');
  });

  it('accepts any JSON value as data', () => {
    for (const dataJson of ['null', '42', '"text"', '[1,2]', 'true']) {
      assert.deepEqual(parse(renderBody(input({ dataJson }))).data ?? null, JSON.parse(dataJson), dataJson);
    }
  });

  it('uses the transform result in place of data', () => {
    const event = parse(renderBody(input({}, { transformed: '{"renamed":true}' })));
    assert.deepEqual(event.data, { renamed: true });
  });

  it('escapes ids, types and topics that need it', () => {
    const parsed = JSON.parse(
      renderBody(input({ id: 'a"b\\c', type: 'entity:employees:created' }, { topic: 'x.y-z' })).body,
    ) as Record<string, unknown>;
    assert.equal(parsed.id, 'a"b\\c');
    assert.equal(parsed.type, 'entity:employees:created');
    assert.equal(parsed.source, '/environments/env_01JXYZ/topics/x.y-z');
  });
});

describe('renderBody: data', () => {
  it('is the bare data as application/json', () => {
    const rendered = renderBody(input({}, { format: 'data' }));
    assert.deepEqual(rendered, { body: '{"name":"Ada","tags":["a","b"]}', contentType: 'application/json' });
  });

  it('is the transform result when there is one', () => {
    assert.equal(renderBody(input({}, { format: 'data', transformed: '[1, 2]' })).body, '[1, 2]');
  });
});
