/**
 * Test-only: what the secrets-at-rest suites (test/security/) share. Each test gets an
 * environment of its own with a topic `orders`, an admin and a subscriber key; subscriptions point
 * at real receivers on 127.0.0.1; requests are judged by the official Standard Webhooks library.
 */
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import type { Subscription } from '../domain/types.ts';
import { buildApp } from '../http/app.ts';
import { makeSecretBox } from '../secret-box.ts';
import type { Received } from './receiver.ts';
import { TestReceiver, eventually } from './receiver.ts';
import { type Answer, type Caller, ROOT_TOKEN, type TestApi, injector } from './test-app.ts';

type Api = () => TestApi;
// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back.
type Json = any;
type Call = TestApi['call'];

export function ok(answer: Answer, status: number, label = ''): void {
  assert.equal(answer.status, status, `${label} ${JSON.stringify(answer.body)}`);
}

export interface World {
  admin: Caller;
  subscriber: Caller;
}

export async function world(api: Api): Promise<World> {
  const admin = await api().environment('secrets');
  ok(await api().call('POST', '/v1/event-types', { as: admin, body: { name: 'order.created' } }), 201);
  const topic = { name: 'orders', eventTypes: ['order.created'] };
  ok(await api().call('POST', '/v1/topics', { as: admin, body: topic }), 201);
  return { admin, subscriber: await api().key(admin, 'subscriber') };
}

/** Receivers started by a suite, stopped by `stopReceivers` in its `after`. */
export class Receivers {
  private readonly started: TestReceiver[] = [];
  async start(): Promise<TestReceiver> {
    const receiver = await new TestReceiver().start();
    this.started.push(receiver);
    return receiver;
  }
  async stopAll(): Promise<void> {
    for (const receiver of this.started) await receiver.stop();
  }
}

/** Creates a subscription on `orders` through `call` (the suite's server unless another is given). */
export async function subscribe(call: Call, as: Caller, body: Record<string, unknown>): Promise<Json> {
  const answer = await call('POST', '/v1/topics/orders/subscriptions', { as, body });
  ok(answer, 201, 'create');
  return answer.body;
}

/**
 * The same API over the same store, with HERALD_ENCRYPTION_KEY = `key` (null: unset): another
 * process of the deployment, or this one before a restart with another configuration.
 */
export async function serverWithKey(api: Api, key: string | null): Promise<{ call: Call; close: () => Promise<void> }> {
  const deps = api().deps;
  const app = await buildApp({
    deps: { ...deps, delivery: { ...deps.delivery, secrets: makeSecretBox(key) } },
    rootToken: ROOT_TOKEN,
    maxBodyBytes: 1024 * 1024,
    logLevel: false,
  });
  return { call: injector(app), close: () => app.close() };
}

export async function publish(api: Api, admin: Caller): Promise<string> {
  const id = `evt-${Math.random().toString(36).slice(2, 10)}`;
  const answer = await api().call('POST', '/v1/topics/orders/events/publish', {
    as: admin,
    body: { events: [{ id, type: 'order.created', data: { n: 1 } }] },
  });
  ok(answer, 202, 'publish');
  return id;
}

/** The subscription's newest delivery once it has finished (succeeded or failed), with its attempts. */
export async function finishedDelivery(api: Api, as: Caller, subscriptionId: string): Promise<Json> {
  const delivery = await eventually(async () => {
    const answer = await api().call('GET', `/v1/subscriptions/${subscriptionId}/deliveries`, { as });
    ok(answer, 200, 'deliveries');
    const newest = answer.body.data[0];
    return newest && ['succeeded', 'failed'].includes(newest.status) ? newest : undefined;
  }, 10_000, `a finished delivery of ${subscriptionId}`);
  const attempts = await api().call('GET', `/v1/deliveries/${delivery.id}/attempts`, { as });
  ok(attempts, 200, 'attempts');
  return { ...delivery, attempts: attempts.body.data };
}

/** Whether `received` carries a signature by `secret` that Standard Webhooks accepts. */
export function verifiesWith(secret: string, received: Received): boolean {
  try {
    new Webhook(secret).verify(received.body, received.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
}

/** The subscription as stored (secrets sealed). */
export async function stored(api: Api, as: Caller, id: string): Promise<Subscription> {
  const found = await api().deps.store.getSubscription(as.environmentId, id);
  assert.ok(found, `subscription ${id} is stored`);
  return found;
}

/**
 * Writes stored secret texts as they are, through the store: a row as another Herald (an older
 * version, another key) left it.
 */
export async function writeStored(
  api: Api,
  as: Caller,
  id: string,
  secrets: Partial<
    Pick<Subscription, 'signingSecret' | 'previousSigningSecret' | 'previousSecretExpiresAt' | 'secretHeaderValue'>
  >,
): Promise<void> {
  const current = await stored(api, as, id);
  const outcome = await api().deps.store.updateSubscription(
    as.environmentId,
    { ...current, ...secrets, version: current.version + 1 },
    current.version,
    { resetFailures: false },
  );
  assert.equal(outcome, 'updated');
}
