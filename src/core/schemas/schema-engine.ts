/**
 * Tenants' JSON Schemas (draft 2020-12) checked and applied by Ajv, with the two changes that
 * keep a hostile schema's cost linear in its input:
 * - `pattern` and `patternProperties` run on RE2 (re2-wasm), which never backtracks; a pattern
 *   RE2 cannot run (lookaround, backreferences) makes the schema unusable;
 * - `uniqueItems` compares canonical texts in a Map (Ajv's own compares every pair).
 * What is left (recursive `oneOf` over deep data, huge schemas) is bounded in time by the thread
 * this runs on (schema-threads.ts), which is killed when a job overruns.
 *
 * One engine holds its compiled validators until its thread retires; nothing here is shared
 * across threads, and nothing outlives the engine.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { RE2 } from 're2-wasm';
import { DRAFT_2020_12 } from '../../domain/schema-inference.ts';
import type { JsonValue } from '../../domain/types.ts';
import type { FieldProblem } from '../../errors.ts';
import { canonicalJson } from './canonical-json.ts';

/** Data to validate: the event's `data` as JSON text, and where problems are reported. */
export type ValidationItem = [dataJson: string, path: string];

/** Items that share one schema, cached under `key`; `schemaJson` is sent when not yet cached. */
export interface ValidationGroup {
  key: string;
  schemaJson?: string;
  items: ValidationItem[];
}

const RE2_HINT = 'patterns run on RE2, which has no lookaround or backreferences';

/** Ajv's regular-expression engine: RE2 in Unicode mode (Ajv passes "u"; RE2 requires it). */
const re2Engine = Object.assign((pattern: string, flags: string) => new RE2(pattern, flags.includes('u') ? flags : `${flags}u`), {
  code: 'RE2',
});

function uniqueItems(this: unknown, schema: boolean, data: unknown[]): boolean {
  if (!schema) return true;
  const seen = new Map<string, number>();
  for (let i = 0; i < data.length; i++) {
    const text = canonicalJson(data[i]);
    const first = seen.get(text);
    if (first !== undefined) {
      uniqueItems.errors = [
        {
          keyword: 'uniqueItems',
          message: `must NOT have duplicate items (items ## ${i} and ${first} are identical)`,
          params: { i, j: first },
        },
      ];
      return false;
    }
    seen.set(text, i);
  }
  return true;
}
uniqueItems.errors = [] as Partial<ErrorObject>[];

function makeAjv(): Ajv2020 {
  // addUsedSchema: false keeps one environment's `$id`s out of another's way in the shared instance.
  // ownProperties: a property named "toString" or "constructor" is only checked when the payload
  // has it, never against what every object inherits.
  // optimize: false: Ajv's optimising passes made compiling a 1,000-property schema 3-5x slower,
  // and compile time is what a large schema costs most.
  const ajv = new Ajv2020({
    strict: false,
    allErrors: true,
    addUsedSchema: false,
    validateFormats: true,
    ownProperties: true,
    code: { regExp: re2Engine, optimize: false },
  });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword({ keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: true, validate: uniqueItems });
  return ajv;
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

function unusable(error: unknown, path: string): FieldProblem {
  const message = (error as Error).message;
  const hint = message.startsWith('Invalid regular expression') ? ` (${RE2_HINT})` : '';
  return { path, message: `is not a usable JSON Schema: ${message}${hint}` };
}

/**
 * Compiled and run once when an engine is built: the first pattern loads RE2's WebAssembly and
 * the first compile warms Ajv's code paths (together tens of ms), which would otherwise fall on
 * a tenant's first job and count against its time limit.
 */
const WARM_UP_SCHEMA = { type: 'object', properties: { a: { type: 'string', pattern: '^[a-z]+$', format: 'email' } } };

export class SchemaEngine {
  readonly #ajv = makeAjv();
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor() {
    this.check(WARM_UP_SCHEMA, { a: 'warm' });
  }

  /**
   * Problems that make `schema` unusable (not a valid draft 2020-12 schema, or not compilable) at
   * `/schema`; when it is usable and an example is given, the example's problems at `/example`.
   * Nothing is cached: the schema is not stored yet.
   */
  check(schema: JsonValue, example: JsonValue | undefined): FieldProblem[] {
    if (typeof schema === 'boolean') return [];
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      return [{ path: '/schema', message: 'must be a JSON Schema object' }];
    }
    // ajv throws (an internal error) on a `$schema` it has no meta-schema for: say so instead.
    const declared = schema.$schema;
    if (declared !== undefined && declared !== DRAFT_2020_12 && declared !== `${DRAFT_2020_12}#`) {
      return [{ path: '/schema/$schema', message: `must be ${DRAFT_2020_12} (only draft 2020-12 is supported)` }];
    }
    if (!(this.#ajv.validateSchema(schema) as boolean)) return problemsOf(this.#ajv.errors ?? [], '/schema');
    // Ajv keeps what it compiled (its cache, its shared scope) for the instance's life, which ends
    // with the thread's: removeSchema would not free the scope, and given a schema whose `$id` is
    // a meta-schema's it would remove that meta-schema for every later schema.
    let validate: ValidateFunction;
    try {
      validate = this.#ajv.compile(schema);
    } catch (error) {
      return [unusable(error, '/schema')];
    }
    if (example === undefined || validate(example)) return [];
    return problemsOf(validate.errors ?? [], '/example');
  }

  /** Whether `key` is compiled here: the caller then need not send its schema. */
  has(key: string): boolean {
    return this.#compiled.has(key);
  }

  /** Problems of every item of every group; a group whose schema is neither cached nor sent is an error. */
  validate(groups: readonly ValidationGroup[]): FieldProblem[] {
    const problems: FieldProblem[] = [];
    for (const group of groups) {
      const validate = this.#validatorFor(group);
      for (const [dataJson, path] of group.items) {
        if (!validate(JSON.parse(dataJson))) problems.push(...problemsOf(validate.errors ?? [], path));
      }
    }
    return problems;
  }

  #validatorFor(group: ValidationGroup): ValidateFunction {
    let validate = this.#compiled.get(group.key);
    if (validate) return validate;
    if (group.schemaJson === undefined) throw new Error(`schema ${group.key} is not compiled here and was not sent`);
    validate = this.#ajv.compile(JSON.parse(group.schemaJson));
    this.#compiled.set(group.key, validate);
    return validate;
  }
}
