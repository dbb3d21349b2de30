/**
 * Webhook secrets per catalog. The signature covers `${timestamp}.${body}` (Akeneo's scheme, kept as
 * it is), not the catalog, so what binds a delivery to its catalog is the secret: each catalog has
 * its own, and a delivery signed for one does not verify for another.
 *
 * Which secrets verify a delivery to catalog X:
 *   - X has its own (`catalog-assets webhook secret set|rotate`): its current secret, and its
 *     previous one until that expires (rotation). Never the shared WEBHOOK_SECRET.
 *   - X has none: the shared WEBHOOK_SECRET, when set (the single-secret setup this service had
 *     before). Catalogs on the shared secret are not isolated from one another; the service logs a
 *     warning while it is set. Give every catalog its own to close that.
 *   - otherwise nothing verifies (401).
 *
 * Stored sealed with AES-256-GCM under WEBHOOK_SECRET_KEY (from the environment, never in the
 * database), with the catalog id as additional authenticated data: a dump alone reveals no secret,
 * and a sealed secret copied to another catalog's row does not open there.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { getWebhookSecrets } from '../db/repositories/webhookSecrets';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const AAD_PREFIX = 'catalog-assets webhook secret v1\0';

/** A sealed secret that cannot be opened: another key, or altered bytes. Never carries key material. */
export class WebhookSecretError extends Error {
  override readonly name = 'WebhookSecretError';
}

/** 32 random bytes, URL-safe: what `webhook secret set|rotate` prints once. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** The name of a WEBHOOK_SECRET_KEY stored next to what it sealed: a short hash, so a wrong key is named, not guessed. */
export function webhookKeyId(key: Buffer): string {
  return `wk-${createHash('sha256').update('catalog-assets webhook secret key id').update(key).digest('hex').slice(0, 12)}`;
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new WebhookSecretError(`WEBHOOK_SECRET_KEY must be 32 bytes; this one has ${key.length}`);
}

export function sealWebhookSecret(key: Buffer, catalogId: string, secret: string): Buffer {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(AAD_PREFIX + catalogId));
  return Buffer.concat([iv, cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
}

export function openWebhookSecret(key: Buffer, catalogId: string, sealed: Buffer): string {
  checkKey(key);
  if (sealed.length < IV_BYTES + TAG_BYTES + 1) throw new WebhookSecretError(`the stored webhook secret of catalog ${JSON.stringify(catalogId)} is too short to be one`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(AAD_PREFIX + catalogId));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new WebhookSecretError(`the stored webhook secret of catalog ${JSON.stringify(catalogId)} does not open with this WEBHOOK_SECRET_KEY (another key, another catalog's row, or altered bytes)`);
  }
}

export type CatalogSecrets =
  /** The catalog's own secrets: current first, then the previous one while it is valid. */
  | { source: 'catalog'; secrets: string[] }
  /** The shared WEBHOOK_SECRET: the catalog has none of its own. */
  | { source: 'shared'; secrets: string[] }
  /** Nothing can verify a delivery for this catalog. */
  | { source: 'none'; secrets: [] }
  /** The catalog has its own secrets but this process cannot open them (no or another key). */
  | { source: 'unavailable'; secrets: []; reason: string };

export type WebhookSecretResolver = (catalogId: string) => Promise<CatalogSecrets>;

export interface ResolverOptions {
  db: Kysely<Database>;
  /** WEBHOOK_SECRET_KEY; without it, catalogs with their own secrets cannot be verified (never the shared one instead). */
  key: Buffer | undefined;
  /** WEBHOOK_SECRET. */
  sharedSecret: string | undefined;
  now?: () => number;
}

export function createWebhookSecretResolver(o: ResolverOptions): WebhookSecretResolver {
  const now = o.now ?? Date.now;
  return async (catalogId) => {
    const stored = await getWebhookSecrets(o.db, catalogId);
    if (!stored) return o.sharedSecret ? { source: 'shared', secrets: [o.sharedSecret] } : { source: 'none', secrets: [] };
    if (!o.key) return { source: 'unavailable', secrets: [], reason: 'WEBHOOK_SECRET_KEY is not set, and this catalog has its own webhook secret' };
    if (stored.keyId !== webhookKeyId(o.key)) {
      return { source: 'unavailable', secrets: [], reason: `this catalog's webhook secret is sealed with key ${stored.keyId}, not this WEBHOOK_SECRET_KEY (${webhookKeyId(o.key)})` };
    }
    try {
      const secrets = [openWebhookSecret(o.key, catalogId, stored.current)];
      if (stored.previous && stored.previous.expiresAt.getTime() > now()) secrets.push(openWebhookSecret(o.key, catalogId, stored.previous.sealed));
      return { source: 'catalog', secrets };
    } catch (err) {
      if (err instanceof WebhookSecretError) return { source: 'unavailable', secrets: [], reason: err.message };
      throw err;
    }
  };
}
