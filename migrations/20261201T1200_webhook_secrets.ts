// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // One webhook secret per catalog (two during a rotation), so a delivery signed for one catalog
  // cannot be replayed into another. Stored sealed with AES-256-GCM under WEBHOOK_SECRET_KEY, bound to
  // the catalog id: a database dump alone does not reveal a secret, and a row copied to another
  // catalog does not open there.
  await db.schema
    .createTable('webhook_secrets')
    .addColumn('catalog_id', 'text', (c) => c.primaryKey().references('catalogs.id').onDelete('cascade'))
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('current_secret', 'bytea', (c) => c.notNull())
    .addColumn('previous_secret', 'bytea')
    .addColumn('previous_expires_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('rotated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('webhook_secrets_previous_check', sql`(previous_secret is null) = (previous_expires_at is null)`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_secrets').ifExists().execute();
}
