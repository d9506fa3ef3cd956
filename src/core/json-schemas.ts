/**
 * User JSON Schemas (draft 2020-12) of event types: checked on registration, compiled once per
 * (environment, type, schemaVersion) and cached.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { DRAFT_2020_12 } from '../domain/schema-inference.ts';
import type { JsonObject, JsonValue } from '../domain/types.ts';
import type { FieldProblem } from '../errors.ts';

// addUsedSchema: false keeps one environment's `$id`s out of another's way in the shared instance.
// ownProperties: a property named "toString" or "constructor" is only checked when the payload
// has it, never against what every object inherits.
const ajv = new Ajv2020({
  strict: false,
  allErrors: true,
  addUsedSchema: false,
  validateFormats: true,
  ownProperties: true,
});
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

const CACHE_LIMIT = 2000;
const compiled = new Map<string, ValidateFunction>();

/** Problems that make `schema` unusable (not a valid draft 2020-12 schema, or not compilable). */
export function checkSchema(schema: JsonValue, path: string): FieldProblem[] {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    if (typeof schema === 'boolean') return [];
    return [{ path, message: 'must be a JSON Schema object' }];
  }
  // ajv throws (an internal error) on a `$schema` it has no meta-schema for: say so instead.
  const declared = schema.$schema;
  if (declared !== undefined && declared !== DRAFT_2020_12 && declared !== `${DRAFT_2020_12}#`) {
    return [{ path: `${path}/$schema`, message: `must be ${DRAFT_2020_12} (only draft 2020-12 is supported)` }];
  }
  const metaValid = ajv.validateSchema(schema) as boolean;
  if (!metaValid) return problemsOf(ajv.errors ?? [], path);
  try {
    ajv.compile(schema);
    return [];
  } catch (error) {
    return [{ path, message: `is not a usable JSON Schema: ${(error as Error).message}` }];
  }
}

function validatorFor(cacheKey: string, schema: JsonObject): ValidateFunction {
  let validate = compiled.get(cacheKey);
  if (!validate) {
    validate = ajv.compile(schema);
    if (compiled.size >= CACHE_LIMIT) compiled.delete(compiled.keys().next().value as string);
    compiled.set(cacheKey, validate);
  }
  return validate;
}

/**
 * Problems of `value` against `schema`, each path prefixed with `path`. `cacheKey` must change
 * whenever the schema does (it carries the schema version).
 */
export function validateAgainst(cacheKey: string, schema: JsonObject, value: unknown, path: string): FieldProblem[] {
  const validate = validatorFor(cacheKey, schema);
  if (validate(value)) return [];
  return problemsOf(validate.errors ?? [], path);
}

export function problemsOf(errors: readonly ErrorObject[], prefix: string): FieldProblem[] {
  return errors.map((e) => {
    const params = e.params as Record<string, unknown>;
    let path = prefix + e.instancePath;
    if (e.keyword === 'required') path += `/${String(params.missingProperty)}`;
    if (e.keyword === 'additionalProperties') path += `/${String(params.additionalProperty)}`;
    return { path, message: e.message ?? 'is not valid' };
  });
}

/** Problems of `value` against a schema not yet stored (compiled once, not cached). */
export function validateOnce(schema: JsonObject, value: unknown, path: string): FieldProblem[] {
  const validate = ajv.compile(schema);
  return validate(value) ? [] : problemsOf(validate.errors ?? [], path);
}
