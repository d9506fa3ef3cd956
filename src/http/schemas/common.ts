/** Request schema pieces shared by routes. One schema validates, types and documents (OpenAPI). */
import { Type } from 'typebox';
import { NAME_PATTERN } from '../../domain/names.ts';

export const Name = Type.String({ pattern: NAME_PATTERN, description: 'matches ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' });
/** Text that is stored as text: PostgreSQL cannot hold U+0000, so it is refused up front (400, not 500). */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';
export const Text = (options: { minLength?: number; maxLength: number; description?: string }) =>
  Type.String({ ...options, pattern: NO_NUL_PATTERN });
export const Description = Text({ maxLength: 1024 });
export const NullableDescription = Type.Union([Description, Type.Null()]);
export const Id = Text({ minLength: 1, maxLength: 128 });
export const Permission = Type.String({ minLength: 1, maxLength: 128 });
export const Permissions = Type.Array(Permission, { maxItems: 100 });
/** Any JSON value. */
export const Json = Type.Unknown();
export const JsonSchemaObject = Type.Object({}, { additionalProperties: true, description: 'a JSON Schema (draft 2020-12)' });

export const NameParams = Type.Object({ name: Name }, { additionalProperties: false });
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
export const TopicParams = Type.Object({ topic: Name }, { additionalProperties: false });

export const strict = { additionalProperties: false } as const;
