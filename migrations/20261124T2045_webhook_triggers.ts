// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A yes/no "trigger pending" could not tell a workflow start that failed (retry it on redelivery)
  // from one a concurrent delivery is making right now (leave it), so concurrent redeliveries of one
  // batch could start a workflow twice. `trigger_state` follows the start the event asked for:
  // pending (claimed at trigger_claimed_at, being started), failed (a redelivery retries it), none
  // (started, or nothing to start).
  await db.schema.dropIndex('webhook_events_pending_idx').ifExists().execute();
  await db.schema
    .alterTable('webhook_events')
    .addColumn('trigger_state', 'text', (c) => c.notNull().defaultTo('none'))
    .addColumn('trigger_claimed_at', 'timestamptz')
    .execute();
  await sql`update webhook_events set trigger_state = 'failed' where trigger_pending`.execute(db);
  await db.schema.alterTable('webhook_events').dropColumn('trigger_pending').execute();
  await db.schema
    .alterTable('webhook_events')
    .addCheckConstraint('webhook_events_trigger_state_check', sql`trigger_state in ('none', 'pending', 'failed')`)
    .execute();
  await db.schema
    .createIndex('webhook_events_trigger_idx')
    .on('webhook_events')
    .columns(['catalog_id', 'sku'])
    .where(sql.ref('trigger_state'), '<>', 'none')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_events_trigger_idx').ifExists().execute();
  await db.schema.alterTable('webhook_events').addColumn('trigger_pending', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
  await sql`update webhook_events set trigger_pending = true where trigger_state <> 'none'`.execute(db);
  await db.schema.alterTable('webhook_events').dropConstraint('webhook_events_trigger_state_check').execute();
  await db.schema.alterTable('webhook_events').dropColumn('trigger_claimed_at').dropColumn('trigger_state').execute();
  await db.schema
    .createIndex('webhook_events_pending_idx')
    .on('webhook_events')
    .columns(['catalog_id', 'sku'])
    .where(sql.ref('trigger_pending'), '=', true)
    .execute();
}
