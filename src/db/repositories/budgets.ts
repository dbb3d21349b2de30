/**
 * Refresh budgets, enforced in Postgres: every paid step of a run under a budget reserves its images
 * before it pays, in one transaction that locks the budget row, so concurrent steps (a window of
 * children, coalesced re-runs, review regenerations) can never together go past the limit.
 *
 * A reservation counts what it reserved until its ledger row says what was billed; from then on it
 * counts the billed images (a job that delivered fewer gives the rest back, a job that failed without
 * billing gives everything back). A step whose job may have been billed keeps its reservation.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema';

type Db = Kysely<Database> | Transaction<Database>;

/** What a product workflow carries for the refresh that pays for it. */
export interface BudgetRef {
  /** The refresh's workflow id (stable across continue-as-new). */
  id: string;
  /** The limit, in images. */
  images: number;
}

export interface BudgetReservation {
  budget: BudgetRef;
  catalogId: string;
  sku: string;
  slot: string;
  /** The paid step's idempotency key: reserving the same step twice reserves once. */
  idempotencyKey: string;
  images: number;
}

export type ReserveOutcome = { ok: true; usedImages: number; limitImages: number } | { ok: false; usedImages: number; limitImages: number };

/** The images a budget has spent or holds: reservations, each counted by its ledger row once billed. */
function usedImages(trx: Db, budgetId: string) {
  return sql<{ used: string }>`
    select coalesce(sum(
      case
        when j.id is null then r.images
        when j.image_outcomes is not null then j.images_billed
        when j.status = 'failed' then j.images_billed
        else greatest(r.images, j.images_billed)
      end), 0) as used
    from budget_reservations r
    left join generation_jobs j on j.idempotency_key = r.idempotency_key
    where r.budget_id = ${budgetId}`.execute(trx);
}

/** Reserves a paid step's images against a budget, or refuses when they would take it past its limit. */
export async function reserveBudget(db: Kysely<Database>, r: BudgetReservation): Promise<ReserveOutcome> {
  return db
    .transaction()
    .execute(async (trx) => {
      await trx
        .insertInto('refresh_budgets')
        .values({ id: r.budget.id, catalog_id: r.catalogId, limit_images: Math.max(0, Math.floor(r.budget.images)) })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      // The row lock serialises every reservation of this budget.
      const budget = await trx.selectFrom('refresh_budgets').select(['limit_images']).where('id', '=', r.budget.id).forUpdate().executeTakeFirstOrThrow();
      const existing = await trx
        .selectFrom('budget_reservations')
        .select(['images'])
        .where('budget_id', '=', r.budget.id)
        .where('idempotency_key', '=', r.idempotencyKey)
        .executeTakeFirst();
      const used = Number((await usedImages(trx, r.budget.id)).rows[0]?.used ?? 0);
      if (existing) return { ok: true as const, usedImages: used, limitImages: budget.limit_images };
      if (used + r.images > budget.limit_images) return { ok: false as const, usedImages: used, limitImages: budget.limit_images };
      await trx
        .insertInto('budget_reservations')
        .values({ budget_id: r.budget.id, idempotency_key: r.idempotencyKey, catalog_id: r.catalogId, sku: r.sku, slot: r.slot, images: r.images })
        .execute();
      return { ok: true as const, usedImages: used + r.images, limitImages: budget.limit_images };
    });
}

/**
 * Gives a step's reservation back when the step is known not to have been sent (no ledger row, or one
 * still `submitting`, or `failed`): a step whose job may exist keeps it.
 */
export async function releaseBudget(db: Kysely<Database>, r: { budgetId: string; idempotencyKey: string }): Promise<boolean> {
  const res = await sql`
    update budget_reservations as r set images = 0
    where r.budget_id = ${r.budgetId} and r.idempotency_key = ${r.idempotencyKey}
      and not exists (
        select 1 from generation_jobs j
        where j.idempotency_key = r.idempotency_key and j.status not in ('submitting', 'failed'))`.execute(db);
  return Number(res.numAffectedRows ?? 0) > 0;
}

/** What a budget's steps cost, from the ledger: the refresh reports this, so its cost is the ledger's. */
export async function budgetSpent(db: Db, budgetId: string): Promise<{ images: number; costCents: number; jobs: number; heldImages: number; unsettled: number }> {
  const row = await sql<{ images: string; cents: string; jobs: string }>`
    select coalesce(sum(j.images_billed), 0) as images, coalesce(sum(j.cost_cents), 0) as cents, count(j.id) as jobs
    from budget_reservations r join generation_jobs j on j.idempotency_key = r.idempotency_key
    where r.budget_id = ${budgetId}`.execute(db);
  const used = Number((await usedImages(db, budgetId)).rows[0]?.used ?? 0);
  // Reservations whose step has not been billed or failed yet: the step may still pay.
  const open = await sql<{ n: string }>`
    select count(*) as n from budget_reservations r
    left join generation_jobs j on j.idempotency_key = r.idempotency_key
    where r.budget_id = ${budgetId} and r.images > 0 and (j.id is null or (j.image_outcomes is null and j.status <> 'failed'))`.execute(db);
  const r = row.rows[0];
  return { images: Number(r?.images ?? 0), costCents: Number(r?.cents ?? 0), jobs: Number(r?.jobs ?? 0), heldImages: used, unsettled: Number(open.rows[0]?.n ?? 0) };
}
