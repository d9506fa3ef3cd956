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
  return { type: 'array', items: items.length === 0 ? {} : mergeAll(items.map(inferValue)) };
}

/** What a schema describes, for merging: integers and numbers are one kind; `{}` is no information. */
function kindOf(schema: Schema): string {
  if (schema.type === 'integer') return 'number';
  return typeof schema.type === 'string' ? schema.type : 'any';
}

/**
 * The narrowest schema every sample's schema fits, in time linear in their total size (a sample
 * of thousands of objects with different keys is merged in one pass, never pairwise). Samples of
 * one kind merge into one schema: objects into one whose properties are merged per key and whose
 * required keys are those every object has, arrays into one whose items are merged, integers and
 * numbers into `number` (or `integer` when all are), strings keep a format all of them share.
 * Several kinds give `anyOf`, in the order each kind first appears. `{}` (the items of an empty
 * array) says nothing, so it counts only when nothing else is known.
 */
function mergeAll(schemas: readonly Schema[]): Schema {
  const byKind = new Map<string, Schema[]>();
  for (const schema of schemas) {
    for (const alternative of (schema.anyOf as Schema[] | undefined) ?? [schema]) {
      const kind = kindOf(alternative);
      const group = byKind.get(kind);
      if (group) group.push(alternative);
      else byKind.set(kind, [alternative]);
    }
  }
  if (byKind.size > 1) byKind.delete('any');
  const merged = [...byKind].map(([kind, group]) => mergeKind(kind, group));
  return merged.length === 1 ? (merged[0] as Schema) : { anyOf: merged };
}

function mergeKind(kind: string, group: readonly Schema[]): Schema {
  const first = group[0] as Schema;
  switch (kind) {
    case 'object': {
      const values = new Map<string, Schema[]>();
      const requiredBy = new Map<string, number>();
      for (const schema of group) {
        for (const [key, value] of Object.entries(schema.properties as Schema)) {
          const list = values.get(key);
          if (list) list.push(value as Schema);
          else values.set(key, [value as Schema]);
        }
        for (const key of schema.required as string[]) requiredBy.set(key, (requiredBy.get(key) ?? 0) + 1);
      }
      // Keys come from a Map, so one named "toString" or "constructor" is the sample's own, never
      // found on Object (request bodies with `__proto__` keys are refused before they get here).
      const properties: Schema = {};
      for (const [key, list] of values) properties[key] = mergeAll(list);
      const required = [...values.keys()].filter((key) => requiredBy.get(key) === group.length);
      return { type: 'object', properties, required };
    }
    case 'array':
      return { type: 'array', items: mergeAll(group.map((schema) => schema.items as Schema)) };
    case 'number':
      return { type: group.some((schema) => schema.type === 'number') ? 'number' : 'integer' };
    case 'string': {
      const format = first.format;
      return format !== undefined && group.every((schema) => schema.format === format) ? { type: 'string', format } : { type: 'string' };
    }
    default:
      return first;
  }
}

export function inferSchema(example: JsonValue): JsonObject {
  return { $schema: DRAFT_2020_12, ...inferValue(example) };
}
