/**
 * A catalog at a glance, for `GET /catalogs/:id/status`: the snapshot's products by status, the
 * current SKU-to-asset mapping, the last attempt per slot, the paid-jobs ledger and the webhook inbox.
 * A handful of aggregate queries, run side by side.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema';
import { catalogLedger, productCounts, type CatalogLedger, recentSlotFailures, type ProductCounts, type RecentFailure } from './aggregates';

export interface CatalogStatus {
  catalogId: string;
  name: string;
  products: ProductCounts;
  assets: { current: number; retired: number; pendingReview: number };
  /** The last attempt of each SKU's slots. */
  lastAttempts: { generated: number; skipped: number; failed: number };
  recentFailures: RecentFailure[];
  ledger: CatalogLedger;
  webhooks: { lastReceivedAt: string | null; pendingTriggers: number };
}

const n = (v: string | number | bigint | null | undefined) => Number(v ?? 0);

export async function catalogStatus(db: Kysely<Database>, catalogId: string): Promise<CatalogStatus | undefined> {
  const catalog = await db.selectFrom('catalogs').select(['id', 'name']).where('id', '=', catalogId).executeTakeFirst();
  if (!catalog) return undefined;

  const [products, assets, attempts, failures, ledger, webhooks] = await Promise.all([
    productCounts(db, catalogId),
    db
      .selectFrom('current_assets as c')
      .innerJoin('assets as a', 'a.id', 'c.asset_id')
      .select(['a.status', sql<string>`count(*)`.as('n')])
      .where('c.catalog_id', '=', catalogId)
      .groupBy('a.status')
      .execute(),
    db
      .selectFrom('slot_attempts')
      .select(['outcome', sql<string>`count(*)`.as('n')])
      .where('catalog_id', '=', catalogId)
      .groupBy('outcome')
      .execute(),
    recentSlotFailures(db, catalogId, 10),
    catalogLedger(db, catalogId),
    db
      .selectFrom('webhook_events')
      .select([sql<Date | null>`max(received_at)`.as('last'), sql<string>`count(*) filter (where trigger_state <> 'none')`.as('pending')])
      .where('catalog_id', '=', catalogId)
      .executeTakeFirstOrThrow(),
  ]);

  const sumWhere = <R extends { n: string }>(rows: R[], pick: (r: R) => boolean) => rows.filter(pick).reduce((s, r) => s + n(r.n), 0);
  const byAssetStatus = (status: string) => sumWhere(assets, (r) => r.status === status);
  const byOutcome = (outcome: string) => sumWhere(attempts, (r) => r.outcome === outcome);

  return {
    catalogId: catalog.id,
    name: catalog.name,
    products,
    assets: { current: byAssetStatus('current'), retired: byAssetStatus('retired'), pendingReview: byAssetStatus('pending_review') },
    lastAttempts: { generated: byOutcome('generated'), skipped: byOutcome('skipped'), failed: byOutcome('failed') },
    recentFailures: failures,
    ledger,
    webhooks: { lastReceivedAt: webhooks.last ? new Date(webhooks.last).toISOString() : null, pendingTriggers: n(webhooks.pending) },
  };
}
