/**
 * Publishing: validate a whole batch, then store it in one transaction (SPEC §4 Publishing).
 * A batch with any problem stores nothing and lists every problem by `/events/<index>/…` path.
 */
import { deliveryStartsAt, isRfc3339Instant } from '../domain/event.ts';
import { monthOf, startOfNextMonth } from '../domain/month.ts';
import type { EventType, JsonObject, JsonValue, StoredEvent } from '../domain/types.ts';
import { type FieldProblem, HeraldError, invalid } from '../errors.ts';
import { newId } from '../ids.ts';
import { isReservedName } from '../domain/names.ts';
import type { CoreDeps } from './deps.ts';
import { getEnvironment } from './environments.ts';
import type { SchemaBatch } from './schemas/schema-threads.ts';
import { planDeliveries } from './fanout.ts';
import { getTopic } from './topics.ts';

export interface EventInput {
  type: string;
  id?: string;
  data?: JsonValue;
  source?: string;
  subject?: string;
  /** RFC 3339. */
  time?: string;
  context?: string[];
  /** Milliseconds since the epoch, or seconds when below 100000000000. */
  timestamp?: number;
  /** Seconds. */
  delay?: number;
}

export interface PublishResult {
  events: { id: string; status: 'accepted' | 'duplicate'; deliveries: number }[];
}

/** Where a publish call sends its events: one named topic, or every topic holding each type. */
export type PublishTarget = { topic: string } | { allTopics: true };

/**
 * Checks one event's fields; its data, when its type has a schema, goes into that type's batch
 * (from `toValidate`) for the schema threads.
 */
function checkEvent(
  deps: CoreDeps,
  now: number,
  toValidate: (eventType: EventType) => SchemaBatch,
  input: EventInput,
  path: string,
  eventType: EventType | undefined,
  routable: boolean,
  routeProblem: () => string,
): { problems: FieldProblem[]; dataJson: string } {
  const problems: FieldProblem[] = [];
  const dataJson = JSON.stringify(input.data ?? null);
  if (isReservedName(input.type)) problems.push({ path: `${path}/type`, message: 'herald.* events are published by Herald alone' });
  else if (!eventType) problems.push({ path: `${path}/type`, message: `unknown event type ${input.type}` });
  else if (eventType.archivedAt !== null) problems.push({ path: `${path}/type`, message: `event type ${input.type} is archived` });
  else if (!routable) problems.push({ path: `${path}/type`, message: routeProblem() });
  // A UTF-16 unit is at most 3 UTF-8 bytes: most payloads are under the limit without counting.
  const maxBytes = deps.limits.maxEventDataBytes;
  if (dataJson.length * 3 > maxBytes && Buffer.byteLength(dataJson) > maxBytes) {
    problems.push({ path: `${path}/data`, message: `is larger than ${maxBytes} bytes` });
  } else if (eventType?.schema && eventType.archivedAt === null) {
    toValidate(eventType).items.push([dataJson, `${path}/data`]);
  }
  // Date.parse is NaN for a leap second; offsets can push an instant outside years 0000-9999.
  if (input.time !== undefined && !isRfc3339Instant(Date.parse(input.time))) {
    problems.push({ path: `${path}/time`, message: 'must be an RFC 3339 date-time between years 0000 and 9999 (UTC)' });
  }
  if (!isRfc3339Instant(deliveryStartsAt(now, input.timestamp, input.delay))) {
    problems.push({ path: `${path}/delay`, message: 'timestamp + delay must fall before the year 10000' });
  }
  // PostgreSQL text cannot hold U+0000 (`data` is safe: JSON.stringify escapes it).
  for (const field of ['source', 'subject'] as const) {
    if (input[field]?.includes('\u0000')) problems.push({ path: `${path}/${field}`, message: 'must not contain U+0000' });
  }
  return { problems, dataJson };
}

/** The index of the event a `/events/<index>/…` problem is about. */
const eventIndexOf = (problem: FieldProblem): number => Number(/^\/events\/(\d+)/.exec(problem.path)?.[1] ?? -1);

/**
 * `flawed`: problems the caller already found in the shape of single events (each path under
 * `/events/<index>`). Those events are not read further, and their problems are listed with the
 * core's own, so one answer names every problem of the batch.
 */
