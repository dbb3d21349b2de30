/**
 * The catalog-wide aggregates every view counts with (`GET /catalogs/:id/status`, `catalog-assets
 * status`, the refresh's `changed` selection), each written once.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema';
import { ledgerTotals } from './jobs';

type Db = Kysely<Database> | Transaction<Database>;

const n = (v: string | number | bigint | null | undefined) => Number(v ?? 0);

/**
 * A product whose data changed since its assets were last generated (or that was never settled):
 * the `changed` selection, and the count views report. `table` is the alias of `products`.
 */
export function changedSinceGenerated(table = 'products') {
  return sql<boolean>`${sql.ref(`${table}.settled_fingerprint`)} is distinct from ${sql.ref(`${table}.attributes_fingerprint`)}`;
}

export interface ProductCounts {
  total: number;
  active: number;
  removed: number;
  /** Active products whose data changed since their assets were last generated (or never generated). */
  changedSinceGenerated: number;
}

export async function productCounts(db: Db, catalogId: string): Promise<ProductCounts> {
  const row = await db
    .selectFrom('products')
    .select([
      sql<string>`count(*)`.as('total'),
      sql<string>`count(*) filter (where status = 'active')`.as('active'),
      sql<string>`count(*) filter (where status = 'removed')`.as('removed'),
      sql<string>`count(*) filter (where status = 'active' and ${changedSinceGenerated()})`.as('changed'),
    ])
    .where('catalog_id', '=', catalogId)
    .executeTakeFirstOrThrow();
  return { total: n(row.total), active: n(row.active), removed: n(row.removed), changedSinceGenerated: n(row.changed) };
}

/** Paid jobs of a catalog by ledger status. */
export async function jobsByStatus(db: Db, catalogId: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('generation_jobs')
    .select(['status', sql<string>`count(*)`.as('n')])
    .where('catalog_id', '=', catalogId)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, n(r.n)]));
}

export type RecentFailure = Awaited<ReturnType<typeof recentSlotFailures>>[number];

/** Slots whose last attempt failed, newest first. */
export async function recentSlotFailures(db: Db, catalogId: string, limit: number) {
  const rows = await db
    .selectFrom('slot_attempts')
    .select(['sku', 'slot', 'error_type', 'error_message', 'attempted_at'])
    .where('catalog_id', '=', catalogId)
    .where('outcome', '=', 'failed')
    .orderBy('attempted_at', 'desc')
    .orderBy('sku')
    .orderBy('slot')
    .limit(limit)
    .execute();
  return rows.map((f) => ({ sku: f.sku, slot: f.slot, errorType: f.error_type, message: f.error_message, at: new Date(f.attempted_at).toISOString() }));
}

/** A catalog's paid-jobs ledger: jobs by status and the totals (pg returns counts as strings; numbers here). */
export async function catalogLedger(db: Kysely<Database>, catalogId: string) {
  const [byStatus, totals] = await Promise.all([jobsByStatus(db, catalogId), ledgerTotals(db, { catalogId })]);
  return {
    jobs: totals.jobs,
    byStatus,
    imagesBilled: totals.imagesBilled,
    costCents: totals.costCents,
    costUsd: totals.costCents / 100,
    submitAttempts: totals.submitAttempts,
  };
}

export type CatalogLedger = Awaited<ReturnType<typeof catalogLedger>>;
