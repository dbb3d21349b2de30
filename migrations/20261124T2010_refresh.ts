// Frozen in time: takes Kysely<any> and never imports application types.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // The attribute fingerprint the SKU's assets were last fully generated from: `changed` and `stale`
  // selection compare it with the snapshot's current fingerprint in one indexed query.
  await db.schema.alterTable('products').addColumn('settled_fingerprint', 'text').execute();
  await db.schema.alterTable('products').addColumn('settled_at', 'timestamptz').execute();
  await db.schema.createIndex('products_catalog_status_idx').on('products').columns(['catalog_id', 'status', 'sku']).execute();

  await db.schema
    .createTable('refresh_runs')
    .addColumn('workflow_id', 'text', (c) => c.primaryKey())
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('selection', 'jsonb', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('dry_run', 'boolean', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('counts', 'jsonb', (c) => c.notNull())
    .addColumn('cost_cents', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('budget_exhausted', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('refresh_runs_catalog_idx').on('refresh_runs').columns(['catalog_id', 'started_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('refresh_runs').ifExists().execute();
  await db.schema.dropIndex('products_catalog_status_idx').ifExists().execute();
  await db.schema.alterTable('products').dropColumn('settled_at').execute();
  await db.schema.alterTable('products').dropColumn('settled_fingerprint').execute();
}
