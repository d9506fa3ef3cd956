import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { HERALD_HEADERS, headerNameProblem, headerValueProblem } from './webhook-headers.ts';

describe('headerNameProblem', () => {
  it('refuses every header name undici refuses to send', async () => {
    // undici checks headers before it connects: port 1 is never reached.
    for (const name of ['keep-alive', 'upgrade', 'expect', 'transfer-encoding', 'Keep-Alive']) {
      const sent = request('http://127.0.0.1:1/', { method: 'POST', headers: { [name]: 'x' } });
      await assert.rejects(sent, /header/, name);
      assert.notEqual(headerNameProblem(name), null, name);
    }
  });

  it('refuses the headers Herald sets, the connection and proxy ones, and names that are not tokens', () => {
    for (const name of [...HERALD_HEADERS, 'Host', 'content-length', 'connection', 'te', 'trailer', 'proxy-x']) {
      assert.notEqual(headerNameProblem(name), null, name);
    }
    assert.match(headerNameProblem('Webhook-Signature') ?? '', /set by Herald/);
    assert.match(headerNameProblem('x y') ?? '', /not a valid HTTP header name/);
    for (const name of ['Authorization', 'X-Tenant', 'x-proxy-id', 'tea', 'Expected-By']) {
      assert.equal(headerNameProblem(name), null, name);
    }
  });
});

describe('headerValueProblem', () => {
  it('accepts what undici sends (visible ASCII, Latin-1, spaces, tabs) and names what it refuses', () => {
    for (const value of ['', 'Bearer abc', 'a\tb', 'Zoë Müller ÿ']) {
      assert.equal(headerValueProblem(value), null, value);
    }
    for (const value of ['a\r\nb', 'a\u0000', 'a\u007f', '5 €', '✓']) {
      assert.match(headerValueProblem(value) ?? '', /only visible ASCII or Latin-1 characters/, value);
    }
  });
});
