/** Which subscriptions an event goes to (SPEC §4 Subscriptions `events`). */

/** A subscription's `events` list matches a type when it names it or holds `*`. */
export function wantsType(events: readonly string[], type: string): boolean {
  return events.includes('*') || events.includes(type);
}
