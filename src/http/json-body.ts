/**
 * The JSON body parser: Fastify's own, plus a nesting limit checked before parsing, because a
 * body of 100,000 nested brackets otherwise exhausts the stack in the validator (a 500).
 * Prototype-poisoning keys (`__proto__`, `constructor.prototype`) are refused, as Fastify does, and
 * so are numbers a double cannot hold unaltered (json-numbers.ts). Every request body goes through
 * here (schemas, examples, event data, filters), so these rules hold on every route.
 */
import type { FastifyInstance } from 'fastify';
import sjson from 'secure-json-parse';
import { HeraldError, invalid } from '../errors.ts';
import { findUnsafeNumbers } from './json-numbers.ts';

/** Deepest nesting of arrays/objects accepted in a request body. */
export const MAX_JSON_DEPTH = 64;

/**
 * Depth of bracket nesting, skipping string contents; stops counting once past `limit`. Strings are
 * jumped over with indexOf rather than read a character at a time: in a publish body most of the
 * text is inside strings, and this scan ran over every byte of every request.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // The closing quote is the next one preceded by an even run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return false;
        let backslashes = 0;
        while (text.charCodeAt(i - 1 - backslashes) === 92 /* \ */) backslashes++;
        if ((backslashes & 1) === 0) break;
      }
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new HeraldError('invalid_json', 'the body is empty but the content-type says JSON');
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new HeraldError('validation_failed', `the body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    throw new HeraldError('invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
  const unsafe = findUnsafeNumbers(text);
  const first = unsafe[0];
  if (first) {
    const where = first.path === '' ? 'the top level' : first.path;
    throw invalid(`a number at ${where} cannot be stored unaltered: ${first.message}`, unsafe);
  }
  return value;
}

export function useJsonBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parse = (_request: unknown, body: string, done: (error: Error | null, value?: unknown) => void) => {
    try {
      done(null, parseJsonBody(body));
    } catch (error) {
      done(error as Error, undefined);
    }
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parse);
  app.addContentTypeParser(/^application\/[a-z0-9.-]+\+json\s*(;.*)?$/i, { parseAs: 'string' }, parse);
}
