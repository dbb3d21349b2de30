/**
 * What "nothing lost, nothing half-written, nothing paid twice" means, as queries over a stack's
 * Postgres, asset folder and simulator ledger. Each check returns the offending items (empty = holds),
 * so a failing assertion shows exactly what is wrong.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import sharp from 'sharp';
import type { Database } from '../../src/db/schema';
import type { SimulatorLedger } from '../../src/provider/simulator/ledger';

/** Every file under dir (recursively), as paths relative to dir with '/' separators. */
export async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

export interface StorageReport {
  /** asset_variants rows. */
  variantRows: number;
  /** Distinct files under variants/. */
  variantFiles: number;
  /** Rows (variants or originals) whose file is absent. */
  missing: string[];
  /** Files under variants/ or originals/ that no row references (shared content-addressed files are fine). */
  orphans: string[];
  /** Temporary files of an interrupted write (under `.tmp/`, or `.tmp-*` anywhere) still there. */
  partials: string[];
  /** Current variants whose file does not decode to the recorded size and byte count. */
  undecodable: string[];
  /** Current mappings checked. */
  currentVariantsDecoded: number;
}

/**
 * Files against rows: every variant and original a row names exists; every file under variants/ and
 * originals/ is named by a row; no temp file is left; every variant of a current asset decodes.
 */
export async function checkStorage(db: Kysely<Database>, storageDir: string): Promise<StorageReport> {
  const variants = await db.selectFrom('asset_variants').select(['storage_key']).execute();
  const originals = await db.selectFrom('assets').select(['storage_key']).execute();
  const files = await listFiles(storageDir);
  const fileSet = new Set(files);
  const referenced = new Set([...variants.map((v) => v.storage_key), ...originals.map((a) => a.storage_key)]);
  const missing = [...referenced].filter((k) => !fileSet.has(k)).sort();
  const isPartial = (f: string) => f.startsWith('.tmp/') || path.posix.basename(f).startsWith('.tmp-');
  const partials = files.filter(isPartial);
  const orphans = files.filter((f) => (f.startsWith('variants/') || f.startsWith('originals/')) && !isPartial(f) && !referenced.has(f));

  const current = await db
    .selectFrom('current_assets as c')
    .innerJoin('asset_variants as v', 'v.asset_id', 'c.asset_id')
    .select(['v.storage_key', 'v.width', 'v.height', 'v.bytes'])
    .execute();
  const undecodable: string[] = [];
  for (const v of current) {
    try {
      const bytes = await fs.readFile(path.join(storageDir, v.storage_key));
      const { info } = await sharp(bytes, { failOn: 'error' }).raw().toBuffer({ resolveWithObject: true });
      if (bytes.length !== v.bytes || info.width !== v.width || info.height !== v.height) {
        undecodable.push(`${v.storage_key}: ${bytes.length} bytes ${info.width}x${info.height}, recorded ${v.bytes} bytes ${v.width}x${v.height}`);
      }
    } catch (err) {
      undecodable.push(`${v.storage_key}: ${(err as Error).message}`);
    }
  }
  return {
    variantRows: variants.length,
    variantFiles: files.filter((f) => f.startsWith('variants/')).length,
    missing,
    orphans,
    partials,
    undecodable,
    currentVariantsDecoded: current.length,
  };
}

export interface RowReport {
  /** Assets with no variant rows. */
  assetsWithoutVariants: string[];
  /** current_assets rows whose asset does not exist or is not of that SKU and slot. */
  danglingCurrent: string[];
  /** Assets marked current that no current_assets row points at, and pointed-at assets not marked current. */
  currentMismatch: string[];
  /** Ledger rows left open once every run has ended without a reason the next run acts on. */
  unfinishedLedger: string[];
  /** Failed ledger rows or slot attempts without a reason. */
  failuresWithoutReason: string[];
}

