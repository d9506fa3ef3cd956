/**
 * Cost of the unsafe-number check (src/http/json-numbers.ts) on a ~1 MB publish body (500 events):
 * `node --import tsx bench/json-numbers.ts`. Compares parseJsonBody with the check against the
 * same steps without it (depth scan + parse), for a body with no long digit run, one with a
 * 16-digit id in a string near its end (the check then hops over every string before it), and
 * one whose computed doubles have 17 significant digits (a candidate in every event).
 * Figures are the fastest of many runs: the machine is shared, and the minimum is the least noisy.
 */
import sjson from 'secure-json-parse';
import { MAX_JSON_DEPTH, jsonDepthExceeds, parseJsonBody } from '../src/http/json-body.ts';
import { findUnsafeNumbers } from '../src/http/json-numbers.ts';

type Variant = 'plain' | 'id-in-string' | 'computed-doubles';

function body(variant: Variant): string {
  const events = Array.from({ length: 500 }, (_, i) => ({
    type: 'order.created',
    id: `order-${i}-${'x'.repeat(8)}`,
    data: {
      orderId: `ord_01J${i.toString(36).padStart(8, '0')}`,
      customer: { name: 'Ada Lovelace', email: `ada${i}@example.com`, tier: 'gold', since: 1_700_000_000 + i },
      total: variant === 'computed-doubles' ? 0.1 * (i + 3) : 1234.5,
      currency: 'EUR',
      lines: Array.from({ length: 16 }, (_, j) => ({
        sku: `SKU-${j}-${i}`,
        qty: j + 1,
        price: 9.99 * (j + 1),
        note: 'lorem ipsum dolor sit amet, consectetur adipiscing elit',
      })),
      reference: variant === 'id-in-string' && i === 490 ? '1234567890123456' : 'REF-42',
    },
  }));
  return JSON.stringify({ events });
}

function fastest(runs: number, work: () => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    work();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return best;
}

const withoutCheck = (text: string) => {
  jsonDepthExceeds(text, MAX_JSON_DEPTH);
  return sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
};

for (const variant of ['plain', 'id-in-string', 'computed-doubles'] as const) {
  const text = body(variant);
  const runs = 300;
  for (let i = 0; i < 30; i++) parseJsonBody(text);
  const check = fastest(runs, () => findUnsafeNumbers(text));
  const before = fastest(runs, () => withoutCheck(text));
  const after = fastest(runs, () => parseJsonBody(text));
  console.log(
    `${variant.padEnd(17)} ${(text.length / 1e6).toFixed(2)} MB: without the check ${before.toFixed(2)} ms, ` +
      `with it ${after.toFixed(2)} ms; the check alone ${check.toFixed(3)} ms`,
  );
}
