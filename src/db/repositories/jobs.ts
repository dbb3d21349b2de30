/**
 * The ledger of paid jobs. A row is written before a submit is sent and keyed by the idempotency key,
 * so a retried or crashed submit finds its row (and, once known, the provider's job id) again.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface LedgerOpen {
  idempotencyKey: string;
  catalogId: string;
  sku: string;
  slot: string;
  workflowId: string;
  runId: string;
  operation: string;
  model: string;
  fingerprint: string;
  imagesRequested: number;
}

const LEDGER_COLUMNS = [
  'id', 'idempotency_key', 'catalog_id', 'sku', 'slot', 'workflow_id', 'run_id', 'operation', 'model', 'fingerprint',
  'provider_job_id', 'status', 'images_requested', 'images_billed', 'cost_cents', 'submit_attempts', 'ambiguous_attempts',
  'image_outcomes', 'error_code', 'error_message', 'created_at', 'updated_at', 'completed_at',
] as const;

/** Opens (or re-opens) the ledger row of a submit and counts the attempt. */
export async function openLedgerEntry(db: Db, e: LedgerOpen) {
  return db
    .insertInto('generation_jobs')
    .values({
      idempotency_key: e.idempotencyKey,
      catalog_id: e.catalogId,
      sku: e.sku,
      slot: e.slot,
      workflow_id: e.workflowId,
      run_id: e.runId,
      operation: e.operation,
      model: e.model,
      fingerprint: e.fingerprint,
      status: 'submitting',
      images_requested: e.imagesRequested,
      submit_attempts: 1,
      updated_at: sql<Date>`now()`,
    })
    .onConflict((oc) =>
      oc.column('idempotency_key').doUpdateSet((eb) => ({
        submit_attempts: sql<number>`${eb.ref('generation_jobs.submit_attempts')} + 1`,
        updated_at: sql<Date>`now()`,
      })),
    )
    .returning([...LEDGER_COLUMNS])
    .executeTakeFirstOrThrow();
}

export async function markSubmitted(db: Db, idempotencyKey: string, providerJobId: string): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({ provider_job_id: providerJobId, status: 'submitted', updated_at: sql<Date>`now()` })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', 'in', ['submitting', 'submitted'])
    .execute();
}

/** An ambiguous failure (the request may have reached the provider): visible in the ledger. */
export async function markAmbiguous(db: Db, idempotencyKey: string, message: string): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({
      ambiguous_attempts: sql<number>`ambiguous_attempts + 1`,
      error_message: message,
      updated_at: sql<Date>`now()`,
    })
    .where('idempotency_key', '=', idempotencyKey)
    .execute();
}

/** The provider finished the job: bill per image actually returned, and keep each image's outcome. */
export async function markJobBilled(
  db: Db,
  idempotencyKey: string,
  imagesBilled: number,
  centsPerImage: number,
  imageOutcomes: Array<{ index: number; outcome: string; code?: string; message?: string }>,
): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({
      images_billed: imagesBilled,
      cost_cents: imagesBilled * centsPerImage,
      image_outcomes: JSON.stringify(imageOutcomes),
      updated_at: sql<Date>`now()`,
    })
    .where('idempotency_key', '=', idempotencyKey)
    .execute();
}

export async function completeLedgerEntry(db: Db, idempotencyKey: string): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({ status: 'completed', error_code: null, completed_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
    .where('idempotency_key', '=', idempotencyKey)
    .execute();
}

export async function failLedgerEntry(db: Db, idempotencyKey: string, errorCode: string, message: string): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({ status: 'failed', error_code: errorCode, error_message: message, completed_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', '!=', 'completed')
    .execute();
}

export async function getLedgerEntry(db: Db, idempotencyKey: string) {
  return db.selectFrom('generation_jobs').select([...LEDGER_COLUMNS]).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
}

/**
 * How many finished (completed or failed) jobs exist for this exact step and fingerprint: the attempt
 * number of the next one. An unfinished job shares the number, so its key (and the provider's job)
 * is reused instead of paying again.
 */
export async function finishedAttempts(db: Db, s: { catalogId: string; sku: string; slot: string; fingerprint: string }): Promise<number> {
  const row = await db
    .selectFrom('generation_jobs')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('catalog_id', '=', s.catalogId)
    .where('sku', '=', s.sku)
    .where('slot', '=', s.slot)
    .where('fingerprint', '=', s.fingerprint)
    .where('status', 'in', ['completed', 'failed'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function ledgerTotals(db: Db, filter: { catalogId?: string } = {}) {
  let q = db
    .selectFrom('generation_jobs')
    .select((eb) => [
      eb.fn.countAll<string>().as('jobs'),
      eb.fn.coalesce(eb.fn.sum<string>('images_billed'), sql<string>`0`).as('images'),
      eb.fn.coalesce(eb.fn.sum<string>('cost_cents'), sql<string>`0`).as('cents'),
      eb.fn.coalesce(eb.fn.sum<string>('submit_attempts'), sql<string>`0`).as('attempts'),
    ]);
  if (filter.catalogId) q = q.where('catalog_id', '=', filter.catalogId);
  const r = await q.executeTakeFirstOrThrow();
  return { jobs: Number(r.jobs), imagesBilled: Number(r.images), costCents: Number(r.cents), submitAttempts: Number(r.attempts) };
}