/** Row-level consistency once every run has ended. */
export async function checkRows(db: Kysely<Database>): Promise<RowReport> {
  const assetsWithoutVariants = await sql<{ id: string }>`
    select a.id::text as id from assets a where not exists (select 1 from asset_variants v where v.asset_id = a.id)`.execute(db);
  const dangling = await sql<{ k: string }>`
    select c.catalog_id || '/' || c.sku || '/' || c.slot as k from current_assets c
    left join assets a on a.id = c.asset_id
    where a.id is null or a.catalog_id <> c.catalog_id or a.sku <> c.sku or a.slot <> c.slot`.execute(db);
  const mismatch = await sql<{ k: string }>`
    select 'asset ' || a.id || ' is current but unmapped' as k from assets a
      where a.status = 'current' and not exists (select 1 from current_assets c where c.asset_id = a.id)
    union all
    select 'mapping ' || c.catalog_id || '/' || c.sku || '/' || c.slot || ' points at a ' || a.status || ' asset' from current_assets c
      join assets a on a.id = c.asset_id where a.status <> 'current'`.execute(db);
  // Once every run has ended, a step may stay open only for a reason the next run acts on: a job the
  // provider still has (polled again), delivered outputs (reused), an ambiguous submit (an operator's).
  // An open row with no recorded reason is a paid step somebody forgot.
  const unfinished = await db
    .selectFrom('generation_jobs')
    .select(['idempotency_key', 'status', 'provider_job_id', 'error_message'])
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['submitting', 'sending']),
        eb.and([eb('status', 'in', ['submitted', 'delivered', 'ambiguous']), eb(sql<string>`coalesce(error_message, '')`, '=', '')]),
      ]),
    )
    .execute();
  const noReason = await sql<{ k: string }>`
    select 'job ' || idempotency_key as k from generation_jobs where status in ('failed', 'unusable') and (error_code is null or coalesce(error_message, '') = '')
    union all
    select 'attempt ' || catalog_id || '/' || sku || '/' || slot from slot_attempts where outcome = 'failed' and (error_type is null or coalesce(error_message, '') = '')`.execute(db);
  return {
    assetsWithoutVariants: assetsWithoutVariants.rows.map((r) => r.id),
    danglingCurrent: dangling.rows.map((r) => r.k),
    currentMismatch: mismatch.rows.map((r) => r.k),
    unfinishedLedger: unfinished.map((r) => `${r.idempotency_key} ${r.status} job=${r.provider_job_id ?? '-'} ${r.error_message ?? ''}`),
    failuresWithoutReason: noReason.rows.map((r) => r.k),
  };
}

export interface PaidReport {
  duplicateSubmissions: number;
  providerJobs: number;
  /** generation_jobs rows that carry a provider job id. */
  ledgerRowsWithJob: number;
  /** Billed by the provider, less what it billed for jobs our ledger still holds open (polled by the next run). */
  providerBilledImages: number;
  ledgerBilledImages: number;
  /** Provider jobs no ledger row knows (paid for, then forgotten). */
  unknownJobs: string[];
}

/** The provider's books against ours: no step paid twice, every paid job in our ledger. */
export async function checkPaidOnce(db: Kysely<Database>, ledger: SimulatorLedger): Promise<PaidReport> {
  const rows = await db.selectFrom('generation_jobs').select(['provider_job_id', 'images_billed', 'status']).execute();
  const known = new Set(rows.map((r) => r.provider_job_id).filter((j): j is string => Boolean(j)));
  // A job that outlived the wait is still the provider's: its row stays `submitted` (the next run polls
  // it) while the provider may finish and bill it after the run ended. Those images are in the
  // provider's bill and known to our ledger as maybe billed, not yet as billed.
  const open = new Set(rows.filter((r) => r.status === 'submitted' && r.provider_job_id && r.images_billed === 0).map((r) => r.provider_job_id!));
  return {
    duplicateSubmissions: ledger.duplicateSubmissions,
    providerJobs: ledger.jobs,
    ledgerRowsWithJob: rows.filter((r) => r.provider_job_id).length,
    providerBilledImages: ledger.billedImages - ledger.entries.filter((e) => open.has(e.jobId)).reduce((n, e) => n + e.billedImages, 0),
    ledgerBilledImages: rows.reduce((n, r) => n + r.images_billed, 0),
    unknownJobs: ledger.entries.map((e) => e.jobId).filter((j) => !known.has(j)),
  };
}
