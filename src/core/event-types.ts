/** Event types: the registry of what can be published, with optional JSON Schemas. */
import { isReservedName } from '../domain/names.ts';
import { inferSchema } from '../domain/schema-inference.ts';
import type { EventType, JsonObject, JsonValue, Page, PageRequest } from '../domain/types.ts';
import { type FieldProblem, conflict, invalid, notFound } from '../errors.ts';
import type { CoreDeps } from './deps.ts';

export interface EventTypeInput {
  name: string;
  description?: string | null;
  category?: string | null;
  schema?: JsonObject | null;
  /** null means "no example", as for the other nullable fields (and as the API shows it). */
  example?: JsonValue;
}

export interface EventTypePatch {
  description?: string | null;
  category?: string | null;
  schema?: JsonObject | null;
  /** null clears the example. */
  example?: JsonValue;
  /** false restores an archived type. */
  archived?: boolean;
}

/** The API shows a missing example as null, so null is taken as "no example" (never validated). */
const exampleOf = (value: JsonValue | undefined): JsonValue | undefined => (value === null ? undefined : value);

async function checkContent(
  deps: CoreDeps,
  environmentId: string,
  candidate: EventType,
  categoryChanged: boolean,
): Promise<void> {
  const problems: FieldProblem[] = [];
  if (categoryChanged && candidate.category !== null) {
    if (!(await deps.store.getCategory(environmentId, candidate.category))) {
      problems.push({ path: '/category', message: `unknown category ${candidate.category}` });
    }
  }
  if (candidate.schema !== null) {
    problems.push(...(await deps.schemas.check(environmentId, candidate.schema, candidate.example)));
  }
  if (problems.length > 0) throw invalid('the event type is not valid', problems);
}

/** Herald's own operational types (`herald.*`) are maintained by Herald alone. */
function refuseBuiltIn(name: string): void {
  if (isReservedName(name)) throw invalid(`event type ${name} is built in: it cannot be changed or archived`);
}

export async function createEventType(deps: CoreDeps, environmentId: string, input: EventTypeInput): Promise<EventType> {
  if (isReservedName(input.name)) {
    throw invalid('names starting with "herald." are reserved', [{ path: '/name', message: 'is reserved' }]);
  }
  const now = deps.clock.now();
  const eventType: EventType = {
    name: input.name,
    description: input.description ?? null,
    category: input.category ?? null,
    schema: input.schema ?? null,
    example: exampleOf(input.example),
    schemaVersion: 1,
    archivedAt: null,
    createdAt: now,
    updatedAt: now,
  };
  await checkContent(deps, environmentId, eventType, true);
  if (!(await deps.store.insertEventType(environmentId, eventType))) {
    throw conflict(`event type ${input.name} already exists`);
  }
  return eventType;
}

export const listEventTypes = (
  deps: CoreDeps,
  environmentId: string,
  filter: { category?: string; includeArchived: boolean },
  page: PageRequest,
): Promise<Page<EventType>> => deps.store.listEventTypes(environmentId, filter, page);

export async function getEventType(deps: CoreDeps, environmentId: string, name: string): Promise<EventType> {
  const eventType = await deps.store.getEventType(environmentId, name);
  if (!eventType) throw notFound(`event type ${name}`);
  return eventType;
}

export async function updateEventType(
  deps: CoreDeps,
  environmentId: string,
  name: string,
  patch: EventTypePatch,
): Promise<EventType> {
  refuseBuiltIn(name);
  const current = await getEventType(deps, environmentId, name);
  const schema = patch.schema === undefined ? current.schema : patch.schema;
  const schemaChanged = JSON.stringify(schema) !== JSON.stringify(current.schema);
  const now = deps.clock.now();
  const updated: EventType = {
    ...current,
    description: patch.description === undefined ? current.description : patch.description,
    category: patch.category === undefined ? current.category : patch.category,
    schema,
    example: 'example' in patch ? exampleOf(patch.example) : current.example,
    schemaVersion: schemaChanged ? current.schemaVersion + 1 : current.schemaVersion,
    archivedAt: patch.archived === undefined ? current.archivedAt : patch.archived ? (current.archivedAt ?? now) : null,
    updatedAt: now,
  };
  await checkContent(deps, environmentId, updated, updated.category !== current.category);
  await deps.store.updateEventType(environmentId, updated);
  return updated;
}

/** DELETE archives: existing events stay, new publishes of the type are refused. */
export async function archiveEventType(deps: CoreDeps, environmentId: string, name: string): Promise<void> {
  refuseBuiltIn(name);
  const current = await getEventType(deps, environmentId, name);
  if (current.archivedAt !== null) return;
  const now = deps.clock.now();
  await deps.store.updateEventType(environmentId, { ...current, archivedAt: now, updatedAt: now });
}

export function generateSchema(example: JsonValue): JsonObject {
  return inferSchema(example);
}
