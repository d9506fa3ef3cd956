import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnopenableSecretError, makeSecretBox } from './secret-box.ts';

/** Values a user may send that look like a stored form of the other kind. */
const LOOKALIKES = [
  'enc:v1:AAAA:BBBB:CCCC',
  `enc:v1:${'A'.repeat(16)}:${'A'.repeat(22)}:AAAA`,
  'plain:whsec_abc',
  'plain:',
  'enc:v1:',
  '',
];

function refuses(open: () => string, reason: RegExp, secret: string): void {
  assert.throws(open, (error: unknown) => {
    assert.ok(error instanceof UnopenableSecretError, String(error));
    assert.match(error.message, reason);
    if (secret !== '') assert.ok(!error.message.includes(secret), 'the message never holds the value');
    return true;
  });
}

test('with a key, secrets are sealed (not readable) and open back with that key only', () => {
  const box = makeSecretBox('correct horse battery staple');
  const sealed = box.seal('whsec_abc');
  assert.doesNotMatch(sealed, /whsec_abc/);
  assert.match(sealed, /^enc:v1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
  assert.notEqual(box.seal('whsec_abc'), sealed, 'a fresh IV each time');
  assert.equal(box.open(sealed), 'whsec_abc');
  refuses(() => makeSecretBox('another').open(sealed), /another key/, 'whsec_abc');
});

test('without a key, secrets are stored tagged plain: and open back', () => {
  const box = makeSecretBox(null);
  assert.equal(box.seal('whsec_abc'), 'plain:whsec_abc');
  assert.equal(box.open('plain:whsec_abc'), 'whsec_abc');
});

test('a value that looks like ciphertext or a tag is stored as what it is, with or without a key', () => {
  for (const key of [null, 'k']) {
    const box = makeSecretBox(key);
    for (const value of LOOKALIKES) {
      const stored = box.seal(value);
      assert.equal(box.open(stored), value, `${key} ${JSON.stringify(value)}`);
      if (key === null) assert.equal(stored, `plain:${value}`);
      else assert.doesNotMatch(stored, /^plain:/);
    }
  }
});

test('plain values stay readable once a key is set; encrypted ones need the key they were sealed with', () => {
  assert.equal(makeSecretBox('k').open(makeSecretBox(null).seal('whsec_abc')), 'whsec_abc');
  const sealed = makeSecretBox('one').seal('whsec_abc');
  refuses(() => makeSecretBox(null).open(sealed), /HERALD_ENCRYPTION_KEY is not set/, 'whsec_abc');
  refuses(() => makeSecretBox('two').open(sealed), /another key/, 'whsec_abc');
});

test('altered or malformed ciphertext is refused, never read as plaintext', () => {
  const box = makeSecretBox('one');
  const sealed = box.seal('whsec_abc');
  const [iv, tag, body] = sealed.slice('enc:v1:'.length).split(':') as [string, string, string];
  refuses(() => box.open(`${sealed.slice(0, -2)}AA`), /another key, or altered/, 'whsec_abc');
  for (const bad of [
    'enc:v1:AAAA:BBBB:CCCC',
    'enc:v1:',
    `enc:v1:${iv}:${tag}`,
    `enc:v1:${iv}:${tag}:${body}:extra`,
    `enc:v1:${iv}:${tag.slice(4)}:${body}`,
    `enc:v1:${iv.slice(4)}:${tag}:${body}`,
    `enc:v1:${iv}:${tag}:${body}!`,
  ]) {
    refuses(() => box.open(bad), /malformed/, 'whsec_abc');
  }
});

test('a stored value without a tag is refused whatever it looks like', () => {
  for (const key of [null, 'k']) {
    for (const stored of ['whsec_abc', 'ENC:V1:AAAA:BBBB:CCCC', 'Plain:x', '']) {
      refuses(() => makeSecretBox(key).open(stored), /no plain: or enc:v1: tag/, stored);
    }
  }
});
