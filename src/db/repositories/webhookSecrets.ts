/**
 * Per-catalog webhook secrets, as sealed bytes: this module never sees a secret in clear (sealing and
 * opening are src/http/webhookSecrets.ts's, with the key from the environment).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface SealedWebhookSecrets {
  catalogId: string;
  keyId: string;
  current: Buffer;
  previous: { sealed: Buffer; expiresAt: Date } | undefined;
  createdAt: Date;
  rotatedAt: Date;
}

type Row = {
  catalog_id: string;
  key_id: string;
  current_secret: Buffer;
  previous_secret: Buffer | null;
  previous_expires_at: Date | null;
  created_at: Date;
  rotated_at: Date;
};

const COLUMNS = ['catalog_id', 'key_id', 'current_secret', 'previous_secret', 'previous_expires_at', 'created_at', 'rotated_at'] as const;

function fromRow(r: Row): SealedWebhookSecrets {
  return {
    catalogId: r.catalog_id,
    keyId: r.key_id,
    current: r.current_secret,
    previous: r.previous_secret && r.previous_expires_at ? { sealed: r.previous_secret, expiresAt: new Date(r.previous_expires_at) } : undefined,
    createdAt: new Date(r.created_at),
    rotatedAt: new Date(r.rotated_at),
  };
}

export async function getWebhookSecrets(db: Db, catalogId: string): Promise<SealedWebhookSecrets | undefined> {
  const row = await db.selectFrom('webhook_secrets').select(COLUMNS).where('catalog_id', '=', catalogId).executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** Replaces the catalog's secrets with one (no previous one stays valid). */
export async function setWebhookSecret(db: Db, input: { catalogId: string; keyId: string; sealed: Buffer }): Promise<void> {
  await db
    .insertInto('webhook_secrets')
    .values({ catalog_id: input.catalogId, key_id: input.keyId, current_secret: input.sealed, previous_secret: null, previous_expires_at: null, rotated_at: sql<Date>`now()` })
    .onConflict((oc) =>
      oc.column('catalog_id').doUpdateSet({ key_id: input.keyId, current_secret: input.sealed, previous_secret: null, previous_expires_at: null, rotated_at: sql<Date>`now()` }),
    )
    .execute();
}

/**
 * Makes `sealed` current and the current one previous until `previousExpiresAt`, atomically (a
 * concurrent rotation waits for the row lock). `reseal` turns the current sealed secret into the
 * previous one's sealed form (the same bytes when the key is unchanged). Undefined when the catalog
 * has no secret yet.
 */
export async function rotateWebhookSecret(
  db: Kysely<Database>,
  input: { catalogId: string; keyId: string; sealed: Buffer; previousExpiresAt: Date; reseal: (current: SealedWebhookSecrets) => Buffer },
): Promise<SealedWebhookSecrets | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('webhook_secrets').select(COLUMNS).where('catalog_id', '=', input.catalogId).forUpdate().executeTakeFirst();
    if (!row) return undefined;
    const before = fromRow(row);
    const updated = await trx
      .updateTable('webhook_secrets')
      .set({ key_id: input.keyId, current_secret: input.sealed, previous_secret: input.reseal(before), previous_expires_at: input.previousExpiresAt, rotated_at: sql<Date>`now()` })
      .where('catalog_id', '=', input.catalogId)
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return fromRow(updated);
  });
}

export async function deleteWebhookSecrets(db: Db, catalogId: string): Promise<boolean> {
  const r = await db.deleteFrom('webhook_secrets').where('catalog_id', '=', catalogId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** What `webhook secret list` shows: never a secret, sealed or not. */
export async function listWebhookSecrets(db: Db): Promise<Array<{ catalogId: string; keyId: string; previousExpiresAt: Date | null; createdAt: Date; rotatedAt: Date }>> {
  const rows = await db.selectFrom('webhook_secrets').select(['catalog_id', 'key_id', 'previous_expires_at', 'created_at', 'rotated_at']).orderBy('catalog_id').execute();
  return rows.map((r) => ({
    catalogId: r.catalog_id,
    keyId: r.key_id,
    previousExpiresAt: r.previous_expires_at ? new Date(r.previous_expires_at) : null,
    createdAt: new Date(r.created_at),
    rotatedAt: new Date(r.rotated_at),
  }));
}

/** Whether any catalog has its own secret (the service then accepts webhooks even without WEBHOOK_SECRET). */
export async function anyWebhookSecrets(db: Db): Promise<boolean> {
  const row = await db.selectFrom('webhook_secrets').select('catalog_id').limit(1).executeTakeFirst();
  return row !== undefined;
}
