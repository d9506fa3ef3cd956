/** Name rules shared by the API and the core (SPEC §3). */

/** Categories, event types, topics, publisher events, context tags. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$';
/** An event id given by the publisher. */
export const EVENT_ID_PATTERN = '^[A-Za-z0-9_.:-]{1,128}$';

const nameRegex = new RegExp(NAME_PATTERN);
export const isValidName = (value: string): boolean => nameRegex.test(value);

/** The built-in topic of operational events (SPEC §6); its name is reserved. */
export const OPERATIONAL_TOPIC = 'herald.operational';
export const isReservedName = (value: string): boolean => value.startsWith('herald.');
