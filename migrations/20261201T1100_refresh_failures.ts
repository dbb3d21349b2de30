// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // What a refresh could not do, with slot and reason. The workflow's result and this column keep the
  // first ones only (its history must stay bounded); refresh_failures keeps every one a dry run found.
  await db.schema
    .alterTable('refresh_runs')
    .addColumn('failures', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('failure_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('refresh_failures')
    .addColumn('workflow_id', 'text', (c) => c.notNull())
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('error_type', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('refresh_failures_pkey', ['workflow_id', 'sku', 'slot'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('refresh_failures').ifExists().execute();
  await db.schema.alterTable('refresh_runs').dropColumn('failure_count').dropColumn('failures').execute();
}
