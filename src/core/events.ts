/** The event log: what was accepted, as stored. */
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

export async function getEvent(deps: CoreDeps, environmentId: string, id: string): Promise<StoredEvent> {
  const event = await deps.store.getEvent(environmentId, id);
  if (!event) throw notFound(`event ${id}`);
  return event;
}
