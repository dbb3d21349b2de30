// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Every attempt to deliver an outbound event (signed webhook), with what the receiver answered, so
  // an operator can see why a receiver is not getting events. Attempts are numbered per event and
  // destination; the answer is an excerpt (the receiver's body is untrusted and unbounded).
  await db.schema
    .createTable('outbound_deliveries')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('destination', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('http_status', 'integer')
    .addColumn('answer', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('attempted_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('outbound_deliveries_attempt_key', ['catalog_id', 'destination', 'event_id', 'attempt'])
    .addCheckConstraint('outbound_deliveries_outcome_check', sql`outcome in ('delivered', 'retryable', 'rejected')`)
    .addCheckConstraint('outbound_deliveries_answer_check', sql`answer is null or char_length(answer) <= 500`)
    .addCheckConstraint('outbound_deliveries_attempt_check', sql`attempt >= 1`)
    .execute();
  await db.schema
    .createIndex('outbound_deliveries_recent_idx')
    .on('outbound_deliveries')
    .columns(['catalog_id', 'attempted_at desc', 'id desc'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('outbound_deliveries').ifExists().execute();
}
