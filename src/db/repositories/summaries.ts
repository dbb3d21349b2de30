/**
 * What `catalog-assets status` and `catalog-assets assets show` print: a catalog summary, one SKU's
 * slots, one SKU's asset versions. Aggregate queries run side by side; nothing here loops per SKU.
 */
import { sql, type Kysely } from 'kysely';
import { catalogLedger, productCounts, recentSlotFailures, type CatalogLedger, type RecentFailure } from './aggregates';
import { ambiguousSteps, moneyFigures, type MoneyFigures } from './jobs';
import type { Database } from '../schema';
import { enabledSlotNames } from './catalogs';

const n = (v: string | number | bigint | null | undefined) => Number(v ?? 0);
const iso = (d: Date | string | null | undefined) => (d === null || d === undefined ? null : new Date(d).toISOString());

export interface CatalogSummary {
  catalog: { id: string; name: string };
  slots: string[];
  products: { total: number; active: number; removed: number };
  skus: {
    /** Active SKUs with a current asset in every slot of the plan and no failed last attempt. */
    allSlotsCurrent: number;
    /** Active SKUs with at least one slot whose last attempt failed. */
    withFailures: number;
    /** Active SKUs whose data changed since their assets were last generated (or never generated). */
    changedSinceGenerated: number;
  };
  failures: {
    /** Slots whose last attempt failed, catalog-wide. */
    total: number;
    byType: Array<{ errorType: string; count: number }>;
    /** The most recent ones, at most `top`. */
    recent: RecentFailure[];
  };
  ledger: Omit<CatalogLedger, 'submitAttempts'>;
  /** Where the money went: billed, kept, unusable (and why), ambiguous. */
  money: MoneyFigures;
  /** Steps sent that may be billed, waiting for an operator (`catalog-assets ledger resolve`). */
  ambiguous: Array<{ idempotencyKey: string; sku: string; slot: string; imagesRequested: number; message: string | null; at: string }>;
  /** Newest first; empty when the refresh_runs table does not exist (an old schema). */
  refreshRuns: Array<{
    workflowId: string;
    trigger: string;
    status: string;
    dryRun: boolean;
    counts: Record<string, number>;
    costUsd: number;
    budgetExhausted: boolean;
    startedAt: string | null;
    finishedAt: string | null;
  }>;
}

async function tableExists(db: Kysely<Database>, table: string): Promise<boolean> {
  const { rows } = await sql<{ t: string | null }>`select to_regclass(${table})::text as t`.execute(db);
  return rows[0]?.t !== null && rows[0]?.t !== undefined;
}

