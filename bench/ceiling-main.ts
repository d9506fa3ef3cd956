/**
 * Bench helper process: the ceiling. POSTs Herald-sized delivery bodies straight to the receiver
 * with undici (keep-alive, `concurrency` requests in flight) for a fixed time: the most requests/s
 * this machine can push through the receiver, which every Herald figure is compared with.
 */
import { Pool } from 'undici';
import { serveCommands } from './children.ts';
import { deliveryBody, eventId, nowMs } from './common.ts';

export interface CeilingResult {
  requests: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  requestsPerSecond: number;
  cpuMs: number;
}

async function run({ port, durationMs, concurrency, group }: { port: number; durationMs: number; concurrency: number; group: string }): Promise<CeilingResult> {
  const pool = new Pool(`http://127.0.0.1:${port}`, {
    connections: concurrency,
    keepAliveTimeout: 60_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  // One body per connection slot, rendered up front as Herald renders once per delivery.
  const bodies = Array.from({ length: concurrency }, (_, i) => deliveryBody(eventId(group, i), i));
  let requests = 0;
  let errors = 0;
  let firstError: string | null = null;
  let seq = 0;
  let deadline = 0;
  const lane = async (slot: number) => {
    while (nowMs() < deadline) {
      const id = eventId(group, seq++);
      try {
        const response = await pool.request({
          path: '/ceiling',
          method: 'POST',
          headers: {
            'content-type': 'application/cloudevents+json; charset=utf-8',
            'user-agent': 'Herald/bench',
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
            'webhook-signature': 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
            'content-language': 'en',
          },
          body: bodies[slot] as string,
        });
        await response.body.dump();
        if (response.statusCode >= 200 && response.statusCode < 300) requests += 1;
        else errors += 1;
      } catch (error) {
        errors += 1;
        firstError ??= (error as Error).message;
      }
    }
  };
  const lanes = () => Promise.all(Array.from({ length: concurrency }, (_, slot) => lane(slot)));
  // Warm-up (connections opened, code compiled) not counted: a quarter of the time, at most 1 s.
  deadline = nowMs() + Math.min(1000, durationMs / 4);
  await lanes();
  requests = 0;
  errors = 0;
  const cpuBefore = process.cpuUsage();
  const started = nowMs();
  deadline = started + durationMs;
  await lanes();
  const elapsedMs = nowMs() - started;
  const cpu = process.cpuUsage(cpuBefore);
  await pool.close();
  return { requests, errors, firstError, elapsedMs, requestsPerSecond: (requests / elapsedMs) * 1000, cpuMs: (cpu.user + cpu.system) / 1000 };
}

serveCommands({ run });
