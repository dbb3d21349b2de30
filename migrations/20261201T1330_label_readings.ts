// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Every OCR reading of a label output: what was asked for, what was read, how alike, and the verdict.
  // One row per paid step and output (a retried reading replaces its row); the step's ledger row and,
  // once kept, its asset are found through the idempotency key.
  await db.schema
    .createTable('label_readings')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('catalog_id', 'text', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('slot', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('provider_job_id', 'text')
    .addColumn('output_index', 'integer', (c) => c.notNull())
    .addColumn('storage_key', 'text', (c) => c.notNull())
    .addColumn('expected', 'text', (c) => c.notNull())
    .addColumn('read_text', 'text')
    .addColumn('similarity', 'double precision')
    .addColumn('threshold', 'double precision', (c) => c.notNull())
    .addColumn('verdict', 'text', (c) => c.notNull())
    .addColumn('locale', 'text')
    .addColumn('language', 'text')
    .addColumn('confidence', 'double precision')
    .addColumn('ocr_ms', 'integer')
    .addColumn('read_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('label_readings_step_output_key', ['idempotency_key', 'output_index'])
    .addCheckConstraint('label_readings_verdict_check', sql`verdict in ('pass', 'mismatch', 'unchecked')`)
    .addCheckConstraint('label_readings_similarity_check', sql`(similarity is null) = (verdict = 'unchecked') and (similarity is null or similarity between 0 and 1)`)
    .execute();
  await db.schema.createIndex('label_readings_slot_idx').on('label_readings').columns(['catalog_id', 'sku', 'slot', 'read_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('label_readings').ifExists().execute();
}
