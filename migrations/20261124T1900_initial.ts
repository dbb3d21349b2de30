// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('catalogs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('plan', 'jsonb')
    .addColumn('settings', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('products')
    .addColumn('catalog_id', 'text', (c) => c.notNull().references('catalogs.id'))
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('attributes', 'jsonb', (c) => c.notNull())
    .addColumn('attributes_fingerprint', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('pim_updated_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('products_pkey', ['catalog_id', 'sku'])
    .addCheckConstraint('products_status_check', sql`status in ('active', 'removed')`)
    .execute();

  // The ledger of paid jobs: a row exists before the submit is sent, so a crash between the provider's
  // answer and the workflow's next step leaves a trace and the same key is reused.
  await db.schema
    .createTable('generation_jobs')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('operation', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('provider_job_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('images_requested', 'integer', (c) => c.notNull())
    .addColumn('images_billed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_cents', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('submit_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('ambiguous_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('image_outcomes', 'jsonb')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('completed_at', 'timestamptz')
    .addCheckConstraint('generation_jobs_status_check', sql`status in ('submitting', 'submitted', 'completed', 'failed')`)
    .execute();
  await db.schema.createIndex('generation_jobs_sku_idx').on('generation_jobs').columns(['catalog_id', 'sku', 'slot']).execute();
  await db.schema.createIndex('generation_jobs_provider_job_idx').on('generation_jobs').column('provider_job_id').execute();

  await db.schema
    .createTable('assets')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('generation_job_id', 'bigint', (c) => c.notNull().references('generation_jobs.id'))
    .addColumn('output_index', 'integer', (c) => c.notNull())
    .addColumn('prompt', 'text', (c) => c.notNull())
    .addColumn('checksum', 'text', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('storage_key', 'text', (c) => c.notNull())
    .addColumn('placeholder', 'text', (c) => c.notNull())
    .addColumn('dominant_color', 'text', (c) => c.notNull())
    .addColumn('cost_cents', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('assets_version_key', ['catalog_id', 'sku', 'slot', 'version'])
    .addUniqueConstraint('assets_job_output_key', ['generation_job_id', 'output_index'])
    .addCheckConstraint('assets_status_check', sql`status in ('current', 'superseded', 'pending_review', 'rejected', 'retired')`)
    .execute();

  await db.schema
    .createTable('asset_variants')
    .addColumn('asset_id', 'bigint', (c) => c.notNull().references('assets.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('storage_key', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('asset_variants_pkey', ['asset_id', 'name'])
    .execute();

  // The SKU-to-asset mapping a storefront publishes from: one current asset per SKU and slot.
  await db.schema
    .createTable('current_assets')
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('asset_id', 'bigint', (c) => c.notNull().references('assets.id'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('current_assets_pkey', ['catalog_id', 'sku', 'slot'])
    .execute();

  // The last attempt per SKU and slot, with its reason when it failed: what operators and the
  // `stale` selection read.
  await db.schema
    .createTable('slot_attempts')
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text')
    .addColumn('error_type', 'text')
    .addColumn('error_message', 'text')
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('attempted_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('slot_attempts_pkey', ['catalog_id', 'sku', 'slot'])
    .addCheckConstraint('slot_attempts_outcome_check', sql`outcome in ('generated', 'skipped', 'failed')`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['slot_attempts', 'current_assets', 'asset_variants', 'assets', 'generation_jobs', 'products', 'catalogs']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
