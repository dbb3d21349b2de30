/**
 * Assets (one row per version per SKU and slot), their variants, the current mapping a storefront
 * publishes from, and the last attempt per slot. Writes are idempotent on natural keys.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { MaterializedOutput, VariantSummary } from '../../shared/steps';
import type { Database, SlotOutcome } from '../schema';
import { recordChannelChecks } from './channelChecks';
import { completeLedgerEntry } from './jobs';

type Db = Kysely<Database> | Transaction<Database>;

/** What recordSlot writes: the imaging step's outputs and their variants, as the step returns them. */
export type VariantRecord = VariantSummary;
export type OutputRecord = MaterializedOutput;

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
 * The product's status, read with a share lock: a `product.removed` committing at the same time waits
 * for this transaction (and then retires what it made current), or this one sees it removed.
 */
async function productStatusForShare(trx: Transaction<Database>, catalogId: string, sku: string): Promise<'active' | 'removed' | 'missing'> {
  const row = await trx.selectFrom('products').select('status').where('catalog_id', '=', catalogId).where('sku', '=', sku).forShare().executeTakeFirst();
  return row?.status ?? 'missing';
}

export interface SlotPin {
  assetId: string;
  inputsFingerprint: string;
  actor: string;
  pinnedAt: Date;
  /** The pinned asset's own fingerprint. */
  assetFingerprint: string;
}

export async function getSlotPin(db: Db, catalogId: string, sku: string, slot: string): Promise<SlotPin | undefined> {
  const row = await db
    .selectFrom('slot_pins as p')
    .innerJoin('assets as a', 'a.id', 'p.asset_id')
    .select(['p.asset_id', 'p.inputs_fingerprint', 'p.actor', 'p.pinned_at', 'a.fingerprint'])
    .where('p.catalog_id', '=', catalogId)
    .where('p.sku', '=', sku)
    .where('p.slot', '=', slot)
    .executeTakeFirst();
  return row && { assetId: row.asset_id, inputsFingerprint: row.inputs_fingerprint, actor: row.actor, pinnedAt: row.pinned_at, assetFingerprint: row.fingerprint };
}

/** A pin holds for a fingerprint the slot's inputs had when it was rolled back (or the pinned asset's own). */
function pinHolds(pin: SlotPin | undefined, fingerprint: string): boolean {
  return pin !== undefined && (pin.inputsFingerprint === fingerprint || pin.assetFingerprint === fingerprint);
}

async function dropPin(trx: Db, catalogId: string, sku: string, slot: string): Promise<void> {
  await trx.deleteFrom('slot_pins').where('catalog_id', '=', catalogId).where('sku', '=', sku).where('slot', '=', slot).execute();
}

export type SlotHold =
  | { kind: 'pinned'; assetId: string; reason: string }
  | { kind: 'declined'; assetId: string; reason: string };

/**
 * What an operator decided that keeps a slot from being bought for this fingerprint: a rollback pin
 * that still holds (the pinned asset is current and the slot's inputs are unchanged), or a review that
 * declined this very fingerprint. A reviewer's note is a new request, never held.
 */
export async function slotHold(
  db: Db,
  s: { catalogId: string; sku: string; slot: string; fingerprint: string; currentAssetId: string | undefined; reviewNote?: string },
): Promise<SlotHold | undefined> {
  if (s.reviewNote) return undefined;
  const pin = await getSlotPin(db, s.catalogId, s.sku, s.slot);
  if (pin && pin.assetId === s.currentAssetId && pinHolds(pin, s.fingerprint)) {
    return { kind: 'pinned', assetId: pin.assetId, reason: `rolled back by ${pin.actor} at ${pin.pinnedAt.toISOString()}; held until the slot's inputs change or it is released` };
  }
  const declined = await db
    .selectFrom('declined_fingerprints')
    .select(['asset_id', 'decision', 'declined_at'])
    .where('catalog_id', '=', s.catalogId)
    .where('sku', '=', s.sku)
    .where('slot', '=', s.slot)
    .where('fingerprint', '=', s.fingerprint)
    .executeTakeFirst();
  if (declined) {
    return { kind: 'declined', assetId: declined.asset_id, reason: `review declined these inputs (${declined.decision} at ${declined.declined_at.toISOString()}); change the data, reject with a note, or release the slot` };
  }
  return undefined;
}

