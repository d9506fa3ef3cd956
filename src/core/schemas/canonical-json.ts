/**
 * One text per JSON value that JSON Schema calls equal: object keys sorted, numbers by value
 * (1, 1.0 and -0/0 alike), strings quoted so that "1" and 1 differ. Linear in the value's size
 * (plus sorting each object's keys), which lets `uniqueItems` find duplicates with a Map.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`).join(',')}}`;
}
