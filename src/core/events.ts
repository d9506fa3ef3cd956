/** The event log: what was accepted, as stored. */
import { EVENT_ID_PATTERN } from '../domain/names.ts';
import type { Page, PageRequest, StoredEvent } from '../domain/types.ts';
import { notFound } from '../errors.ts';
import type { EventListFilter } from '../store/store.ts';
import type { CoreDeps } from './deps.ts';

export const listEvents = (
  deps: CoreDeps,
  environmentId: string,
  filter: EventListFilter,
  page: PageRequest,
): Promise<Page<StoredEvent>> => deps.store.listEvents(environmentId, filter, page);

const eventIdRegex = new RegExp(EVENT_ID_PATTERN);

export async function getEvent(deps: CoreDeps, environmentId: string, id: string): Promise<StoredEvent> {
  // Every stored id (the publisher's or `evt_…`) matches the pattern: anything else cannot exist,
  // and must not reach the database (PostgreSQL refuses U+0000 in text).
  if (!eventIdRegex.test(id)) throw notFound(`event ${id}`);
  const event = await deps.store.getEvent(environmentId, id);
  if (!event) throw notFound(`event ${id}`);
  return event;
}
