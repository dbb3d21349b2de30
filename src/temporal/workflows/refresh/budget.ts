/**
 * The refresh's budget (images or dollars). The budget is kept in Postgres: every paid step of this
 * refresh's products, their coalesced re-runs and review regenerations reserves against it before it
 * pays; the checks here only avoid starting products that could not be paid for. Keyed by the refresh's
 * workflow id, so continue-as-new keeps it.
 */
import { sleep } from '@temporalio/workflow';
import type { RefreshCounts, RefreshWorkflowArgs } from '../../../shared/refresh';
import { CENTS_PER_IMAGE, type BudgetRef } from '../../../shared/steps';
import type { postgresSteps } from '../proxies';

/** How long a budgeted refresh waits, at most, for steps still paying from its budget (300 × 2 s). */
const BUDGET_SETTLE_WAITS = 300;
const BUDGET_SETTLE_POLL = '2 seconds';

export interface RefreshBudget {
  /** What each product run carries (none for a dry run or an unbudgeted refresh). */
  readonly ref: BudgetRef | undefined;
  /** Whether starting a product of `extraImages` more could go past the budget. */
  wouldExceed(extraImages: number): boolean;
  /** Images of products started and not yet ended, counted against the budget meanwhile. */
  reserve(images: number): void;
  release(images: number): void;
}

export function refreshBudget(input: RefreshWorkflowArgs, workflowId: string, counts: RefreshCounts): RefreshBudget {
  const budgetImages = input.budget?.images;
  const budgetCents = input.budget?.usd !== undefined ? Math.floor(input.budget.usd * 100) : undefined;
  let reservedImages = 0;
  const budgetLimit = Math.min(budgetImages ?? Infinity, budgetCents !== undefined ? Math.floor(budgetCents / CENTS_PER_IMAGE) : Infinity);
  return {
    ref: !input.dryRun && Number.isFinite(budgetLimit) ? { id: workflowId, images: budgetLimit } : undefined,
    wouldExceed(extraImages) {
      const images = counts.imagesBilled + reservedImages + extraImages;
      if (budgetImages !== undefined && images > budgetImages) return true;
      if (budgetCents !== undefined && images * CENTS_PER_IMAGE > budgetCents) return true;
      return false;
    },
    reserve(images) {
      reservedImages += images;
    },
    release(images) {
      reservedImages -= images;
    },
  };
}

/**
 * What the budget paid is what its ledger rows say, re-runs and children that ended without details
 * included. Plans this refresh coalesced into may still be paying from it: wait (bounded) for the steps
 * that reserved to be billed or fail, so the report is the ledger's.
 */
export async function settleBudget(db: ReturnType<typeof postgresSteps>['db'], ref: BudgetRef, counts: RefreshCounts): Promise<void> {
  let spent = await db.budgetSpent.executeWithOptions({ summary: `what budget ${ref.id} paid` }, [{ budgetId: ref.id }]);
  for (let waits = 0; spent.unsettled > 0 && waits < BUDGET_SETTLE_WAITS; waits++) {
    await sleep(BUDGET_SETTLE_POLL);
    spent = await db.budgetSpent.executeWithOptions({ summary: `what budget ${ref.id} paid (${spent.unsettled} steps still paying)` }, [{ budgetId: ref.id }]);
  }
  counts.imagesBilled = spent.images;
  counts.costCents = spent.costCents;
}
