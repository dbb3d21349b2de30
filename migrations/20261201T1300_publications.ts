// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The ledger of publications: one row per catalog, SKU, slot, asset version and destination. The
  // natural key is unique so a retried publish activity finds its row, and a published row is never
  // sent again; `sent_at` orders what each destination was last shown (a rollback sends an older
  // version again, so the row is reopened, not duplicated).
  await db.schema
    .createTable('publications')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('catalog_id', 'text', (c) => c.notNull().references('catalogs.id').onDelete('cascade'))
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('asset_id', 'bigint', (c) => c.notNull().references('assets.id').onDelete('cascade'))
    .addColumn('destination', 'text', (c) => c.notNull())
    .addColumn('destination_kind', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('remote_id', 'text')
    .addColumn('already_present', 'boolean')
    .addColumn('receipt', 'jsonb')
    .addColumn('alt_text', 'text')
    .addColumn('variant', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('sends', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error_code', 'text')
    .addColumn('last_error', 'text')
    .addColumn('requested_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('sent_at', 'timestamptz')
    .addCheckConstraint('publications_status_check', sql`status in ('pending', 'published', 'failed', 'skipped')`)
    .addUniqueConstraint('publications_natural_key', ['catalog_id', 'sku', 'slot', 'version', 'destination'])
    .execute();
  await db.schema.createIndex('publications_by_destination').on('publications').columns(['catalog_id', 'destination', 'status']).execute();
  await db.schema.createIndex('publications_by_sku').on('publications').columns(['catalog_id', 'sku', 'slot', 'destination', 'sent_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('publications').ifExists().execute();
}
