/** A subscription's secrets at rest: sealed in the store, opened for use (HERALD_ENCRYPTION_KEY). */
import type { Subscription } from '../domain/types.ts';
import type { SecretBox } from '../secret-box.ts';

function mapSecrets(s: Subscription, f: (value: string) => string): Subscription {
  return {
    ...s,
    signingSecret: f(s.signingSecret),
    previousSigningSecret: s.previousSigningSecret === null ? null : f(s.previousSigningSecret),
    secretHeaderValue: s.secretHeaderValue === null ? null : f(s.secretHeaderValue),
  };
}

export const openSubscriptionSecrets = (box: SecretBox, s: Subscription): Subscription => mapSecrets(s, box.open);
export const sealSubscriptionSecrets = (box: SecretBox, s: Subscription): Subscription => mapSecrets(s, box.seal);
