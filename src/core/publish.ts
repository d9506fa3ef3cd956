/**
 * Publishing: validate a whole batch, then store it in one transaction (SPEC §4 Publishing).
 * A batch with any problem stores nothing and lists every problem by `/events/<index>/…` path.
 */
import { deliveryStartsAt } from '../domain/event.ts';
import { monthOf, startOfNextMonth } from '../domain/month.ts';
import type { EventType, JsonValue, StoredEvent } from '../domain/types.ts';
import { type FieldProblem, HeraldError, invalid } from '../errors.ts';
import { newId } from '../ids.ts';
import type { CoreDeps } from './deps.ts';
import { getEnvironment } from './environments.ts';
import { schemaCacheKey } from './event-types.ts';
import { validateAgainst } from './json-schemas.ts';
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

function checkEvent(
  deps: CoreDeps,
  environmentId: string,
  input: EventInput,
  path: string,
  eventType: EventType | undefined,
  routable: boolean,
  routeProblem: string,
): { problems: FieldProblem[]; dataJson: string } {
  const problems: FieldProblem[] = [];
  const dataJson = JSON.stringify(input.data ?? null);
  if (!eventType) problems.push({ path: `${path}/type`, message: `unknown event type ${input.type}` });
  else if (eventType.archivedAt !== null) problems.push({ path: `${path}/type`, message: `event type ${input.type} is archived` });
  else if (!routable) problems.push({ path: `${path}/type`, message: routeProblem });
  if (Buffer.byteLength(dataJson) > deps.limits.maxEventDataBytes) {
    problems.push({ path: `${path}/data`, message: `is larger than ${deps.limits.maxEventDataBytes} bytes` });
  } else if (eventType?.schema && eventType.archivedAt === null) {
    const key = schemaCacheKey(environmentId, eventType);
    problems.push(...validateAgainst(key, eventType.schema, input.data ?? null, `${path}/data`));
  }
  if (input.time !== undefined && Number.isNaN(Date.parse(input.time))) {
    problems.push({ path: `${path}/time`, message: 'must be an RFC 3339 date-time' });
  }
  return { problems, dataJson };
}

export async function publish(
  deps: CoreDeps,
  environmentId: string,
  target: PublishTarget,
  inputs: readonly EventInput[],
): Promise<PublishResult> {
  if (inputs.length > deps.limits.maxEventsPerPublish) {
    throw invalid(`at most ${deps.limits.maxEventsPerPublish} events per publish call`, [
      { path: '/events', message: `must have at most ${deps.limits.maxEventsPerPublish} items` },
    ]);
  }
  const topic = 'topic' in target ? await getTopic(deps, environmentId, target.topic) : null;
  const types = inputs.map((e) => e.type);
  const [known, routes] = await Promise.all([
    deps.store.getEventTypes(environmentId, types),
    topic ? Promise.resolve(null) : deps.store.topicsContaining(environmentId, types),
  ]);

  const now = deps.clock.now();
  const problems: FieldProblem[] = [];
  const events: StoredEvent[] = inputs.map((input, index) => {
    const routable = topic ? topic.eventTypes.includes(input.type) : (routes?.get(input.type)?.length ?? 0) > 0;
    const routeProblem = topic
      ? `event type ${input.type} is not in topic ${topic.name}`
      : `event type ${input.type} is in no topic`;
    const checked = checkEvent(deps, environmentId, input, `/events/${index}`, known.get(input.type), routable, routeProblem);
    problems.push(...checked.problems);
    return {
      id: input.id ?? newId('evt', now),
      type: input.type,
      source: input.source ?? null,
      subject: input.subject ?? null,
      time: input.time !== undefined ? Date.parse(input.time) : now,
      dataJson: checked.dataJson,
      context: input.context ?? [],
      topic: topic?.name ?? null,
      deliverAt: deliveryStartsAt(now, input.timestamp, input.delay),
      cancelledAt: null,
      createdAt: now,
    };
  });
  if (problems.length > 0) throw invalid(`${problems.length} problem(s) in the batch; nothing was stored`, problems);

  const environment = await getEnvironment(deps, environmentId);
  const month = monthOf(now);
  const outcome = await deps.store.acceptEvents(environmentId, events, { month, limit: environment.monthlyEventQuota });
  if (outcome.kind === 'quota_exceeded') {
    const retryAfter = Math.max(1, Math.ceil((startOfNextMonth(now) - now) / 1000));
    throw new HeraldError(
      'quota_exceeded',
      `the batch would exceed the monthly quota of ${environment.monthlyEventQuota} events (${outcome.published} used in ${month}); nothing was stored`,
      undefined,
      retryAfter,
    );
  }
  return {
    events: events.map((e, i) => ({ id: e.id, status: outcome.statuses[i] ?? 'duplicate', deliveries: 0 })),
  };
}
