/**
 * Infers a JSON Schema (draft 2020-12) from one sample payload, for
 * `POST /v1/event-types/generate-schema`. Every key seen is required; array items are merged
 * (an object key is required only when every item has it); strings get a `format` when the
 * sample is unmistakably a date-time, date, email, uri or uuid.
 */
import { fullFormats } from 'ajv-formats/dist/formats.js';
import type { JsonObject, JsonValue } from './types.ts';

export const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

type Schema = { [key: string]: JsonValue };

// A string gets a format when it looks unmistakably like one (these patterns) AND ajv-formats'
// own "full" check accepts it (calendar days, leap seconds, URI syntax), so the sample always
// validates against the schema inferred from it.
const FORMATS: [string, RegExp][] = [
  ['date-time', /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):?[0-5]\d)$/],
  ['date', /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/],
  ['email', /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i],
  ['uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i],
  ['uri', /^[a-z][a-z0-9+.-]*:\/\/[^\s/?#]+[^\s]*$/i],
];

function ajvAccepts(format: string, value: string): boolean {
  const definition = (fullFormats as Record<string, unknown>)[format];
  const check =
    typeof definition === 'object' && definition !== null && 'validate' in definition ? definition.validate : definition;
  if (check instanceof RegExp) return check.test(value);
  if (typeof check === 'function') return (check as (s: string) => boolean)(value) === true;
  return false;
}

function formatOf(value: string): string | undefined {
  return FORMATS.find(([format, pattern]) => pattern.test(value) && ajvAccepts(format, value))?.[0];
}

function inferValue(value: JsonValue): Schema {
  if (value === null) return { type: 'null' };
  if (Array.isArray(value)) return inferArray(value);
  switch (typeof value) {
    case 'boolean':
      return { type: 'boolean' };
    case 'number':
      return { type: Number.isInteger(value) ? 'integer' : 'number' };
    case 'string': {
      const format = formatOf(value);
      return format ? { type: 'string', format } : { type: 'string' };
    }
    default:
      return inferObject(value);
  }
}

function inferObject(value: JsonObject): Schema {
  const properties: Schema = {};
  for (const [key, child] of Object.entries(value)) properties[key] = inferValue(child);
  return { type: 'object', properties, required: Object.keys(value) };
}

function inferArray(items: JsonValue[]): Schema {
  if (items.length === 0) return { type: 'array', items: {} };
  return { type: 'array', items: items.map(inferValue).reduce(merge) };
}

/** The narrowest schema both samples satisfy. */
function merge(a: Schema, b: Schema): Schema {
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  if (a.type === 'object' && b.type === 'object') {
    const pa = a.properties as Schema;
    const pb = b.properties as Schema;
    const properties: Schema = {};
    for (const key of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
      // Own properties only: a key such as "toString" or "constructor" must not find Object's.
      const left = Object.hasOwn(pa, key) ? (pa[key] as Schema) : undefined;
      const right = Object.hasOwn(pb, key) ? (pb[key] as Schema) : undefined;
      properties[key] = left && right ? merge(left, right) : ((left ?? right) as Schema);
    }
    const requiredB = new Set(b.required as string[]);
    return { type: 'object', properties, required: (a.required as string[]).filter((k) => requiredB.has(k)) };
  }
  if (a.type === 'array' && b.type === 'array') {
    return { type: 'array', items: merge(a.items as Schema, b.items as Schema) };
  }
  const numeric = new Set(['integer', 'number']);
  if (numeric.has(a.type as string) && numeric.has(b.type as string)) return { type: 'number' };
  if (a.type === 'string' && b.type === 'string') return { type: 'string' }; // formats disagree
  const alternatives = [...(a.anyOf as Schema[] | undefined) ?? [a], ...(b.anyOf as Schema[] | undefined) ?? [b]];
  const unique = alternatives.filter(
    (s, i) => alternatives.findIndex((t) => JSON.stringify(t) === JSON.stringify(s)) === i,
  );
  return { anyOf: unique };
}

export function inferSchema(example: JsonValue): JsonObject {
  return { $schema: DRAFT_2020_12, ...inferValue(example) };
}
