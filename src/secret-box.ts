/**
 * Secrets at rest (HERALD_ENCRYPTION_KEY). Every stored secret carries a tag of its kind, so what
 * a user sends can never be read back as the other kind:
 *
 * - `plain:<value>`: kept as given, written when no key is set;
 * - `enc:v1:<iv>:<tag>:<ciphertext>` (base64url): AES-256-GCM with a key derived by SHA-256 from
 *   the configured text, written when a key is set.
 *
 * Both kinds may sit side by side (a key set later, or removed). A stored value that is neither,
 * or an `enc:v1:` value this box cannot open (no key, another key, altered or malformed), is
 * refused with UnopenableSecretError: it is never guessed to be plaintext.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const PLAIN = 'plain:';
const SEALED = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A stored secret that cannot be opened here. The message names the cause, never the value. */
export class UnopenableSecretError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnopenableSecretError';
  }
}

export interface SecretBox {
  /** The stored form of `plain`: `enc:v1:…` with a key, `plain:…` without. */
  seal(plain: string): string;
  /** The value `seal` was given; throws UnopenableSecretError when it cannot be had. */
  open(stored: string): string;
}

function decode(part: string | undefined, bytes: number | null): Buffer | null {
  if (part === undefined || !/^[A-Za-z0-9_-]*$/.test(part)) return null;
  const buffer = Buffer.from(part, 'base64url');
  return bytes === null || buffer.length === bytes ? buffer : null;
}

export function makeSecretBox(encryptionKey: string | null): SecretBox {
  const key = encryptionKey ? createHash('sha256').update(encryptionKey).digest() : null;

  const openSealed = (body: string): string => {
    if (!key) throw new UnopenableSecretError('the secret is encrypted and HERALD_ENCRYPTION_KEY is not set');
    const parts = body.split(':');
    const iv = decode(parts[0], IV_BYTES);
    const tag = decode(parts[1], TAG_BYTES);
    const ciphertext = decode(parts[2], null);
    if (parts.length !== 3 || !iv || !tag || !ciphertext) {
      throw new UnopenableSecretError('the encrypted secret is malformed');
    }
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new UnopenableSecretError(
        'the encrypted secret does not open with HERALD_ENCRYPTION_KEY (sealed with another key, or altered)',
      );
    }
  };

  return {
    seal(plain) {
      if (!key) return `${PLAIN}${plain}`;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return `${SEALED}${iv.toString('base64url')}:${tag.toString('base64url')}:${body.toString('base64url')}`;
    },
    open(stored) {
      if (stored.startsWith(PLAIN)) return stored.slice(PLAIN.length);
      if (stored.startsWith(SEALED)) return openSealed(stored.slice(SEALED.length));
      throw new UnopenableSecretError('the stored secret has no plain: or enc:v1: tag');
    },
  };
}
