/**
 * Assets (one row per version per SKU and slot), their variants, the current mapping a storefront
 * publishes from, and the last attempt per slot. Writes are idempotent on natural keys.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, SlotOutcome } from '../schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface VariantRecord {
  name: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  storageKey: string;
}

export interface OutputRecord {
  index: number;
  checksum: string;
  width: number;
  height: number;
  format: string;
  storageKey: string;
  placeholder: string;
  dominantColor: string;
  variants: VariantRecord[];
}

export interface RecordAssetsInput {
  catalogId: string;
  sku: string;
  slot: string;
  fingerprint: string;
  prompt: string;
  idempotencyKey: string;
  workflowId: string;
  outputs: OutputRecord[];
  imagesBilled: number;
  centsPerImage: number;
  /** False when the catalog requires review: the asset waits as pending_review, the mapping stays. */
  publish?: boolean;
}

export interface RecordedAsset {
  assetId: string;
  version: number;
  storageKey: string;
  checksum: string;
}

const slotLock = (catalogId: string, sku: string, slot: string) =>
  sql`select pg_advisory_xact_lock(hashtextextended(${JSON.stringify([catalogId, sku, slot])}, 0))`;

/**
 * Records a generated slot in one transaction: asset rows and variants, the ledger row completed and
 * billed, the SKU's current pointer moved (the previous version kept and marked superseded), and the
 * slot's last attempt. Running it twice changes nothing the second time.
 */
