import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonDepthExceeds } from './json-body.ts';

/** The definition: a character at a time, `\` skipping the next character inside strings. */
function depthExceedsSlowly(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (++depth > limit) return true;
    } else if (c === '}' || c === ']') depth--;
  }
  return false;
}

test('brackets inside strings, escaped quotes and backslash runs do not count', () => {
  assert.equal(jsonDepthExceeds('{"a":"[[[[[["}', 1), false);
  assert.equal(jsonDepthExceeds('{"a":"\\"[[[["}', 1), false);
  assert.equal(jsonDepthExceeds('{"a":"\\\\",[[]]}', 2), true);
  assert.equal(jsonDepthExceeds('{"a":"\\\\\\"[["}', 1), false);
  assert.equal(jsonDepthExceeds(`${'['.repeat(65)}${']'.repeat(65)}`, 64), true);
  assert.equal(jsonDepthExceeds(`${'['.repeat(64)}${']'.repeat(64)}`, 64), false);
  assert.equal(jsonDepthExceeds('"unterminated [[[', 0), false);
});

test('agrees with the character-at-a-time definition on every short text of JSON punctuation', () => {
  const alphabet = ['[', ']', '{', '}', '"', '\\', 'a'];
  // Every text of up to 6 characters over the alphabet: 7^6 ≈ 118,000 texts, each at limits 0..3.
  const texts = [''];
  for (let length = 1; length <= 6; length++) {
    for (const text of texts.filter((t) => t.length === length - 1)) for (const c of alphabet) texts.push(text + c);
  }
  for (const text of texts) {
    for (let limit = 0; limit <= 3; limit++) {
      assert.equal(jsonDepthExceeds(text, limit), depthExceedsSlowly(text, limit), `${JSON.stringify(text)} at ${limit}`);
    }
  }
});
