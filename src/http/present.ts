/** Domain → JSON as the API shows it: times as RFC 3339, stored JSON parsed back. */
import type { ApiKey, App, Category, Environment, EventType, StoredEvent, Topic, Usage } from '../domain/types.ts';

export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export const presentEnvironment = (e: Environment) => ({
  id: e.id,
  name: e.name,
  monthlyEventQuota: e.monthlyEventQuota,
  createdAt: iso(e.createdAt),
  updatedAt: iso(e.updatedAt),
});

export const presentApiKey = (k: ApiKey) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  permissions: k.permissions,
  createdAt: iso(k.createdAt),
});

export const presentCategory = (c: Category) => ({
  name: c.name,
  description: c.description,
  createdAt: iso(c.createdAt),
  updatedAt: iso(c.updatedAt),
});

export const presentEventType = (t: EventType) => ({
  name: t.name,
  description: t.description,
  category: t.category,
  schema: t.schema,
  example: t.example ?? null,
  schemaVersion: t.schemaVersion,
  archived: t.archivedAt !== null,
  archivedAt: isoOrNull(t.archivedAt),
  createdAt: iso(t.createdAt),
  updatedAt: iso(t.updatedAt),
});

export const presentApp = (a: App) => ({
  id: a.id,
  name: a.name,
  permissions: a.permissions,
  createdAt: iso(a.createdAt),
  updatedAt: iso(a.updatedAt),
});

export const presentTopic = (t: Topic) => ({
  name: t.name,
  description: t.description,
  eventTypes: t.eventTypes,
  appId: t.appId,
  createdAt: iso(t.createdAt),
  updatedAt: iso(t.updatedAt),
});

export const presentEvent = (e: StoredEvent) => ({
  id: e.id,
  type: e.type,
  source: e.source,
  subject: e.subject,
  time: iso(e.time),
  data: JSON.parse(e.dataJson) as unknown,
  context: e.context,
  topic: e.topic,
  deliverAt: iso(e.deliverAt),
  cancelledAt: isoOrNull(e.cancelledAt),
  createdAt: iso(e.createdAt),
});

export const presentUsage = (u: Usage) => ({
  month: u.month,
  published: u.published,
  quota: u.quota,
  resetsAt: iso(u.resetsAt),
});