export async function recordGeneratedAssets(db: Kysely<Database>, input: RecordAssetsInput): Promise<RecordedAsset> {
  if (input.outputs.length === 0) throw new Error('recordGeneratedAssets: no outputs to record');
  return db.transaction().execute(async (trx) => {
    await slotLock(input.catalogId, input.sku, input.slot).execute(trx);
    const job = await trx
      .selectFrom('generation_jobs')
      .select(['id'])
      .where('idempotency_key', '=', input.idempotencyKey)
      .executeTakeFirstOrThrow(() => new Error(`no ledger entry for idempotency key ${input.idempotencyKey}`));

    const recorded: RecordedAsset[] = [];
    for (const output of [...input.outputs].sort((a, b) => a.index - b.index)) {
      let asset = await trx
        .selectFrom('assets')
        .select(['id', 'version', 'storage_key', 'checksum'])
        .where('generation_job_id', '=', job.id)
        .where('output_index', '=', output.index)
        .executeTakeFirst();
      if (!asset) {
        const { next } = await trx
          .selectFrom('assets')
          .select((eb) => sql<number>`coalesce(max(${eb.ref('version')}), 0) + 1`.as('next'))
          .where('catalog_id', '=', input.catalogId)
          .where('sku', '=', input.sku)
          .where('slot', '=', input.slot)
          .executeTakeFirstOrThrow();
        asset = await trx
          .insertInto('assets')
          .values({
            catalog_id: input.catalogId,
            sku: input.sku,
            slot: input.slot,
            version: Number(next),
            fingerprint: input.fingerprint,
            generation_job_id: job.id,
            output_index: output.index,
            prompt: input.prompt,
            checksum: output.checksum,
            width: output.width,
            height: output.height,
            format: output.format,
            storage_key: output.storageKey,
            placeholder: output.placeholder,
            dominant_color: output.dominantColor,
            cost_cents: input.centsPerImage,
            status: 'superseded',
            updated_at: sql<Date>`now()`,
          })
          .returning(['id', 'version', 'storage_key', 'checksum'])
          .executeTakeFirstOrThrow();
      }
      if (output.variants.length > 0) {
        await trx
          .insertInto('asset_variants')
          .values(
            output.variants.map((v) => ({
              asset_id: asset.id,
              name: v.name,
              format: v.format,
              width: v.width,
              height: v.height,
              bytes: v.bytes,
              sha256: v.sha256,
              storage_key: v.storageKey,
            })),
          )
          .onConflict((oc) => oc.columns(['asset_id', 'name']).doNothing())
          .execute();
      }
      recorded.push({ assetId: asset.id, version: asset.version, storageKey: asset.storage_key, checksum: asset.checksum });
    }

    const primary = recorded[0]!;
    if (input.publish === false) {
      await trx
        .updateTable('assets')
        .set({ status: 'pending_review', updated_at: sql<Date>`now()` })
        .where('id', 'in', recorded.map((r) => r.assetId))
        .where('status', '=', 'superseded')
        .execute();
    } else {
      await setCurrent(trx, input.catalogId, input.sku, input.slot, primary.assetId);
    }

    await trx
      .updateTable('generation_jobs')
      .set({
        status: 'completed',
        images_billed: input.imagesBilled,
        cost_cents: input.imagesBilled * input.centsPerImage,
        error_code: null,
        completed_at: sql<Date>`coalesce(completed_at, now())`,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', job.id)
      .execute();
    await recordSlotAttempt(trx, {
      catalogId: input.catalogId,
      sku: input.sku,
      slot: input.slot,
      outcome: 'generated',
      fingerprint: input.fingerprint,
      workflowId: input.workflowId,
    });
    return primary;
  });
}

/** Points the SKU's slot at an asset; the previously current asset is kept, marked superseded. */
async function setCurrent(trx: Transaction<Database>, catalogId: string, sku: string, slot: string, assetId: string): Promise<void> {
  await trx
    .updateTable('assets')
    .set({ status: 'superseded', updated_at: sql<Date>`now()` })
    .where('catalog_id', '=', catalogId)
    .where('sku', '=', sku)
    .where('slot', '=', slot)
    .where('status', '=', 'current')
    .where('id', '!=', assetId)
    .execute();
  await trx.updateTable('assets').set({ status: 'current', updated_at: sql<Date>`now()` }).where('id', '=', assetId).execute();
  await trx
    .insertInto('current_assets')
    .values({ catalog_id: catalogId, sku, slot, asset_id: assetId, updated_at: sql<Date>`now()` })
    .onConflict((oc) => oc.columns(['catalog_id', 'sku', 'slot']).doUpdateSet({ asset_id: assetId, updated_at: sql<Date>`now()` }))
    .execute();
}

export async function recordSlotAttempt(
  db: Db,
  a: { catalogId: string; sku: string; slot: string; outcome: SlotOutcome; fingerprint?: string | null; errorType?: string | null; errorMessage?: string | null; workflowId: string },
): Promise<void> {
  const values = {
    catalog_id: a.catalogId,
    sku: a.sku,
    slot: a.slot,
    outcome: a.outcome,
    fingerprint: a.fingerprint ?? null,
    error_type: a.errorType ?? null,
    error_message: a.errorMessage ?? null,
    workflow_id: a.workflowId,
    attempted_at: sql<Date>`now()`,
  };
  await db
    .insertInto('slot_attempts')
    .values(values)
    .onConflict((oc) =>
      oc.columns(['catalog_id', 'sku', 'slot']).doUpdateSet({
        outcome: values.outcome,
        fingerprint: values.fingerprint,
        error_type: values.error_type,
        error_message: values.error_message,
        workflow_id: values.workflow_id,
        attempted_at: sql<Date>`now()`,
      }),
    )
    .execute();
}

export async function getCurrentAsset(db: Db, catalogId: string, sku: string, slot: string) {
  return db
    .selectFrom('current_assets as c')
    .innerJoin('assets as a', 'a.id', 'c.asset_id')
    .select(['a.id', 'a.version', 'a.fingerprint', 'a.checksum', 'a.storage_key', 'a.width', 'a.height', 'a.format', 'a.prompt', 'a.created_at'])
    .where('c.catalog_id', '=', catalogId)
    .where('c.sku', '=', sku)
    .where('c.slot', '=', slot)
    .executeTakeFirst();
}

export async function listCurrentAssets(db: Db, catalogId: string, sku: string) {
  const assets = await db
    .selectFrom('current_assets as c')
    .innerJoin('assets as a', 'a.id', 'c.asset_id')
    .select(['c.slot', 'a.id', 'a.version', 'a.fingerprint', 'a.checksum', 'a.storage_key', 'a.width', 'a.height', 'a.format', 'a.status', 'a.placeholder', 'a.dominant_color'])
    .where('c.catalog_id', '=', catalogId)
    .where('c.sku', '=', sku)
    .orderBy('c.slot')
    .execute();
  const variants = assets.length
    ? await db
        .selectFrom('asset_variants')
        .select(['asset_id', 'name', 'format', 'width', 'height', 'bytes', 'sha256', 'storage_key'])
        .where('asset_id', 'in', assets.map((a) => a.id))
        .orderBy('name')
        .execute()
    : [];
  return assets.map((a) => ({ ...a, variants: variants.filter((v) => v.asset_id === a.id) }));
}

export async function listAssetVersions(db: Db, catalogId: string, sku: string, slot?: string) {
  let q = db
    .selectFrom('assets')
    .select(['id', 'slot', 'version', 'status', 'fingerprint', 'checksum', 'storage_key', 'prompt', 'cost_cents', 'created_at'])
    .where('catalog_id', '=', catalogId)
    .where('sku', '=', sku);
  if (slot) q = q.where('slot', '=', slot);
  return q.orderBy('slot').orderBy('version', 'desc').execute();
}

export async function getSlotAttempts(db: Db, catalogId: string, sku: string) {
  return db
    .selectFrom('slot_attempts')
    .select(['slot', 'outcome', 'fingerprint', 'error_type', 'error_message', 'workflow_id', 'attempted_at'])
    .where('catalog_id', '=', catalogId)
    .where('sku', '=', sku)
    .orderBy('slot')
    .execute();
}

export class RollbackError extends Error {
  override readonly name = 'RollbackError';
}

/**
 * Rolls a SKU's slot back to the newest version older than the current one. The version rolled away
 * from is kept (superseded), so rolling forward again is a matter of pointing at it.
 */
export async function rollbackSlot(db: Kysely<Database>, catalogId: string, sku: string, slot: string): Promise<{ from: number; to: number }> {
  return db.transaction().execute(async (trx) => {
    await slotLock(catalogId, sku, slot).execute(trx);
    const current = await getCurrentAsset(trx, catalogId, sku, slot);
    if (!current) throw new RollbackError(`SKU ${JSON.stringify(sku)} in catalog ${JSON.stringify(catalogId)} has no current ${slot} asset`);
    const previous = await trx
      .selectFrom('assets')
      .select(['id', 'version'])
      .where('catalog_id', '=', catalogId)
      .where('sku', '=', sku)
      .where('slot', '=', slot)
      .where('version', '<', current.version)
      .where('status', 'in', ['superseded', 'current'])
      .orderBy('version', 'desc')
      .executeTakeFirst();
    if (!previous) throw new RollbackError(`SKU ${JSON.stringify(sku)} has no ${slot} version older than v${current.version} to roll back to`);
    await setCurrent(trx, catalogId, sku, slot, previous.id);
    return { from: current.version, to: previous.version };
  });
}

export type ReviewDecision = 'approve' | 'reject' | 'timeout-approve' | 'timeout-keep';

/**
 * Records a review decision on a pending asset, and applies it in the same transaction: an approval
 * moves the SKU's mapping to the asset; anything else marks it rejected and keeps the current one.
 * Idempotent: a second call for the same asset changes nothing.
 */
export async function decideReview(
  db: Kysely<Database>,
  d: { catalogId: string; sku: string; slot: string; assetId: string; decision: ReviewDecision; note?: string | null; actor: string },
): Promise<{ applied: boolean }> {
  return db.transaction().execute(async (trx) => {
    await slotLock(d.catalogId, d.sku, d.slot).execute(trx);
    const inserted = await trx
      .insertInto('review_decisions')
      .values({ catalog_id: d.catalogId, sku: d.sku, slot: d.slot, asset_id: d.assetId, decision: d.decision, note: d.note ?? null, actor: d.actor })
      .onConflict((oc) => oc.column('asset_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return { applied: false };
    if (d.decision === 'approve' || d.decision === 'timeout-approve') {
      await setCurrent(trx, d.catalogId, d.sku, d.slot, d.assetId);
    } else {
      await trx.updateTable('assets').set({ status: 'rejected', updated_at: sql<Date>`now()` }).where('id', '=', d.assetId).execute();
    }
    return { applied: true };
  });
}

export async function listReviewDecisions(db: Db, catalogId: string, sku: string) {
  return db
    .selectFrom('review_decisions')
    .select(['slot', 'asset_id', 'decision', 'note', 'actor', 'decided_at'])
    .where('catalog_id', '=', catalogId)
    .where('sku', '=', sku)
    .orderBy('decided_at')
    .orderBy('id')
    .execute();
}
