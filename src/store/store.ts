/**
 * The storage interface: everything core/ knows about persistence. Two implementations share one
 * Kysely-based body (kysely-store.ts) and differ where the dialects do (sqlite/, postgres/).
 * Every method is scoped by environment id, and every table's key starts with it.
 */
import type {
  ApiKey,
  App,
  Category,
  Environment,
  EventType,
  Page,
  PageRequest,
  StoredApiKey,
  StoredEvent,
  Topic,
} from '../domain/types.ts';

import type { Queue } from '../queue/queue.ts';
import type { DeliveryStore, NewDelivery } from './delivery-store.ts';

export type Dialect = 'sqlite' | 'postgres';

export type DeleteOutcome = 'deleted' | 'not_found' | 'in_use';

export interface EventListFilter {
  topic?: string;
  type?: string;
  /** Accepted at or after (ms). */
  since?: number;
  /** Accepted before (ms). */
  until?: number;
}

export interface QuotaCheck {
  /** `YYYY-MM` (UTC) the accepted events count towards. */
  month: string;
  /** Events allowed in the month; null = unlimited. */
  limit: number | null;
  /** False for Herald's own (operational) events: they are neither counted nor limited. Default true. */
  count?: boolean;
}

export type AcceptOutcome =
  | {
      kind: 'accepted';
      statuses: ('accepted' | 'duplicate')[];
      /** Deliveries created per event (0 for duplicates). */
      deliveries: number[];
    }
  | { kind: 'quota_exceeded'; published: number };

export interface Store extends DeliveryStore {
  readonly dialect: Dialect;
  /** The delivery queue on the same database (src/queue/). */
  readonly queue: Queue;
  /** Applies pending migrations; safe when several processes do it at once. */
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Creates `env` with its admin key only if no environment exists yet; true if it did. */
  bootstrapFirstEnvironment(env: Environment, adminKey: StoredApiKey): Promise<boolean>;
  insertEnvironment(env: Environment, adminKey: StoredApiKey): Promise<void>;
  listEnvironments(page: PageRequest): Promise<Page<Environment>>;
  getEnvironment(id: string): Promise<Environment | null>;
  updateEnvironment(env: Environment): Promise<void>;
  /** Removes the environment and everything in it. */
  deleteEnvironment(id: string): Promise<boolean>;

  insertApiKey(key: StoredApiKey): Promise<void>;
  listApiKeys(environmentId: string, page: PageRequest): Promise<Page<ApiKey>>;
  getApiKey(environmentId: string, id: string): Promise<StoredApiKey | null>;
  deleteApiKey(environmentId: string, id: string): Promise<boolean>;

  /** False when the name is taken. */
  insertCategory(environmentId: string, category: Category): Promise<boolean>;
  listCategories(environmentId: string, page: PageRequest): Promise<Page<Category>>;
  getCategory(environmentId: string, name: string): Promise<Category | null>;
  updateCategory(environmentId: string, category: Category): Promise<void>;
  /** Refused (`in_use`) while event types name the category. */
  deleteCategory(environmentId: string, name: string): Promise<DeleteOutcome>;

  /** False when the name is taken (archived types keep their name). */
  insertEventType(environmentId: string, eventType: EventType): Promise<boolean>;
  listEventTypes(
    environmentId: string,
    filter: { category?: string; includeArchived: boolean },
    page: PageRequest,
  ): Promise<Page<EventType>>;
  getEventType(environmentId: string, name: string): Promise<EventType | null>;
  /** The named types that exist (archived included). */
  getEventTypes(environmentId: string, names: readonly string[]): Promise<Map<string, EventType>>;
  updateEventType(environmentId: string, eventType: EventType): Promise<void>;

  insertApp(environmentId: string, app: App): Promise<void>;
  listApps(environmentId: string, page: PageRequest): Promise<Page<App>>;
  getApp(environmentId: string, id: string): Promise<App | null>;
  updateApp(environmentId: string, app: App): Promise<void>;
  /** Refused (`in_use`) while topics name the app. */
  deleteApp(environmentId: string, id: string): Promise<DeleteOutcome>;

  /** False when the name is taken. */
  insertTopic(environmentId: string, topic: Topic): Promise<boolean>;
  /** `appIds`: when given, only topics owned by no app or by one of these apps. */
  listTopics(environmentId: string, page: PageRequest, visible?: { appIds: readonly string[] }): Promise<Page<Topic>>;
  getTopic(environmentId: string, name: string): Promise<Topic | null>;
  /** Replaces the topic's fields and its set of event types; false (nothing written) when it no longer exists. */
  updateTopic(environmentId: string, topic: Topic): Promise<boolean>;
  deleteTopic(environmentId: string, name: string): Promise<DeleteOutcome>;
  /** For each given event type, the topics that contain it. */
  topicsContaining(environmentId: string, eventTypes: readonly string[]): Promise<Map<string, string[]>>;

  /**
   * Stores a publish call's events and their deliveries in one transaction: ids already stored are
   * `duplicate` (their deliveries are dropped), the rest are inserted and counted against the
   * month's quota; if they do not fit, nothing is stored.
   */
  acceptEvents(
    environmentId: string,
    events: readonly StoredEvent[],
    quota: QuotaCheck,
    deliveries?: readonly NewDelivery[],
  ): Promise<AcceptOutcome>;
  /** Newest first. */
  listEvents(environmentId: string, filter: EventListFilter, page: PageRequest): Promise<Page<StoredEvent>>;
  getEvent(environmentId: string, id: string): Promise<StoredEvent | null>;
  /** Events accepted in the month. */
  getMonthlyUsage(environmentId: string, month: string): Promise<number>;
}
