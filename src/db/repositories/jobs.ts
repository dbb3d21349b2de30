/**
 * The ledger of paid jobs. A row is written before a submit is sent and keyed by the idempotency key,
 * so a retried or crashed submit finds its row (and, once known, the provider's job id) again.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, StoredOriginal } from '../schema';

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
  /** Which provider makes it: `simulator` or `real`, base URL and model. */
  provider: string;
  fingerprint: string;
  imagesRequested: number;
}

export interface StepRef {
  catalogId: string;
  sku: string;
  slot: string;
  fingerprint: string;
}

const LEDGER_COLUMNS = [
  'id', 'idempotency_key', 'catalog_id', 'sku', 'slot', 'workflow_id', 'run_id', 'operation', 'model', 'fingerprint',
  'provider_job_id', 'status', 'images_requested', 'images_billed', 'cost_cents', 'submit_attempts', 'ambiguous_attempts',
  'image_outcomes', 'error_code', 'error_message', 'outputs', 'unusable_reason', 'request_refs', 'request_sha256', 'provider',
  'provider_cost_usd', 'released_at', 'released_by', 'created_at', 'updated_at', 'completed_at',
] as const;

/** States in which the step's money is settled one way or the other: the next purchase gets a new key. */
export const CLOSED_STATES = ['completed', 'failed', 'unusable'] as const;
/** States in which the provider may have the job, and so may have billed it. */
export const MAYBE_BILLED_STATES = ['sending', 'ambiguous', 'submitted', 'delivered', 'completed', 'unusable'] as const;

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
      provider: e.provider,
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

export type LedgerEntry = Awaited<ReturnType<typeof openLedgerEntry>>;

/**
 * Written right before the request leaves: from here on a crash is ambiguous (the provider may have
 * the job). The references are fixed the first time, so a retry under the same key sends the same bytes.
 */
export async function markSending(db: Db, idempotencyKey: string, fixed: { requestRefs: string[] | null; requestSha256: string }): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({
      status: 'sending',
      request_refs: fixed.requestRefs === null ? null : JSON.stringify(fixed.requestRefs),
      request_sha256: fixed.requestSha256,
      updated_at: sql<Date>`now()`,
    })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', 'in', ['submitting', 'sending', 'ambiguous'])
    .execute();
}

/** The provider clearly did not take the request (nothing left, or it refused with 429/5xx): back to "not sent". */
export async function markNotSent(db: Db, idempotencyKey: string, message: string): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({ status: 'submitting', error_message: message, updated_at: sql<Date>`now()` })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', '=', 'sending')
    .execute();
}

export async function markSubmitted(db: Db, idempotencyKey: string, providerJobId: string): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({ provider_job_id: providerJobId, status: 'submitted', updated_at: sql<Date>`now()` })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', 'in', ['submitting', 'sending', 'ambiguous', 'submitted'])
    .execute();
}

/**
 * An ambiguous failure (the request may have reached the provider): visible in the ledger. `park`
 * leaves the step `ambiguous` for an operator (the provider is not known to honour idempotency keys).
 */
