/** Bench: the few /v1 calls that set a scenario up (event type, topics, subscriptions). */

export interface Credentials {
  origin: string;
  envId: string;
  key: string;
}

export const EVENT_TYPE = 'bench.event';

async function call(api: Credentials, method: string, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${api.origin}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-environment-id': api.envId, 'x-auth-token': api.key },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : null;
}

export async function createEventType(api: Credentials): Promise<void> {
  await call(api, 'POST', '/v1/event-types', { name: EVENT_TYPE, description: 'bench payload (~1 KB)' });
}

export async function createTopic(api: Credentials, name: string): Promise<void> {
  await call(api, 'POST', '/v1/topics', { name, eventTypes: [EVENT_TYPE] });
}

/** Subscribes `url` to `topic`; returns the subscription id. */
export async function subscribe(api: Credentials, topic: string, name: string, url: string): Promise<string> {
  const created = (await call(api, 'POST', `/v1/topics/${encodeURIComponent(topic)}/subscriptions`, {
    name,
    url,
    maxRetries: 5,
    timeoutMs: 10_000,
  })) as { id: string };
  return created.id;
}
