/**
 * Encryption at rest for subscription secrets (HERALD_ENCRYPTION_KEY): AES-256-GCM with a key
 * derived by SHA-256 from the configured text. Without a key, values are stored as given.
 * Sealed values read `enc:v1:<iv>:<tag>:<ciphertext>` (base64url), so both kinds can coexist.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const PREFIX = 'enc:v1:';

export interface SecretBox {
  seal(plain: string): string;
  open(stored: string): string;
}

export function makeSecretBox(encryptionKey: string | null): SecretBox {
  const key = encryptionKey ? createHash('sha256').update(encryptionKey).digest() : null;
  return {
    seal(plain) {
      if (!key) return plain;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${PREFIX}${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${body.toString('base64url')}`;
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      if (!key) throw new Error('a secret is encrypted but HERALD_ENCRYPTION_KEY is not set');
      const [iv, tag, body] = stored.slice(PREFIX.length).split(':') as [string, string, string];
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