export async function catalogSummary(db: Kysely<Database>, catalogId: string, o: { top?: number; runs?: number } = {}): Promise<CatalogSummary | undefined> {
  const catalog = await db.selectFrom('catalogs').select(['id', 'name', 'plan']).where('id', '=', catalogId).executeTakeFirst();
  if (!catalog) return undefined;
  const slots = enabledSlotNames(catalog.plan);
  const top = o.top ?? 10;

  const [products, skus, byType, recent, { submitAttempts: _submitAttempts, ...ledger }, runs, money, ambiguous] = await Promise.all([
    productCounts(db, catalogId),
    // Per active SKU: how many plan slots are current, and whether any last attempt failed; then counted.
    sql<{ complete: string; with_failures: string }>`
      with per_sku as (
        select p.sku,
          (select count(*) from current_assets c where c.catalog_id = p.catalog_id and c.sku = p.sku and c.slot = any(${slots}::text[])) as current_slots,
          exists (select 1 from slot_attempts s where s.catalog_id = p.catalog_id and s.sku = p.sku and s.outcome = 'failed') as failed
        from products p
        where p.catalog_id = ${catalogId} and p.status = 'active'
      )
      select
        count(*) filter (where current_slots = ${slots.length} and ${slots.length} > 0 and not failed) as complete,
        count(*) filter (where failed) as with_failures
      from per_sku`.execute(db),
    db
      .selectFrom('slot_attempts')
      .select([sql<string>`coalesce(error_type, 'unknown')`.as('error_type'), sql<string>`count(*)`.as('n')])
      .where('catalog_id', '=', catalogId)
      .where('outcome', '=', 'failed')
      .groupBy(sql`coalesce(error_type, 'unknown')`)
      .orderBy(sql`count(*)`, 'desc')
      .execute(),
    recentSlotFailures(db, catalogId, top),
    catalogLedger(db, catalogId),
    (async () => {
      if (!(await tableExists(db, 'refresh_runs'))) return [];
      return db
        .selectFrom('refresh_runs')
        .select(['workflow_id', 'trigger', 'status', 'dry_run', 'counts', 'cost_cents', 'budget_exhausted', 'started_at', 'finished_at'])
        .where('catalog_id', '=', catalogId)
        .orderBy('started_at', 'desc')
        .limit(o.runs ?? 5)
        .execute();
    })(),
    moneyFigures(db, { catalogId }),
    ambiguousSteps(db, { catalogId }),
  ]);
  const perSku = skus.rows[0];
  return {
    catalog: { id: catalog.id, name: catalog.name },
    slots,
    products: { total: products.total, active: products.active, removed: products.removed },
    skus: { allSlotsCurrent: n(perSku?.complete), withFailures: n(perSku?.with_failures), changedSinceGenerated: products.changedSinceGenerated },
    failures: {
      total: byType.reduce((s, r) => s + n(r.n), 0),
      byType: byType.map((r) => ({ errorType: r.error_type, count: n(r.n) })),
      recent,
    },
    ledger,
    money,
    ambiguous: ambiguous.slice(0, top).map((a) => ({
      idempotencyKey: a.idempotency_key,
      sku: a.sku,
      slot: a.slot,
      imagesRequested: a.images_requested,
      message: a.error_message,
      at: iso(a.updated_at)!,
    })),
    refreshRuns: runs.map((r) => ({
      workflowId: r.workflow_id,
      trigger: r.trigger,
      status: r.status,
      dryRun: r.dry_run,
      counts: r.counts,
      costUsd: r.cost_cents / 100,
      budgetExhausted: r.budget_exhausted,
      startedAt: iso(r.started_at),
      finishedAt: iso(r.finished_at),
    })),
  };
}

export interface SkuSlotStatus {
  slot: string;
  current: { version: number; fingerprint: string; status: string; createdAt: string; costUsd: number; variants: number } | null;
  lastAttempt: { outcome: string; fingerprint: string | null; errorType: string | null; errorMessage: string | null; workflowId: string; at: string } | null;
  versions: number;
}

