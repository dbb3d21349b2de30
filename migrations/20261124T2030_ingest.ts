// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Every PIM webhook event seen, per catalog: a redelivered event id is recognised and starts nothing.
  // `outcome` says what the event did to the snapshot; `trigger_pending` marks the events whose product
  // workflow has not been started yet (a redelivery retries exactly those).
  await db.schema
    .createTable('webhook_events')
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('event_datetime', 'timestamptz', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('trigger_pending', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('webhook_events_pkey', ['catalog_id', 'event_id'])
    .addCheckConstraint('webhook_events_outcome_check', sql`outcome in ('applied', 'unchanged', 'stale', 'superseded')`)
    .execute();
  await db.schema.createIndex('webhook_events_received_idx').on('webhook_events').column('received_at').execute();
  await db.schema
    .createIndex('webhook_events_pending_idx')
    .on('webhook_events')
    .columns(['catalog_id', 'sku'])
    .where(sql.ref('trigger_pending'), '=', true)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_events').ifExists().execute();
}
