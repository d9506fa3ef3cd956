/**
 * A subscription's secrets at rest: sealed in the store, opened for use (src/secret-box.ts).
 *
 * A stored secret that cannot be opened (encrypted under a key this process does not have, or
 * not valid ciphertext) opens as UNAVAILABLE_SECRET instead of failing the whole read: lists, GET,
 * PATCH and disable keep working, and a write leaves such a value as it is stored. Nothing is ever
 * sent or signed with it: deliveries and test sends fail their attempt instead
 * (secretsUnavailableFor), and GET /secret answers 503.
 */
import type { Subscription } from '../domain/types.ts';
import { type SecretBox, UnopenableSecretError } from '../secret-box.ts';

export type SecretField = 'signingSecret' | 'previousSigningSecret' | 'secretHeaderValue';

/**
 * What a secret that cannot be opened reads as. U+2039/U+203A lie outside what a header value
 * (and a `whsec_` secret) may hold, so no value a user gives can be mistaken for it.
 */
export const UNAVAILABLE_SECRET = '\u2039unavailable: cannot be decrypted with this HERALD_ENCRYPTION_KEY\u203a';

function openOne(box: SecretBox, stored: string): string {
  try {
    return box.open(stored);
  } catch (error) {
    if (error instanceof UnopenableSecretError) return UNAVAILABLE_SECRET;
    throw error;
  }
}

/** The subscription with its secrets in clear, or UNAVAILABLE_SECRET where one cannot be opened. */
export function openSubscriptionSecrets(box: SecretBox, s: Subscription): Subscription {
  return {
    ...s,
    signingSecret: openOne(box, s.signingSecret),
    previousSigningSecret: s.previousSigningSecret === null ? null : openOne(box, s.previousSigningSecret),
    secretHeaderValue: s.secretHeaderValue === null ? null : openOne(box, s.secretHeaderValue),
  };
}

/**
 * The subscription with its secrets sealed for the store. A field still UNAVAILABLE_SECRET keeps
 * the text `stored` holds (the subscription as read before this write): it was never opened, so
 * it is written back untouched. New subscriptions have no `stored`.
 */
export function sealSubscriptionSecrets(box: SecretBox, s: Subscription, stored?: Subscription): Subscription {
  const seal = (field: SecretField, value: string): string => {
    if (value !== UNAVAILABLE_SECRET) return box.seal(value);
    const kept = stored?.[field];
    if (kept === undefined || kept === null) throw new Error(`${field} is unavailable and no stored value is kept`);
    return kept;
  };
  return {
    ...s,
    signingSecret: seal('signingSecret', s.signingSecret),
    previousSigningSecret:
      s.previousSigningSecret === null ? null : seal('previousSigningSecret', s.previousSigningSecret),
    secretHeaderValue: s.secretHeaderValue === null ? null : seal('secretHeaderValue', s.secretHeaderValue),
  };
}

/**
 * The secrets a request sent at `nowMs` would carry that are unavailable: the signing secret, the
 * previous one while it still signs, the static secret header's value.
 */
export function secretsUnavailableFor(s: Subscription, nowMs: number): SecretField[] {
  const needed: SecretField[] = ['signingSecret'];
  if (s.previousSigningSecret !== null && s.previousSecretExpiresAt !== null && s.previousSecretExpiresAt > nowMs) {
    needed.push('previousSigningSecret');
  }
  if (s.secretHeaderName !== null && s.secretHeaderValue !== null) needed.push('secretHeaderValue');
  return needed.filter((field) => s[field] === UNAVAILABLE_SECRET);
}

/** The attempt error of a request not sent for want of its secrets (names fields, never values). */
export const unavailableSecretsMessage = (fields: readonly SecretField[]): string =>
  `not sent: ${fields.join(', ')} cannot be decrypted with this server's HERALD_ENCRYPTION_KEY (unset, not ` +
  'the key it was encrypted with, or not valid ciphertext); set that key, or replace the secret ' +
  '(rotate the signing secret, or PATCH secretHeaderValue)';
