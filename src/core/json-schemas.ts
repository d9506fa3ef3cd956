/**
 * User JSON Schemas (draft 2020-12) of event types: checked on registration, compiled once per
 * (environment, type, schemaVersion) and cached.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { JsonObject, JsonValue } from '../domain/types.ts';
import type { FieldProblem } from '../errors.ts';

// addUsedSchema: false keeps one environment's `$id`s out of another's way in the shared instance.
const ajv = new Ajv2020({ strict: false, allErrors: true, addUsedSchema: false, validateFormats: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

const CACHE_LIMIT = 2000;
const compiled = new Map<string, ValidateFunction>();

/** Problems that make `schema` unusable (not a valid draft 2020-12 schema, or not compilable). */
export function checkSchema(schema: JsonValue, path: string): FieldProblem[] {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    if (typeof schema === 'boolean') return [];
    return [{ path, message: 'must be a JSON Schema object' }];
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