/** An operator lets go of a slot: its rollback pin and declined fingerprints no longer hold. */
export async function releaseSlot(db: Kysely<Database>, catalogId: string, sku: string, slot: string): Promise<{ pin: boolean; declined: number }> {
  return db
    .transaction()
    .execute(async (trx) => {
      await slotLock(catalogId, sku, slot).execute(trx);
      const pin = await trx.deleteFrom('slot_pins').where('catalog_id', '=', catalogId).where('sku', '=', sku).where('slot', '=', slot).executeTakeFirst();
      const declined = await trx
        .deleteFrom('declined_fingerprints')
        .where('catalog_id', '=', catalogId)
        .where('sku', '=', sku)
        .where('slot', '=', slot)
        .executeTakeFirst();
      return { pin: Number(pin.numDeletedRows) > 0, declined: Number(declined.numDeletedRows) };
    });
}

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
      if (output.channelChecks?.length) await recordChannelChecks(trx, asset.id, output.channelChecks);
      recorded.push({ assetId: asset.id, version: asset.version, storageKey: asset.storage_key, checksum: asset.checksum });
    }

    const primary = recorded[0]!;
    const status = await productStatusForShare(trx, input.catalogId, input.sku);
    const pin = await getSlotPin(trx, input.catalogId, input.sku, input.slot);
    if (status !== 'active') {
      // A removed product's assets never become current: kept (paid for), retired.
      await trx
        .updateTable('assets')
        .set({ status: 'retired', updated_at: sql<Date>`now()` })
        .where('id', 'in', recorded.map((r) => r.assetId))
        .where('status', '=', 'superseded')
        .execute();
    } else if (pinHolds(pin, input.fingerprint)) {
      // Rolled back while this generation ran, for the same inputs: the operator's choice stays current.
    } else if (input.publish === false) {
      await trx
        .updateTable('assets')
        .set({ status: 'pending_review', updated_at: sql<Date>`now()` })
        .where('id', 'in', recorded.map((r) => r.assetId))
        .where('status', '=', 'superseded')
        .execute();
    } else {
      await setCurrent(trx, input.catalogId, input.sku, input.slot, primary.assetId);
      if (pin) await dropPin(trx, input.catalogId, input.sku, input.slot);
    }

    await completeLedgerEntry(trx, job.id, { imagesBilled: input.imagesBilled, centsPerImage: input.centsPerImage });
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
export async function rollbackSlot(
  db: Kysely<Database>,
  catalogId: string,
  sku: string,
  slot: string,
  opts: { actor?: string } = {},
): Promise<{ from: number; to: number }> {
  return db.transaction().execute(async (trx) => {
    await slotLock(catalogId, sku, slot).execute(trx);
    if ((await productStatusForShare(trx, catalogId, sku)) === 'removed') {
      throw new RollbackError(`SKU ${JSON.stringify(sku)} was removed from catalog ${JSON.stringify(catalogId)}: its assets are retired`);
    }
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
    // The pin keeps the chosen version while the slot's inputs are those of the version rolled away
    // from (or of an earlier rollback that still holds), so `stale`, `all` and triggers leave it.
    const earlier = await getSlotPin(trx, catalogId, sku, slot);
    const inputsFingerprint = earlier && pinHolds(earlier, current.fingerprint) ? earlier.inputsFingerprint : current.fingerprint;
    const actor = opts.actor?.trim() || 'operator';
    await trx
      .insertInto('slot_pins')
      .values({ catalog_id: catalogId, sku, slot, asset_id: previous.id, inputs_fingerprint: inputsFingerprint, actor })
      .onConflict((oc) => oc.columns(['catalog_id', 'sku', 'slot']).doUpdateSet({ asset_id: previous.id, inputs_fingerprint: inputsFingerprint, actor, pinned_at: sql<Date>`now()` }))
      .execute();
    return { from: current.version, to: previous.version };
  });
}

