/** Test-only: the costliest schemas and data the security tests send. */

/** Arrays nested `depth` deep: [[[…]]]. */
export const nestedArrays = (depth: number): unknown => (depth === 0 ? [] : [nestedArrays(depth - 1)]);

/**
 * Every level of the data is validated twice by each level above it (`oneOf` tries both
 * branches, and with allErrors both recurse into the items before the size check fails one):
 * 2^depth steps, whatever engine runs the patterns. Nested single-item arrays are valid, so
 * `nestedArrays(3)` passes quickly and `nestedArrays(40)` never finishes.
 */
export const EXPONENTIAL_SCHEMA = {
  $defs: {
    node: {
      oneOf: [
        { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 1 },
        { type: 'array', items: { $ref: '#/$defs/node' }, minItems: 2 },
      ],
    },
  },
  $ref: '#/$defs/node',
};

/** Catastrophic backtracking on a backtracking engine: 28 characters took 3 s, doubling with each one more. */
export const REDOS_SCHEMA = { type: 'string', pattern: '(a+)+$' };

/** A string that `REDOS_SCHEMA`'s pattern almost matches. */
export const almostMatching = (length: number): string => `${'a'.repeat(length)}!`;