export interface SkuStatus {
  catalogId: string;
  sku: string;
  name: string;
  status: string;
  /** True when the SKU's assets were generated from its current data. */
  upToDate: boolean;
  slots: SkuSlotStatus[];
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

async function productOrThrow(db: Kysely<Database>, catalogId: string, sku: string) {
  const [catalog, product] = await Promise.all([
    db.selectFrom('catalogs').select(['id', 'plan']).where('id', '=', catalogId).executeTakeFirst(),
    db
      .selectFrom('products')
      .select(['sku', 'name', 'status', 'attributes_fingerprint', 'settled_fingerprint'])
      .where('catalog_id', '=', catalogId)
      .where('sku', '=', sku)
      .executeTakeFirst(),
  ]);
  if (!catalog) throw new NotFoundError(`no catalog ${JSON.stringify(catalogId)}`);
  if (!product) throw new NotFoundError(`no SKU ${JSON.stringify(sku)} in catalog ${JSON.stringify(catalogId)}`);
  return { catalog, product };
}

/** Slot order: the plan's, then any other slot with data, alphabetically. */
function orderSlots(planned: string[], present: Iterable<string>): string[] {
  const extra = [...new Set(present)].filter((s) => !planned.includes(s)).sort();
  return [...planned, ...extra];
}

export async function skuStatus(db: Kysely<Database>, catalogId: string, sku: string): Promise<SkuStatus> {
  const { catalog, product } = await productOrThrow(db, catalogId, sku);
  const [current, attempts, versions] = await Promise.all([
    db
      .selectFrom('current_assets as c')
      .innerJoin('assets as a', 'a.id', 'c.asset_id')
      .select((eb) => [
        'c.slot', 'a.version', 'a.fingerprint', 'a.status', 'a.created_at', 'a.cost_cents',
        eb.selectFrom('asset_variants as v').select(sql<string>`count(*)`.as('n')).whereRef('v.asset_id', '=', 'a.id').as('variants'),
      ])
      .where('c.catalog_id', '=', catalogId)
      .where('c.sku', '=', sku)
      .execute(),
    db
      .selectFrom('slot_attempts')
      .select(['slot', 'outcome', 'fingerprint', 'error_type', 'error_message', 'workflow_id', 'attempted_at'])
      .where('catalog_id', '=', catalogId)
      .where('sku', '=', sku)
      .execute(),
    db
      .selectFrom('assets')
      .select(['slot', sql<string>`count(*)`.as('n')])
      .where('catalog_id', '=', catalogId)
      .where('sku', '=', sku)
      .groupBy('slot')
      .execute(),
  ]);
  const slots = orderSlots(enabledSlotNames(catalog.plan), [...current, ...attempts, ...versions].map((r) => r.slot));
  return {
    catalogId,
    sku: product.sku,
    name: product.name,
    status: product.status,
    upToDate: product.settled_fingerprint === product.attributes_fingerprint,
    slots: slots.map((slot) => {
      const c = current.find((r) => r.slot === slot);
      const t = attempts.find((r) => r.slot === slot);
      return {
        slot,
        current: c
          ? { version: c.version, fingerprint: c.fingerprint, status: c.status, createdAt: iso(c.created_at)!, costUsd: c.cost_cents / 100, variants: n(c.variants) }
          : null,
        lastAttempt: t
          ? { outcome: t.outcome, fingerprint: t.fingerprint, errorType: t.error_type, errorMessage: t.error_message, workflowId: t.workflow_id, at: iso(t.attempted_at)! }
          : null,
        versions: n(versions.find((r) => r.slot === slot)?.n),
      };
    }),
  };
}

export interface SkuAssets {
  catalogId: string;
  sku: string;
  slots: Array<{
    slot: string;
    currentVersion: number | null;
    versions: Array<{ version: number; status: string; current: boolean; fingerprint: string; checksum: string; storageKey: string; costUsd: number; createdAt: string; variants: number }>;
  }>;
}

export async function skuAssets(db: Kysely<Database>, catalogId: string, sku: string): Promise<SkuAssets> {
  const { catalog } = await productOrThrow(db, catalogId, sku);
  const [versions, current] = await Promise.all([
    db
      .selectFrom('assets as a')
      .select((eb) => [
        'a.id', 'a.slot', 'a.version', 'a.status', 'a.fingerprint', 'a.checksum', 'a.storage_key', 'a.cost_cents', 'a.created_at',
        eb.selectFrom('asset_variants as v').select(sql<string>`count(*)`.as('n')).whereRef('v.asset_id', '=', 'a.id').as('variants'),
      ])
      .where('a.catalog_id', '=', catalogId)
      .where('a.sku', '=', sku)
      .orderBy('a.slot')
      .orderBy('a.version', 'desc')
      .execute(),
    db.selectFrom('current_assets').select(['slot', 'asset_id']).where('catalog_id', '=', catalogId).where('sku', '=', sku).execute(),
  ]);
  const slots = orderSlots(enabledSlotNames(catalog.plan), versions.map((v) => v.slot));
  return {
    catalogId,
    sku,
    slots: slots.map((slot) => {
      const currentId = current.find((c) => c.slot === slot)?.asset_id;
      const list = versions.filter((v) => v.slot === slot);
      return {
        slot,
        currentVersion: list.find((v) => v.id === currentId)?.version ?? null,
        versions: list.map((v) => ({
          version: v.version,
          status: v.status,
          current: v.id === currentId,
          fingerprint: v.fingerprint,
          checksum: v.checksum,
          storageKey: v.storage_key,
          costUsd: v.cost_cents / 100,
          createdAt: iso(v.created_at)!,
          variants: n(v.variants),
        })),
      };
    }),
  };
}
