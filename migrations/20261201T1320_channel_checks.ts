// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // One row per asset and channel profile: the latest check of that asset against that profile, with
  // the figures it measured, so the results page, `status --channel` and the publish gate read the
  // same verdict. Written in the transaction that records the asset; a re-check replaces the row.
  await db.schema
    .createTable('channel_checks')
    .addColumn('asset_id', 'bigint', (c) => c.notNull().references('assets.id').onDelete('cascade'))
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('pass', 'boolean', (c) => c.notNull())
    .addColumn('failures', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('notes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('processing', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('edge_min', 'integer', (c) => c.notNull())
    .addColumn('edge_mean', 'real', (c) => c.notNull())
    .addColumn('fill', 'real', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('megapixels', 'real', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('colour_space', 'text', (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('border', 'boolean', (c) => c.notNull())
    .addColumn('checked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('channel_checks_pkey', ['asset_id', 'profile'])
    .addCheckConstraint('channel_checks_fill_check', sql`fill >= 0 and fill <= 1`)
    .addCheckConstraint('channel_checks_edge_check', sql`edge_min between 0 and 255`)
    .execute();
  await db.schema.createIndex('channel_checks_failing_idx').on('channel_checks').columns(['profile', 'asset_id']).where(sql.ref('pass'), '=', false).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('channel_checks').ifExists().execute();
}
