import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeSecretBox } from './secret-box.ts';

test('with a key, secrets are sealed (not readable) and open back', () => {
  const box = makeSecretBox('correct horse battery staple');
  const sealed = box.seal('whsec_abc');
  assert.doesNotMatch(sealed, /whsec_abc/);
  assert.match(sealed, /^enc:v1:/);
  assert.notEqual(box.seal('whsec_abc'), sealed, 'a fresh IV each time');
  assert.equal(box.open(sealed), 'whsec_abc');
});

test('a wrong key cannot open, and tampering is detected', () => {
  const sealed = makeSecretBox('one').seal('whsec_abc');
  assert.throws(() => makeSecretBox('two').open(sealed));
  const tampered = `${sealed.slice(0, -2)}AA`;
  assert.throws(() => makeSecretBox('one').open(tampered));
  assert.throws(() => makeSecretBox(null).open(sealed), /HERALD_ENCRYPTION_KEY/);
});

test('without a key values pass through, and plain values stay readable once a key is set', () => {
  assert.equal(makeSecretBox(null).seal('whsec_abc'), 'whsec_abc');
  assert.equal(makeSecretBox('k').open('whsec_abc'), 'whsec_abc');
});
