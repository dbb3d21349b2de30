// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Every review decision, with who made it and when (an approval, a rejection with its note, or the
  // catalog's default applied when nobody decided in time).
  await db.schema
    .createTable('review_decisions')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('asset_id', 'bigint', (c) => c.notNull().references('assets.id'))
    .addColumn('decision', 'text', (c) => c.notNull())
    .addColumn('note', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('decided_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('review_decisions_asset_key', ['asset_id'])
    .addCheckConstraint('review_decisions_decision_check', sql`decision in ('approve', 'reject', 'timeout-approve', 'timeout-keep')`)
    .execute();
  await db.schema.createIndex('review_decisions_sku_idx').on('review_decisions').columns(['catalog_id', 'sku', 'slot']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('review_decisions').ifExists().execute();
}
