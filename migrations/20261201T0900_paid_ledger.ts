// Frozen in time: takes Kysely<any> and never imports application types.
import { sql, type Kysely } from 'kysely';

/**
 * The ledger tells every state of a paid step apart, so a paid image is never forgotten:
 * submitting (row open, nothing sent), sending (the request is about to leave or has left: a crash
 * here is ambiguous), ambiguous (sent, maybe billed, parked for an operator), submitted (the provider
 * has the job), delivered (billed, every output downloaded and stored), completed (kept as an asset),
 * unusable (billed and delivered but expired, corrupt, rejected by validation or not storable),
 * failed (failed at the provider or refused, nothing billed).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('generation_jobs').dropConstraint('generation_jobs_status_check').execute();
  await db.schema
    .alterTable('generation_jobs')
    .addCheckConstraint(
      'generation_jobs_status_check',
      sql`status in ('submitting', 'sending', 'ambiguous', 'submitted', 'delivered', 'completed', 'unusable', 'failed')`,
    )
    .execute();
  await db.schema
    .alterTable('generation_jobs')
    // The stored originals of a delivered job: [{ index, storageKey, checksum, width, height, format }].
    .addColumn('outputs', 'jsonb')
    // What a billed-but-unusable job was unusable for (expired, corrupt, storage, validation, operator).
    .addColumn('unusable_reason', 'text')
    // The references a submit sent, fixed the first time (presigned URLs), so a retry sends the same bytes.
    .addColumn('request_refs', 'jsonb')
    .addColumn('request_sha256', 'text')
    // Which provider made it: simulator or real, base URL, model.
    .addColumn('provider', 'text')
    // What the provider said it charged, beside the computed cost.
    .addColumn('provider_cost_usd', 'numeric(12, 4)')
    // An operator released this paid attempt from the re-buy cap (`catalog-assets retry`).
    .addColumn('released_at', 'timestamptz')
    .addColumn('released_by', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`update generation_jobs set status = 'failed' where status in ('ambiguous', 'unusable')`.execute(db);
  await sql`update generation_jobs set status = 'submitting' where status = 'sending'`.execute(db);
  await sql`update generation_jobs set status = 'submitted' where status = 'delivered'`.execute(db);
  await db.schema.alterTable('generation_jobs').dropConstraint('generation_jobs_status_check').execute();
  await db.schema
    .alterTable('generation_jobs')
    .addCheckConstraint('generation_jobs_status_check', sql`status in ('submitting', 'submitted', 'completed', 'failed')`)
    .execute();
  await db.schema
    .alterTable('generation_jobs')
    .dropColumn('outputs')
    .dropColumn('unusable_reason')
    .dropColumn('request_refs')
    .dropColumn('request_sha256')
    .dropColumn('provider')
    .dropColumn('provider_cost_usd')
    .dropColumn('released_at')
    .dropColumn('released_by')
    .execute();
}