export type ReviewDecision = 'approve' | 'reject' | 'timeout-approve' | 'timeout-keep';

/**
 * Records a review decision on a pending asset, and applies it in the same transaction: an approval
 * moves the SKU's mapping to the asset; anything else marks it rejected and keeps the current one.
 * A decline (a rejection without a note, one past the catalog's `maxRejections`, or a `keep` timeout)
 * records the asset's fingerprint, so a later trigger does not buy the same inputs again. A removed
 * product's asset is retired, never made current; a timeout does not override a rollback that holds.
 * Idempotent: a second call for the same asset changes nothing.
 */
export async function decideReview(
  db: Kysely<Database>,
  d: { catalogId: string; sku: string; slot: string; assetId: string; decision: ReviewDecision; note?: string | null; actor: string; maxRejections?: number },
): Promise<{ applied: boolean; declined?: boolean }> {
  return db.transaction().execute(async (trx) => {
    await slotLock(d.catalogId, d.sku, d.slot).execute(trx);
    const inserted = await trx
      .insertInto('review_decisions')
      .values({ catalog_id: d.catalogId, sku: d.sku, slot: d.slot, asset_id: d.assetId, decision: d.decision, note: d.note ?? null, actor: d.actor })
      .onConflict((oc) => oc.column('asset_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return { applied: false };
    const asset = await trx.selectFrom('assets').select(['fingerprint']).where('id', '=', d.assetId).executeTakeFirstOrThrow();
    const status = await productStatusForShare(trx, d.catalogId, d.sku);
    if (status !== 'active') {
      await trx.updateTable('assets').set({ status: 'retired', updated_at: sql<Date>`now()` }).where('id', '=', d.assetId).execute();
      return { applied: true };
    }
    const pin = await getSlotPin(trx, d.catalogId, d.sku, d.slot);
    const current = await getCurrentAsset(trx, d.catalogId, d.sku, d.slot);
    const pinned = pin !== undefined && pin.assetId === current?.id && pinHolds(pin, asset.fingerprint);
    if (d.decision === 'approve' || (d.decision === 'timeout-approve' && !pinned)) {
      await setCurrent(trx, d.catalogId, d.sku, d.slot, d.assetId);
      if (pin) await dropPin(trx, d.catalogId, d.sku, d.slot);
      return { applied: true };
    }
    await trx.updateTable('assets').set({ status: 'rejected', updated_at: sql<Date>`now()` }).where('id', '=', d.assetId).execute();
    let declined = d.decision === 'timeout-keep' || (d.decision === 'reject' && !d.note?.trim());
    if (!declined && d.decision === 'reject' && d.maxRejections !== undefined) {
      // Rejections with a note regenerate up to maxRejections times; the one past that ends the review.
      const { n } = await trx
        .selectFrom('review_decisions as r')
        .innerJoin('assets as a', 'a.id', 'r.asset_id')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('r.catalog_id', '=', d.catalogId)
        .where('r.sku', '=', d.sku)
        .where('r.slot', '=', d.slot)
        .where('r.decision', '=', 'reject')
        .where('a.fingerprint', '=', asset.fingerprint)
        .executeTakeFirstOrThrow();
      declined = Number(n) > d.maxRejections;
    }
    if (declined) {
      await trx
        .insertInto('declined_fingerprints')
        .values({ catalog_id: d.catalogId, sku: d.sku, slot: d.slot, fingerprint: asset.fingerprint, asset_id: d.assetId, decision: d.decision })
        .onConflict((oc) => oc.columns(['catalog_id', 'sku', 'slot', 'fingerprint']).doNothing())
        .execute();
    }
    return { applied: true, declined };
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
