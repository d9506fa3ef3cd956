import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { isValidSigningSecret, newSigningSecret, signatureHeader, signPayload, verifySignature } from './sign.ts';

const BODIES = [
  '{"specversion":"1.0","id":"evt_1","type":"customer.created","data":{"name":"Zoë 🚀"}}',
  '""',
  '[{"a":1},{"b":[1,2,{"c":"\\u0000\\n"}]}]',
  JSON.stringify({ big: 'x'.repeat(100_000) }),
];

const nowSeconds = () => Math.floor(Date.now() / 1000);

function webhookHeaders(id: string, timestamp: number, signature: string) {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
}

function svixHeaders(id: string, timestamp: number, signature: string) {
  return { 'svix-id': id, 'svix-timestamp': String(timestamp), 'svix-signature': signature };
}

describe('signing secrets', () => {
  it('newSigningSecret is whsec_ + base64 of 32 random bytes, and valid', () => {
    const secret = newSigningSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(secret.slice(6), 'base64').length, 32);
    assert.ok(isValidSigningSecret(secret));
    assert.notEqual(newSigningSecret(), secret);
  });

  it('isValidSigningSecret wants the prefix and 24..64 bytes of canonical base64', () => {
    const of = (n: number) => `whsec_${randomBytes(n).toString('base64')}`;
    assert.ok(isValidSigningSecret(of(24)));
    assert.ok(isValidSigningSecret(of(64)));
    assert.ok(!isValidSigningSecret(of(23)));
    assert.ok(!isValidSigningSecret(of(65)));
    assert.ok(!isValidSigningSecret(randomBytes(32).toString('base64')));
    assert.ok(!isValidSigningSecret('whsec_'));
    assert.ok(!isValidSigningSecret(`whsec_${'!'.repeat(44)}`));
    assert.ok(!isValidSigningSecret(`${of(32)} `));
    assert.ok(!isValidSigningSecret(of(32).slice(0, -1)));
  });
});

describe('signPayload and signatureHeader', () => {
  it('match the reference signing of the standardwebhooks package', () => {
    const secret = newSigningSecret();
    const ts = nowSeconds();
    assert.equal(
      signPayload(secret, 'msg_1', ts, BODIES[0] as string),
      new StandardWebhook(secret).sign('msg_1', new Date(ts * 1000), BODIES[0] as string),
    );
  });

  it('every signature verifies with standardwebhooks and svix', () => {
    for (const body of BODIES) {
      const secret = newSigningSecret();
      const ts = nowSeconds();
      const signature = signatureHeader([secret], 'evt_01J', ts, body);
      assert.doesNotThrow(() => new StandardWebhook(secret).verify(body, webhookHeaders('evt_01J', ts, signature)));
      assert.doesNotThrow(() => new SvixWebhook(secret).verify(body, svixHeaders('evt_01J', ts, signature)));
      assert.doesNotThrow(() => new SvixWebhook(secret).verify(body, webhookHeaders('evt_01J', ts, signature)));
      assert.ok(verifySignature(secret, { id: 'evt_01J', timestamp: String(ts), signature }, body, ts));
    }
  });

  it('a two-secret header (rotation) verifies with either secret alone', () => {
    const oldSecret = newSigningSecret();
    const newSecret = newSigningSecret();
    const ts = nowSeconds();
    const body = BODIES[0] as string;
    const signature = signatureHeader([newSecret, oldSecret], 'evt_rot', ts, body);
    assert.equal(signature.split(' ').length, 2);
    for (const secret of [oldSecret, newSecret]) {
      assert.doesNotThrow(() => new StandardWebhook(secret).verify(body, webhookHeaders('evt_rot', ts, signature)));
      assert.doesNotThrow(() => new SvixWebhook(secret).verify(body, svixHeaders('evt_rot', ts, signature)));
      assert.ok(verifySignature(secret, { id: 'evt_rot', timestamp: String(ts), signature }, body, ts));
    }
    const stranger = newSigningSecret();
    assert.throws(() => new StandardWebhook(stranger).verify(body, webhookHeaders('evt_rot', ts, signature)));
    assert.ok(!verifySignature(stranger, { id: 'evt_rot', timestamp: String(ts), signature }, body, ts));
  });
});

describe('verifySignature', () => {
  const secret = newSigningSecret();
  const body = BODIES[0] as string;
  const ts = 1_750_000_000;
  const signature = signPayload(secret, 'evt_1', ts, body);
  const headers = { id: 'evt_1', timestamp: String(ts), signature };

  it('accepts the genuine message, within tolerance either way', () => {
    assert.ok(verifySignature(secret, headers, body, ts));
    assert.ok(verifySignature(secret, headers, body, ts + 300));
    assert.ok(verifySignature(secret, headers, body, ts - 300));
  });

  it('rejects a tampered body, id or timestamp', () => {
    assert.ok(!verifySignature(secret, headers, body.replace('Zoë', 'Zoe'), ts));
    assert.ok(!verifySignature(secret, headers, `${body} `, ts));
    assert.ok(!verifySignature(secret, { ...headers, id: 'evt_2' }, body, ts));
    assert.ok(!verifySignature(secret, { ...headers, timestamp: String(ts + 1) }, body, ts));
  });

  it('rejects the wrong secret', () => {
    assert.ok(!verifySignature(newSigningSecret(), headers, body, ts));
  });

  it('rejects timestamps outside the tolerance, and malformed ones', () => {
    assert.ok(!verifySignature(secret, headers, body, ts + 301));
    assert.ok(!verifySignature(secret, headers, body, ts - 301));
    assert.ok(verifySignature(secret, headers, body, ts + 3000, 3600));
    for (const timestamp of ['', 'abc', '-1', '1.5', `${ts}x`]) {
      assert.ok(!verifySignature(secret, { ...headers, timestamp }, body, ts), timestamp);
    }
  });

  it('ignores unknown versions and malformed entries but accepts a later valid v1', () => {
    const sig = signature.slice(3);
    assert.ok(!verifySignature(secret, { ...headers, signature: `v2,${sig}` }, body, ts));
    assert.ok(!verifySignature(secret, { ...headers, signature: sig }, body, ts));
    assert.ok(!verifySignature(secret, { ...headers, signature: '' }, body, ts));
    assert.ok(verifySignature(secret, { ...headers, signature: `v1a,xyz v1,AAAA ${signature}` }, body, ts));
  });
});
