/** Bench: clock, payloads and naming shared by the bench and its helper processes. */

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Size of one event's `data` when serialised. */
export const DATA_BYTES = 1024;

/** A realistic-looking event `data` of exactly DATA_BYTES bytes of JSON. */
export function eventData(seq: number): Record<string, unknown> {
  const data = {
    orderId: `ord_${seq.toString(36).padStart(8, '0')}`,
    seq,
    status: 'paid',
    amount: { value: 4200 + (seq % 1000), currency: 'EUR' },
    customer: { id: `cus_${seq % 9973}`, email: `customer${seq % 9973}@example.com`, name: 'Ada Lovelace' },
    items: [
      { sku: 'SKU-1001', quantity: 1, price: 1999 },
      { sku: 'SKU-2002', quantity: 2, price: 1100 },
    ],
    note: '',
  };
  const missing = DATA_BYTES - Buffer.byteLength(JSON.stringify(data));
  data.note = 'x'.repeat(Math.max(0, missing));
  return data;
}

/**
 * What Herald sends for one event (CloudEvents envelope around eventData), so the ceiling client
 * moves the same bytes per request as Herald does.
 */
export function deliveryBody(id: string, seq: number): string {
  return JSON.stringify({
    specversion: '1.0',
    id,
    source: '/environments/env_01JBENCHBENCHBENCHBENCHBENCH/topics/bench',
    type: 'bench.event',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: eventData(seq),
    topic: 'bench',
    environment: 'env_01JBENCHBENCHBENCHBENCHBENCH',
  });
}

/**
 * Event ids are `<group>:<n>`; the receiver counts arrivals per group (the part before the first
 * colon), so each scenario of each dialect reads only its own deliveries.
 */
export function eventId(group: string, seq: number): string {
  return `${group}:${seq}`;
}

export function groupOf(webhookId: string): string {
  const colon = webhookId.indexOf(':');
  return colon < 0 ? webhookId : webhookId.slice(0, colon);
}