export async function markAmbiguous(db: Db, idempotencyKey: string, message: string, opts: { park: boolean }): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({
      ambiguous_attempts: sql<number>`ambiguous_attempts + 1`,
      error_code: 'ambiguous_submit',
      error_message: message,
      ...(opts.park ? { status: 'ambiguous' as const } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', 'in', ['submitting', 'sending', 'ambiguous'])
    .execute();
}

/** The provider finished the job: bill per image actually returned, and keep each image's outcome. */
export async function markJobBilled(
  db: Db,
  idempotencyKey: string,
  imagesBilled: number,
  centsPerImage: number,
  imageOutcomes: Array<{ index: number; outcome: string; code?: string | undefined; message?: string | undefined }>,
  providerCostUsd?: number,
): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({
      images_billed: imagesBilled,
      cost_cents: imagesBilled * centsPerImage,
      image_outcomes: JSON.stringify(imageOutcomes),
      ...(providerCostUsd !== undefined ? { provider_cost_usd: String(providerCostUsd) } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where('idempotency_key', '=', idempotencyKey)
    .execute();
}

/** Every delivered output is downloaded, validated and stored: the money bought something kept. */
export async function markDelivered(db: Db, idempotencyKey: string, outputs: StoredOriginal[]): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({ status: 'delivered', outputs: JSON.stringify(outputs), error_code: null, updated_at: sql<Date>`now()` })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', 'in', ['submitted', 'delivered'])
    .execute();
}

export type UnusableReason = 'expired' | 'corrupt' | 'storage' | 'validation' | 'rejected' | 'operator' | 'label-mismatch';

/** Billed (or maybe billed) but nothing usable came of it: counted against the re-buy cap. */
export async function markUnusable(db: Db, idempotencyKey: string, reason: UnusableReason, errorCode: string, message: string): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({
      status: 'unusable',
      unusable_reason: reason,
      error_code: errorCode,
      error_message: message,
      completed_at: sql<Date>`now()`,
      updated_at: sql<Date>`now()`,
    })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', 'not in', ['completed'])
    .execute();
}

/** The step's outputs are kept as an asset (in the transaction that records it): billed per image returned. */
export async function completeLedgerEntry(db: Db, jobId: string, billed: { imagesBilled: number; centsPerImage: number }): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({
      status: 'completed',
      images_billed: billed.imagesBilled,
      cost_cents: billed.imagesBilled * billed.centsPerImage,
      error_code: null,
      completed_at: sql<Date>`coalesce(completed_at, now())`,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', jobId)
    .execute();
}

/**
 * The step failed at the provider or was refused. A job that billed images and still failed is
 * `unusable` (money spent, nothing kept), never plain `failed`.
 */
export async function failLedgerEntry(db: Db, idempotencyKey: string, errorCode: string, message: string): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({
      status: sql<'failed' | 'unusable'>`case when images_billed > 0 then 'unusable' else 'failed' end`,
      unusable_reason: sql<string | null>`case when images_billed > 0 then 'rejected' else null end`,
      error_code: errorCode,
      error_message: message,
      completed_at: sql<Date>`now()`,
      updated_at: sql<Date>`now()`,
    })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', 'not in', ['completed', 'unusable'])
    .execute();
}

/**
 * Notes why a slot failed without closing its ledger row: a job the provider has (or may have) stays
 * open, so the next run for the same fingerprint polls or reuses it instead of buying again.
 */
export async function noteLedgerError(db: Db, idempotencyKey: string, errorCode: string, message: string): Promise<void> {
  await db
    .updateTable('generation_jobs')
    .set({ error_code: errorCode, error_message: message, updated_at: sql<Date>`now()` })
    .where('idempotency_key', '=', idempotencyKey)
    .where('status', 'not in', ['completed', 'failed', 'unusable'])
    .execute();
}

export async function getLedgerEntry(db: Db, idempotencyKey: string) {
  return db.selectFrom('generation_jobs').select([...LEDGER_COLUMNS]).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
}

/**
 * How many closed jobs exist for this exact step and fingerprint: the attempt number of the next one.
 * An open job shares the number, so its key (and the provider's job, or its stored outputs) is reused
 * instead of paying again.
 */
export async function finishedAttempts(db: Db, s: StepRef): Promise<number> {
  const row = await db
    .selectFrom('generation_jobs')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('catalog_id', '=', s.catalogId)
    .where('sku', '=', s.sku)
    .where('slot', '=', s.slot)
    .where('fingerprint', '=', s.fingerprint)
    .where('status', 'in', [...CLOSED_STATES])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Paid attempts that bought nothing kept for this fingerprint and that no operator released: what
 * the re-buy cap counts. Kept assets are not counted (buying again after one is an operator's ask:
 * a forced run or a review rejection).
 */
export async function unreleasedUnusable(db: Db, s: StepRef) {
  return db
    .selectFrom('generation_jobs')
    .select(['idempotency_key', 'provider_job_id', 'unusable_reason', 'error_message', 'completed_at'])
    .where('catalog_id', '=', s.catalogId)
    .where('sku', '=', s.sku)
    .where('slot', '=', s.slot)
    .where('fingerprint', '=', s.fingerprint)
    .where('status', '=', 'unusable')
    .where('released_at', 'is', null)
    .orderBy('id')
    .execute();
}

/** An operator allows buying again: every unusable attempt of the slot stops counting against the cap. */
export async function releasePaidAttempts(db: Db, s: Omit<StepRef, 'fingerprint'>, by: string): Promise<number> {
  const rows = await db
    .updateTable('generation_jobs')
    .set({ released_at: sql<Date>`now()`, released_by: by, updated_at: sql<Date>`now()` })
    .where('catalog_id', '=', s.catalogId)
    .where('sku', '=', s.sku)
    .where('slot', '=', s.slot)
    .where('status', '=', 'unusable')
    .where('released_at', 'is', null)
    .returning(['id'])
    .execute();
  return rows.length;
}

/** Ambiguous steps parked for an operator, newest first. */
export async function ambiguousSteps(db: Db, filter: { catalogId?: string; sku?: string } = {}) {
  return db
    .selectFrom('generation_jobs')
    .select(['idempotency_key', 'catalog_id', 'sku', 'slot', 'fingerprint', 'operation', 'images_requested', 'error_message', 'updated_at', 'ambiguous_attempts'])
    .where('status', 'in', ['ambiguous', 'sending'])
    .$if(filter.catalogId !== undefined, (q) => q.where('catalog_id', '=', filter.catalogId!))
    .$if(filter.sku !== undefined, (q) => q.where('sku', '=', filter.sku!))
    .orderBy('updated_at', 'desc')
    .execute();
}

export type AmbiguousResolution = { jobId: string } | { resubmit: true } | { notBilled: true };

/**
 * An operator settles an ambiguous step: the provider's job id found in its dashboard is attached (the
 * next run polls it and pays nothing more), or the step is written off as maybe-billed so the next
 * run buys again knowingly, or it is closed as never billed.
 */
export async function resolveAmbiguous(db: Db, idempotencyKey: string, how: AmbiguousResolution, by: string): Promise<boolean> {
  const base = db.updateTable('generation_jobs').where('idempotency_key', '=', idempotencyKey).where('status', 'in', ['ambiguous', 'sending']);
  const note = `resolved by ${by}`;
  const q =
    'jobId' in how
      ? base.set({ status: 'submitted', provider_job_id: how.jobId, error_code: null, error_message: note, updated_at: sql<Date>`now()` })
      : 'resubmit' in how
        ? base.set({
            status: 'unusable',
            unusable_reason: 'operator',
            error_message: `${note}: resubmit knowingly (may have been billed)`,
            released_at: sql<Date>`now()`,
            released_by: by,
            completed_at: sql<Date>`now()`,
            updated_at: sql<Date>`now()`,
          })
        : base.set({ status: 'failed', error_message: `${note}: not billed`, completed_at: sql<Date>`now()`, updated_at: sql<Date>`now()` });
  const rows = await q.returning(['id']).execute();
  return rows.length > 0;
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

export interface MoneyFigures {
  /** Everything billed (images and cents), whatever became of it. */
  billedImages: number;
  billedCents: number;
  /** Billed, delivered and kept as assets. */
  keptImages: number;
  keptCents: number;
  /** Billed and delivered, stored, not yet recorded (reused by the next run at no cost). */
  deliveredImages: number;
  /** Billed but unusable, by reason. */
  unusable: Array<{ reason: string; jobs: number; images: number; cents: number }>;
  /** Sent and maybe billed, waiting for an operator (or a retry under the same key). */
  ambiguousSteps: number;
  ambiguousImagesAtRisk: number;
  /** What the provider said it charged, where it says so. */
  providerReportedUsd: number | null;
}

/** The money figures of a catalog (or of everything): one query, shown by `status` and the results page. */
export async function moneyFigures(db: Db, filter: { catalogId?: string } = {}): Promise<MoneyFigures> {
  const rows = await db
    .selectFrom('generation_jobs')
    .select((eb) => [
      'status',
      sql<string>`coalesce(unusable_reason, '')`.as('reason'),
      eb.fn.countAll<string>().as('jobs'),
      eb.fn.coalesce(eb.fn.sum<string>('images_billed'), sql<string>`0`).as('images'),
      eb.fn.coalesce(eb.fn.sum<string>('cost_cents'), sql<string>`0`).as('cents'),
      eb.fn.coalesce(eb.fn.sum<string>('images_requested'), sql<string>`0`).as('requested'),
      eb.fn.sum<string | null>('provider_cost_usd').as('provider_usd'),
    ])
    .$if(filter.catalogId !== undefined, (q) => q.where('catalog_id', '=', filter.catalogId!))
    .groupBy(['status', sql`coalesce(unusable_reason, '')`])
    .execute();
  const figures: MoneyFigures = {
    billedImages: 0,
    billedCents: 0,
    keptImages: 0,
    keptCents: 0,
    deliveredImages: 0,
    unusable: [],
    ambiguousSteps: 0,
    ambiguousImagesAtRisk: 0,
    providerReportedUsd: null,
  };
  for (const r of rows) {
    const images = Number(r.images);
    const cents = Number(r.cents);
    figures.billedImages += images;
    figures.billedCents += cents;
    if (r.provider_usd !== null) figures.providerReportedUsd = (figures.providerReportedUsd ?? 0) + Number(r.provider_usd);
    if (r.status === 'completed') {
      figures.keptImages += images;
      figures.keptCents += cents;
    } else if (r.status === 'delivered') {
      figures.deliveredImages += images;
    } else if (r.status === 'unusable') {
      figures.unusable.push({ reason: r.reason || 'unknown', jobs: Number(r.jobs), images, cents });
    } else if (r.status === 'ambiguous' || r.status === 'sending') {
      figures.ambiguousSteps += Number(r.jobs);
      figures.ambiguousImagesAtRisk += Number(r.requested);
    }
  }
  if (figures.providerReportedUsd !== null) figures.providerReportedUsd = Math.round(figures.providerReportedUsd * 10_000) / 10_000;
  return figures;
}