export async function publish(
  deps: CoreDeps,
  environmentId: string,
  target: PublishTarget,
  inputs: readonly EventInput[],
  flawed: readonly FieldProblem[] = [],
): Promise<PublishResult> {
  if (inputs.length > deps.limits.maxEventsPerPublish) {
    throw invalid(`at most ${deps.limits.maxEventsPerPublish} events per publish call`, [
      { path: '/events', message: `must have at most ${deps.limits.maxEventsPerPublish} items` },
    ]);
  }
  const topic = 'topic' in target ? await getTopic(deps, environmentId, target.topic) : null;
  const problemsAt: FieldProblem[][] = inputs.map(() => []);
  for (const problem of flawed) {
    const at = problemsAt[eventIndexOf(problem)];
    if (!at) throw invalid('the request body is not valid', [...flawed]);
    at.push(problem);
  }
  const wellFormed = (index: number) => problemsAt[index]?.length === 0;
  const types = inputs.filter((_, i) => wellFormed(i)).map((e) => e.type);
  const [known, routes] = await Promise.all([
    deps.store.getEventTypes(environmentId, types),
    topic ? Promise.resolve(null) : deps.store.topicsContaining(environmentId, types),
  ]);

  const now = deps.clock.now();
  const batches = new Map<string, SchemaBatch>();
  const toValidate = (t: EventType): SchemaBatch => {
    let batch = batches.get(t.name);
    if (!batch) {
      batch = { typeName: t.name, schemaVersion: t.schemaVersion, schema: t.schema as JsonObject, items: [] };
      batches.set(t.name, batch);
    }
    return batch;
  };
  const dataJsons = inputs.map((input, index) => {
    if (!wellFormed(index)) return '';
    const routable = topic ? topic.eventTypes.includes(input.type) : (routes?.get(input.type)?.length ?? 0) > 0;
    const routeProblem = () =>
      topic ? `event type ${input.type} is not in topic ${topic.name}` : `event type ${input.type} is in no topic`;
    const type = known.get(input.type);
    const checked = checkEvent(deps, now, toValidate, input, `/events/${index}`, type, routable, routeProblem);
    problemsAt[index]?.push(...checked.problems);
    return checked.dataJson;
  });
  if (batches.size > 0) {
    for (const problem of await deps.schemas.validate(environmentId, [...batches.values()])) {
      problemsAt[eventIndexOf(problem)]?.push(problem);
    }
  }
  const problems = problemsAt.flat();
  if (problems.length > 0) throw invalid(`${problems.length} problem(s) in the batch; nothing was stored`, problems);

  const events: StoredEvent[] = inputs.map((input, index) => ({
    id: input.id ?? newId('evt', now),
    type: input.type,
    source: input.source ?? null,
    subject: input.subject ?? null,
    time: input.time !== undefined ? Date.parse(input.time) : now,
    dataJson: dataJsons[index] as string,
    context: input.context ?? [],
    topic: topic?.name ?? null,
    deliverAt: deliveryStartsAt(now, input.timestamp, input.delay),
    cancelledAt: null,
    createdAt: now,
  }));

  const topicsOf = (event: StoredEvent): readonly string[] => (topic ? [topic.name] : (routes?.get(event.type) ?? []));
  const [environment, targets] = await Promise.all([
    getEnvironment(deps, environmentId),
    deps.store.fanoutTargets(environmentId, topic ? [topic.name] : [...new Set([...(routes?.values() ?? [])].flat())]),
  ]);
  // An id repeated within the batch is a duplicate of its first occurrence: only that one fans out.
  const seen = new Set<string>();
  const firsts = events.filter((e) => !seen.has(e.id) && Boolean(seen.add(e.id)));
  const deliveries = planDeliveries(firsts, topicsOf, targets, now);
  // One call's deliveries are written in one transaction: without a bound, a topic with thousands
  // of subscriptions would turn one call into millions of rows, held in memory and in the commit.
  const maxDeliveries = deps.limits.maxDeliveriesPerPublish;
  if (deliveries.length > maxDeliveries) {
    throw invalid(
      `the batch would create ${deliveries.length} deliveries (events × their subscriptions), more than the ${maxDeliveries} one publish call may create; nothing was stored: publish fewer events per call`,
      [{ path: '/events', message: `would create more than ${maxDeliveries} deliveries` }],
    );
  }
  const month = monthOf(now);
  const outcome = await deps.store.acceptEvents(
    environmentId,
    events,
    { month, limit: environment.monthlyEventQuota },
    deliveries,
  );
  if (outcome.kind === 'quota_exceeded') {
    const retryAfter = Math.max(1, Math.ceil((startOfNextMonth(now) - now) / 1000));
    throw new HeraldError(
      'quota_exceeded',
      `the batch would exceed the monthly quota of ${environment.monthlyEventQuota} events (${outcome.published} used in ${month}); nothing was stored`,
      undefined,
      retryAfter,
    );
  }
  if (outcome.deliveries.some((n) => n > 0)) deps.delivery.wakeup.notify();
  return {
    events: events.map((e, i) => ({
      id: e.id,
      status: outcome.statuses[i] ?? 'duplicate',
      deliveries: outcome.deliveries[i] ?? 0,
    })),
  };
}
