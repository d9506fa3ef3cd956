/** Topics: named sets of event types that subscriptions attach to. */
import { isReservedName } from '../domain/names.ts';
import type { Page, PageRequest, Topic } from '../domain/types.ts';
import { type Viewer, maySeeTopic, seesEverything } from '../domain/visibility.ts';
import { type FieldProblem, conflict, invalid, notFound } from '../errors.ts';
import { appsVisibleTo } from './apps.ts';
import type { CoreDeps } from './deps.ts';

/** Who is looking: subscriber keys see only topics of no app or of apps they hold a permission of. */
export type { Viewer };

export interface TopicInput {
  name: string;
  description?: string | null;
  eventTypes: string[];
  appId?: string | null;
}

async function checkReferences(
  deps: CoreDeps,
  environmentId: string,
  eventTypes: string[] | undefined,
  appId: string | null | undefined,
): Promise<void> {
  const problems: FieldProblem[] = [];
  if (eventTypes) {
    const known = await deps.store.getEventTypes(environmentId, eventTypes);
    eventTypes.forEach((name, i) => {
      const found = known.get(name);
      if (isReservedName(name)) {
        problems.push({ path: `/eventTypes/${i}`, message: `${name} is Herald's own: subscribe to the built-in topic instead` });
      } else if (!found) problems.push({ path: `/eventTypes/${i}`, message: `unknown event type ${name}` });
      else if (found.archivedAt !== null) problems.push({ path: `/eventTypes/${i}`, message: `event type ${name} is archived` });
    });
  }
  if (appId && !(await deps.store.getApp(environmentId, appId))) {
    problems.push({ path: '/appId', message: `unknown app ${appId}` });
  }
  if (problems.length > 0) throw invalid('the topic is not valid', problems);
}

export async function createTopic(deps: CoreDeps, environmentId: string, input: TopicInput): Promise<Topic> {
  if (isReservedName(input.name)) {
    throw invalid('names starting with "herald." are reserved', [{ path: '/name', message: 'is reserved' }]);
  }
  await checkReferences(deps, environmentId, input.eventTypes, input.appId);
  const now = deps.clock.now();
  const topic: Topic = {
    name: input.name,
    description: input.description ?? null,
    eventTypes: [...new Set(input.eventTypes)].sort(),
    appId: input.appId ?? null,
    createdAt: now,
    updatedAt: now,
  };
  if (!(await deps.store.insertTopic(environmentId, topic))) throw conflict(`topic ${input.name} already exists`);
  return topic;
}

export async function listTopics(
  deps: CoreDeps,
  environmentId: string,
  page: PageRequest,
  viewer: Viewer,
): Promise<Page<Topic>> {
  if (seesEverything(viewer)) return deps.store.listTopics(environmentId, page);
  const appIds = await appsVisibleTo(deps, environmentId, viewer);
  return deps.store.listTopics(environmentId, page, { appIds });
}

/** Names of every topic a subscriber key may see. */
export async function visibleTopicNames(deps: CoreDeps, environmentId: string, viewer: Viewer): Promise<string[]> {
  const appIds = await appsVisibleTo(deps, environmentId, viewer);
  const names: string[] = [];
  let page: PageRequest = { limit: 250, after: null };
  for (;;) {
    const topics = await deps.store.listTopics(environmentId, page, { appIds });
    names.push(...topics.data.map((t) => t.name));
    if (!topics.nextAfter) return names;
    page = { limit: 250, after: topics.nextAfter };
  }
}

/** The topic, if it exists and the viewer may see it (else 404, as for another environment's). */
export async function getTopic(deps: CoreDeps, environmentId: string, name: string, viewer?: Viewer): Promise<Topic> {
  const topic = await deps.store.getTopic(environmentId, name);
  if (!topic) throw notFound(`topic ${name}`);
  if (viewer && !seesEverything(viewer) && topic.appId !== null) {
    const app = await deps.store.getApp(environmentId, topic.appId);
    if (!maySeeTopic(viewer, topic, app)) throw notFound(`topic ${name}`);
  }
  return topic;
}

/** Reserved names belong to built-in topics (`herald.operational`), which Herald alone maintains. */
const builtIn = (name: string) => invalid(`topic ${name} is built in: it cannot be changed or deleted`);

export async function updateTopic(
  deps: CoreDeps,
  environmentId: string,
  name: string,
  patch: { description?: string | null; eventTypes?: string[]; appId?: string | null },
): Promise<Topic> {
  const current = await getTopic(deps, environmentId, name);
  if (isReservedName(name)) throw builtIn(name);
  await checkReferences(deps, environmentId, patch.eventTypes, patch.appId);
  const updated: Topic = {
    ...current,
    description: patch.description === undefined ? current.description : patch.description,
    eventTypes: patch.eventTypes ? [...new Set(patch.eventTypes)].sort() : current.eventTypes,
    appId: patch.appId === undefined ? current.appId : patch.appId,
    updatedAt: deps.clock.now(),
  };
  if (!(await deps.store.updateTopic(environmentId, updated))) throw notFound(`topic ${name}`);
  return updated;
}

export async function deleteTopic(deps: CoreDeps, environmentId: string, name: string): Promise<void> {
  if (isReservedName(name)) {
    await getTopic(deps, environmentId, name);
    throw builtIn(name);
  }
  const outcome = await deps.store.deleteTopic(environmentId, name);
  if (outcome === 'not_found') throw notFound(`topic ${name}`);
  if (outcome === 'in_use') throw conflict(`topic ${name} has subscriptions; delete them first`);
}
