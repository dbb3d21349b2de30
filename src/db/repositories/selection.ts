/**
 * Which SKUs a refresh visits, a page at a time in SKU order (never the whole catalog at once).
 *   all      every active product;
 *   changed  the snapshot's attributes differ from what the assets were last settled from;
 *   stale    changed, or the last attempt of a slot failed, or a current asset is older than the
 *            catalog's maximum age;
 *   skus     an explicit list.
 */
import { FailureType } from '../../shared/failures';
import { sql, type Kysely } from 'kysely';
import type { RefreshFailure } from '../../shared/refresh';
import type { Database } from '../schema';
import { changedSinceGenerated } from './aggregates';

/** Slot failures that wait for an operator rather than for the next night. */
const OPERATOR_HOLDS = [FailureType.needsAttention, FailureType.ambiguousParked];

export type Selection = 'all' | 'changed' | 'stale' | { skus: string[] };

export async function selectSkuPage(
  db: Kysely<Database>,
  o: { catalogId: string; selection: Selection; afterSku: string | null; limit: number; maxAgeDays: number | null },
): Promise<Array<{ sku: string; name: string; attributesFingerprint: string }>> {
  let q = db
    .selectFrom('products as p')
    .select(['p.sku', 'p.name', 'p.attributes_fingerprint'])
    .where('p.catalog_id', '=', o.catalogId)
    .where('p.status', '=', 'active');
  if (o.afterSku !== null) q = q.where('p.sku', '>', o.afterSku);
  const sel = o.selection;
  if (typeof sel === 'object') {
    if (sel.skus.length === 0) return [];
    q = q.where('p.sku', 'in', sel.skus);
  } else if (sel === 'changed') {
    q = q.where(changedSinceGenerated('p'));
  } else if (sel === 'stale') {
    q = q.where((eb) =>
      eb.or([
        changedSinceGenerated('p'),
        eb.exists(
          eb
            .selectFrom('slot_attempts as sa')
            .select(sql`1`.as('one'))
            .whereRef('sa.catalog_id', '=', 'p.catalog_id')
            .whereRef('sa.sku', '=', 'p.sku')
            .where('sa.outcome', '=', 'failed')
            // A slot waiting for an operator (re-buy cap reached, ambiguous submit parked) is not
            // retried every night: `catalog-assets retry`, a ledger resolution or changed data brings it back.
            .where(sql<boolean>`coalesce(sa.error_type, '') <> all(${sql.val(OPERATOR_HOLDS)}::text[])`),
        ),
        ...(o.maxAgeDays !== null
          ? [
              eb.exists(
                eb
                  .selectFrom('current_assets as c')
                  .innerJoin('assets as a', 'a.id', 'c.asset_id')
                  .select(sql`1`.as('one'))
                  .whereRef('c.catalog_id', '=', 'p.catalog_id')
                  .whereRef('c.sku', '=', 'p.sku')
                  .where('a.created_at', '<', sql<Date>`now() - make_interval(days => ${o.maxAgeDays})`),
              ),
            ]
          : []),
      ]),
    );
  }
  const rows = await q.orderBy('p.sku').limit(o.limit).execute();
  return rows.map((r) => ({ sku: r.sku, name: r.name, attributesFingerprint: r.attributes_fingerprint }));
}

/** After a product run with no failed slot: the assets now reflect this attribute fingerprint. */
export async function markProductSettled(db: Kysely<Database>, catalogId: string, sku: string, attributesFingerprint: string): Promise<void> {
  await db
    .updateTable('products')
    .set({ settled_fingerprint: attributesFingerprint, settled_at: sql<Date>`now()` })
    .where('catalog_id', '=', catalogId)
    .where('sku', '=', sku)
    .execute();
}

export async function recordRefreshRun(
  db: Kysely<Database>,
  r: {
    workflowId: string;
    catalogId: string;
    selection: Selection;
    trigger: string;
    dryRun: boolean;
    status: string;
    counts: Record<string, number>;
    costCents: number;
    budgetExhausted: boolean;
    startedAt: string;
    finished: boolean;
    /** The first failures (as the workflow lists them) and how many there were in all. */
    failures?: RefreshFailure[];
    failureCount?: number;
  },
): Promise<void> {
  const values = {
    workflow_id: r.workflowId,
    catalog_id: r.catalogId,
    selection: JSON.stringify(r.selection),
    trigger: r.trigger,
    dry_run: r.dryRun,
    status: r.status,
    counts: JSON.stringify(r.counts),
    cost_cents: r.costCents,
    budget_exhausted: r.budgetExhausted,
    started_at: r.startedAt,
    finished_at: r.finished ? sql<Date>`now()` : null,
    failures: JSON.stringify(r.failures ?? []),
    failure_count: r.failureCount ?? r.failures?.length ?? 0,
  };
  await db
    .insertInto('refresh_runs')
    .values(values)
    .onConflict((oc) =>
      oc.column('workflow_id').doUpdateSet({
        status: values.status,
        counts: values.counts,
        cost_cents: values.cost_cents,
        budget_exhausted: values.budget_exhausted,
        finished_at: values.finished_at,
        failures: values.failures,
        failure_count: values.failure_count,
      }),
    )
    .execute();
}

/** Every slot a dry run found it could not prepare; idempotent (a retried page writes the same rows). */
export async function recordRefreshFailures(db: Kysely<Database>, workflowId: string, catalogId: string, failures: RefreshFailure[]): Promise<void> {
  // One statement per chunk keeps the parameter count far below Postgres's limit.
  for (let i = 0; i < failures.length; i += 500) {
    const rows = failures.slice(i, i + 500).map((f) => ({ workflow_id: workflowId, catalog_id: catalogId, sku: f.sku, slot: f.slot, error_type: f.errorType, reason: f.reason }));
    await db
      .insertInto('refresh_failures')
      .values(rows)
      .onConflict((oc) => oc.columns(['workflow_id', 'sku', 'slot']).doUpdateSet((eb) => ({ error_type: eb.ref('excluded.error_type'), reason: eb.ref('excluded.reason') })))
      .execute();
  }
}

/** A refresh's recorded failures, in SKU and slot order. */
export async function listRefreshFailures(db: Kysely<Database>, workflowId: string): Promise<RefreshFailure[]> {
  const rows = await db
    .selectFrom('refresh_failures')
    .select(['sku', 'slot', 'error_type', 'reason'])
    .where('workflow_id', '=', workflowId)
    .orderBy('sku')
    .orderBy('slot')
    .execute();
  return rows.map((r) => ({ sku: r.sku, slot: r.slot, errorType: r.error_type, reason: r.reason }));
}
