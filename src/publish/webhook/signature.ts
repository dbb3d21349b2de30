/**
 * The Standard Webhooks signature scheme (standardwebhooks.com, spec 1.0.0), symmetric flavour:
 *
 *   webhook-id:        the event id (the same on every retry: the receiver's idempotency key)
 *   webhook-timestamp: integer unix seconds of this attempt
 *   webhook-signature: v1,<base64 HMAC-SHA256 of "${id}.${timestamp}.${body}">   (space-separated, one per secret)
 *
 * A secret written `whsec_<base64>` is the base64-decoded bytes (what Standard Webhooks libraries
 * hand out and expect); any other value is used as its UTF-8 bytes (those libraries' `raw` format).
 * Either way it must be at least 24 bytes, as the spec asks. Several secrets separated by spaces sign
 * every delivery once each, so a receiver can rotate without missing one.
 */
import { createHmac } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
export const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 512;

/** Why a secret cannot be used, without ever repeating it. */
export class SecretFormatError extends Error {}

function decodeOne(secret: string): Buffer {
  if (secret.startsWith(SECRET_PREFIX)) {
    const b64 = secret.slice(SECRET_PREFIX.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new SecretFormatError('a whsec_ secret must be followed by standard base64');
    const key = Buffer.from(b64, 'base64');
    if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) throw new SecretFormatError(`a whsec_ secret must decode to ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} bytes, not ${key.length}`);
    return key;
  }
  const key = Buffer.from(secret, 'utf8');
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) throw new SecretFormatError(`a secret must be ${MIN_SECRET_BYTES}-${MAX_SECRET_BYTES} bytes (or whsec_<base64>), not ${key.length}`);
  return key;
}

/** The signing keys in a secret value: one, or several separated by whitespace (rotation). */
export function decodeSecrets(value: string): Buffer[] {
  const parts = value.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length === 0) throw new SecretFormatError('the secret is empty');
  if (parts.length > 4) throw new SecretFormatError(`at most 4 secrets at once (rotation), not ${parts.length}`);
  return parts.map(decodeOne);
}

/** The `webhook-signature` header value for one attempt. */
export function signatureHeader(keys: readonly Buffer[], id: string, timestampSeconds: number, body: string): string {
  return keys.map((key) => `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64')}`).join(' ');
}
