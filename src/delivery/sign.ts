/**
 * Standard Webhooks signatures (SPEC §5): `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)).
 * The official `standardwebhooks` and `svix` verifiers are the judges of this format (sign.test.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A fresh signing secret: `whsec_` + base64 of 32 random bytes. */
export function newSigningSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/** True for `whsec_` + canonical base64 decoding to 24..64 bytes (what callers may supply on rotate). */
export function isValidSigningSecret(secret: string): boolean {
  if (!secret.startsWith(PREFIX)) return false;
  const encoded = secret.slice(PREFIX.length);
  if (encoded.length === 0 || !BASE64.test(encoded)) return false;
  const bytes = Buffer.from(encoded, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

// Like the official libraries, a secret without the prefix is taken as bare base64.
function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

function hmac(key: Buffer, msgId: string, timestampSeconds: number | string, body: string): string {
  return createHmac('sha256', key).update(`${msgId}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
}

/** One signature, `v1,<base64>`, for `body` sent as message `msgId` at `timestampSeconds` (unix seconds). */
export function signPayload(secret: string, msgId: string, timestampSeconds: number, body: string): string {
  return `v1,${hmac(keyOf(secret), msgId, timestampSeconds, body)}`;
}

/**
 * The `webhook-signature` header value: one signature per secret, space-separated, so receivers
 * holding either the old or the new secret during a rotation both verify.
 */
export function signatureHeader(
  secrets: readonly string[],
  msgId: string,
  timestampSeconds: number,
  body: string,
): string {
  return secrets.map((secret) => signPayload(secret, msgId, timestampSeconds, body)).join(' ');
}

/** The three Standard Webhooks headers, by role rather than by name (`webhook-*` or `svix-*`). */
export interface SignatureHeaders {
  id: string;
  timestamp: string;
  signature: string;
}

/**
 * Checks a received webhook the way a receiver should: the timestamp within `toleranceSeconds`
 * of `nowSeconds` (default 300, as the official libraries), and any `v1` signature in the
 * space-separated list matching, compared in constant time.
 */
export function verifySignature(
  secret: string,
  headers: SignatureHeaders,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  if (!/^\d{1,15}$/.test(headers.timestamp)) return false;
  const timestamp = Number(headers.timestamp);
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  // Sign the timestamp text exactly as received: it is what the sender signed.
  const expected = Buffer.from(hmac(keyOf(secret), headers.id, headers.timestamp, body));
  let matched = false;
  for (const entry of headers.signature.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1));
    // Keep looping after a match so the time taken does not say which entry matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}
