/** Row ↔ domain conversions; the only place that knows how JSON and times sit in columns. */
import type {
  ApiKey,
  App,
  Category,
  Environment,
  EventType,
  JsonObject,
  JsonValue,
  Role,
  StoredApiKey,
  StoredEvent,
  Topic,
} from '../domain/types.ts';
import type {
  ApiKeysTable,
  AppsTable,
  CategoriesTable,
  EnvironmentsTable,
  EventsTable,
  EventTypesTable,
  TopicsTable,
} from './schema.ts';

export const environmentFromRow = (row: EnvironmentsTable): Environment => ({
  id: row.id,
  name: row.name,
  monthlyEventQuota: row.monthly_event_quota,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const environmentToRow = (env: Environment): EnvironmentsTable => ({
  id: env.id,
  name: env.name,
  monthly_event_quota: env.monthlyEventQuota,
  created_at: env.createdAt,
  updated_at: env.updatedAt,
});

export const apiKeyFromRow = (row: ApiKeysTable): StoredApiKey => ({
  id: row.id,
  environmentId: row.environment_id,
  name: row.name,
  role: row.role as Role,
  permissions: JSON.parse(row.permissions) as string[],
  secretHash: Buffer.from(row.secret_hash),
  createdAt: row.created_at,
});

export const apiKeyToRow = (key: StoredApiKey): ApiKeysTable => ({
  environment_id: key.environmentId,
  id: key.id,
  name: key.name,
  role: key.role,
  permissions: JSON.stringify(key.permissions),
  secret_hash: key.secretHash,
  created_at: key.createdAt,
});

export const publicApiKey = ({ secretHash: _hash, ...key }: StoredApiKey): ApiKey => key;

export const categoryFromRow = (row: CategoriesTable): Category => ({
  name: row.name,
  description: row.description,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const categoryToRow = (environmentId: string, c: Category): CategoriesTable => ({
  environment_id: environmentId,
  name: c.name,
  description: c.description,
  created_at: c.createdAt,
  updated_at: c.updatedAt,
});

export const eventTypeFromRow = (row: EventTypesTable): EventType => ({
  name: row.name,
  description: row.description,
  category: row.category,
  schema: row.schema_json === null ? null : (JSON.parse(row.schema_json) as JsonObject),
  example: row.example_json === null ? undefined : (JSON.parse(row.example_json) as JsonValue),
  schemaVersion: row.schema_version,
  archivedAt: row.archived_at,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const eventTypeToRow = (environmentId: string, t: EventType): EventTypesTable => ({
  environment_id: environmentId,
  name: t.name,
  description: t.description,
  category: t.category,
  schema_json: t.schema === null ? null : JSON.stringify(t.schema),
  example_json: t.example === undefined ? null : JSON.stringify(t.example),
  schema_version: t.schemaVersion,
  archived_at: t.archivedAt,
  created_at: t.createdAt,
  updated_at: t.updatedAt,
});

export const appFromRow = (row: AppsTable): App => ({
  id: row.id,
  name: row.name,
  permissions: JSON.parse(row.permissions) as string[],
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const appToRow = (environmentId: string, app: App): AppsTable => ({
  environment_id: environmentId,
  id: app.id,
  name: app.name,
  permissions: JSON.stringify(app.permissions),
  created_at: app.createdAt,
  updated_at: app.updatedAt,
});

export const topicFromRow = (row: TopicsTable, eventTypes: string[]): Topic => ({
  name: row.name,
  description: row.description,
  appId: row.app_id,
  eventTypes,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const topicToRow = (environmentId: string, t: Topic): TopicsTable => ({
  environment_id: environmentId,
  name: t.name,
  description: t.description,
  app_id: t.appId,
  created_at: t.createdAt,
  updated_at: t.updatedAt,
});

export const eventFromRow = (row: EventsTable): StoredEvent => ({
  id: row.id,
  type: row.type,
  source: row.source,
  subject: row.subject,
  time: row.time,
  dataJson: row.data_json,
  context: JSON.parse(row.context_json) as string[],
  topic: row.topic,
  deliverAt: row.deliver_at,
  cancelledAt: row.cancelled_at,
  createdAt: row.created_at,
});

export const eventToRow = (environmentId: string, e: StoredEvent): EventsTable => ({
  environment_id: environmentId,
  id: e.id,
  type: e.type,
  source: e.source,
  subject: e.subject,
  time: e.time,
  data_json: e.dataJson,
  context_json: JSON.stringify(e.context),
  topic: e.topic,
  deliver_at: e.deliverAt,
  cancelled_at: e.cancelledAt,
  created_at: e.createdAt,
});
