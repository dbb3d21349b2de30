/** OCR readings of label outputs: written by the imaging queue's readLabel, shown to reviewers. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, LabelVerdict } from '../schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface LabelReadingInput {
  catalogId: string;
  sku: string;
  slot: string;
  idempotencyKey: string;
  providerJobId: string | null;
  outputIndex: number;
  storageKey: string;
  expected: string;
  readText: string | null;
  similarity: number | null;
  threshold: number;
  verdict: LabelVerdict;
  locale: string | null;
  language: string | null;
  confidence: number | null;
  ocrMs: number | null;
}

const READING_COLUMNS = [
  'id', 'catalog_id', 'sku', 'slot', 'idempotency_key', 'provider_job_id', 'output_index', 'storage_key', 'expected',
  'read_text', 'similarity', 'threshold', 'verdict', 'locale', 'language', 'confidence', 'ocr_ms', 'read_at',
] as const;

/** Records a reading; the same step and output read again (a retried activity) replaces its row. */
export async function recordLabelReading(db: Db, r: LabelReadingInput): Promise<string> {
  const values = {
    catalog_id: r.catalogId,
    sku: r.sku,
    slot: r.slot,
    idempotency_key: r.idempotencyKey,
    provider_job_id: r.providerJobId,
    output_index: r.outputIndex,
    storage_key: r.storageKey,
    expected: r.expected,
    read_text: r.readText,
    similarity: r.similarity,
    threshold: r.threshold,
    verdict: r.verdict,
    locale: r.locale,
    language: r.language,
    confidence: r.confidence,
    ocr_ms: r.ocrMs === null ? null : Math.round(r.ocrMs),
  };
  const row = await db
    .insertInto('label_readings')
    .values(values)
    .onConflict((oc) => oc.columns(['idempotency_key', 'output_index']).doUpdateSet({ ...values, read_at: sql<Date>`now()` }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** A slot's readings, newest first (every attempt, kept or not). */
export async function labelReadingsForSlot(db: Db, s: { catalogId: string; sku: string; slot: string }, limit = 20) {
  return db
    .selectFrom('label_readings')
    .select([...READING_COLUMNS])
    .where('catalog_id', '=', s.catalogId)
    .where('sku', '=', s.sku)
    .where('slot', '=', s.slot)
    .orderBy('read_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** The reading of one stored asset's output, through its paid step. */
export async function labelReadingForAsset(db: Db, assetId: string) {
  return db
    .selectFrom('label_readings as r')
    .innerJoin('generation_jobs as j', 'j.idempotency_key', 'r.idempotency_key')
    .innerJoin('assets as a', (join) => join.onRef('a.generation_job_id', '=', 'j.id').onRef('a.output_index', '=', 'r.output_index'))
    .select(READING_COLUMNS.map((c) => `r.${c}` as const))
    .where('a.id', '=', assetId)
    .executeTakeFirst();
}

/** The readings of one paid step (all its outputs). */
export async function labelReadingsForStep(db: Db, idempotencyKey: string) {
  return db.selectFrom('label_readings').select([...READING_COLUMNS]).where('idempotency_key', '=', idempotencyKey).orderBy('output_index').execute();
}

/** The newest reading of each slot of these SKUs (the results page shows it with the slot). */
export async function latestLabelReadings(db: Db, catalogId: string, skus: string[]) {
  if (skus.length === 0) return [];
  return db
    .selectFrom('label_readings')
    .distinctOn(['sku', 'slot'])
    .select([...READING_COLUMNS])
    .where('catalog_id', '=', catalogId)
    .where('sku', 'in', skus)
    .orderBy('sku')
    .orderBy('slot')
    .orderBy('read_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}
