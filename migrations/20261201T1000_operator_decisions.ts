// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A slot an operator rolled back: it stays on the chosen asset while the slot's inputs are what they
  // were (`inputs_fingerprint`, or the pinned asset's own fingerprint), until a release.
  await db.schema
    .createTable('slot_pins')
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('asset_id', 'bigint', (c) => c.notNull().references('assets.id'))
    .addColumn('inputs_fingerprint', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('pinned_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('slot_pins_pkey', ['catalog_id', 'sku', 'slot'])
    .execute();

  // Fingerprints a review declined (rejected without a note, or no decision in time with `keep`): not
  // bought again by a later trigger; changed data gives another fingerprint, a note another prompt.
  await db.schema
    .createTable('declined_fingerprints')
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('asset_id', 'bigint', (c) => c.notNull().references('assets.id'))
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('declined_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('declined_fingerprints_pkey', ['catalog_id', 'sku', 'slot', 'fingerprint'])
    .execute();

  // A refresh's budget, in images, and one reservation per paid step (by idempotency key) taken before
  // it pays. What a reservation counts comes from its ledger row once the job is billed.
  await db.schema
    .createTable('refresh_budgets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('limit_images', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('refresh_budgets_limit_check', sql`limit_images >= 0`)
    .execute();
  await db.schema
    .createTable('budget_reservations')
    .addColumn('budget_id', 'text', (c) => c.notNull().references('refresh_budgets.id').onDelete('cascade'))
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('images', 'integer', (c) => c.notNull())
    .addColumn('reserved_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('budget_reservations_pkey', ['budget_id', 'idempotency_key'])
    .addCheckConstraint('budget_reservations_images_check', sql`images >= 0`)
    .execute();
  await db.schema.createIndex('budget_reservations_key_idx').on('budget_reservations').column('idempotency_key').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['budget_reservations', 'refresh_budgets', 'declined_fingerprints', 'slot_pins']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
