/**
 * The catalog refresh: selects SKUs page by page, runs their product workflows with a bounded window
 * in flight, honours a budget (images or dollars) and a dry run, answers a progress query, and
 * continues-as-new so its history stays bounded for catalogs of any size.
 */
import {
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  defineQuery,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { postgresSteps } from './proxies';
import { notifyRefreshCompleted } from './publish';
import { productWorkflowId } from '../../shared/ids';
import { SA } from '../../shared/searchAttributes';
import { checkedInput } from './input';
import {
  emptyCounts,
  MAX_FAILURE_REASON,
  MAX_LISTED_FAILURES,
  parseRefreshWorkflowInput,
  type RefreshCounts,
  type RefreshFailure,
  type RefreshProgress,
  type RefreshResult,
  type RefreshWorkflowArgs,
  type RefreshWorkflowInput,
} from '../../shared/refresh';
import { CENTS_PER_IMAGE } from '../../shared/steps';
import { FailureType } from '../../shared/failures';
import { productChangedSignal, productWorkflow, type ProductWorkflowResult } from './product';

export const refreshProgressQuery = defineQuery<RefreshProgress>('progress');

/** How long a budgeted refresh waits, at most, for steps still paying from its budget (300 × 2 s). */
const BUDGET_SETTLE_WAITS = 300;
const BUDGET_SETTLE_POLL = '2 seconds';

function productResultOf(err: unknown): ProductWorkflowResult | undefined {
  if (err instanceof ChildWorkflowFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'ProductPlanFailed') {
    return err.cause.details?.[0] as ProductWorkflowResult | undefined;
  }
  return undefined;
}

export async function refreshWorkflow(rawInput: RefreshWorkflowInput): Promise<RefreshResult> {
  const input: RefreshWorkflowArgs = checkedInput(parseRefreshWorkflowInput, rawInput, 'refresh input', FailureType.invalidPlan);
  const info = workflowInfo();
  const counts: RefreshCounts = input.carry ? { ...input.carry.counts } : emptyCounts();
  const progress: RefreshProgress = {
    catalogId: input.catalogId,
    selection: input.selection,
    dryRun: input.dryRun,
    counts,
    inFlight: 0,
    cursor: input.carry?.cursor ?? null,
    runs: (input.carry?.runs ?? 0) + 1,
    budgetExhausted: input.carry?.budgetExhausted ?? false,
    done: false,
    failureCount: input.carry?.failureCount ?? 0,
  };
  /** The first failures met, for the result; the count covers them all. */
  const failures: RefreshFailure[] = [...(input.carry?.failures ?? [])];
  function noteFailure(f: RefreshFailure): void {
    progress.failureCount += 1;
    if (failures.length < MAX_LISTED_FAILURES) failures.push({ ...f, reason: f.reason.slice(0, MAX_FAILURE_REASON) });
  }
  setHandler(refreshProgressQuery, () => progress);
  const startedAt = input.carry?.startedAt ?? new Date(info.startTime).toISOString();
  const { db, estimator } = postgresSteps(info.taskQueue);
  upsertSearchAttributes([
    { key: SA.catalogId, value: input.catalogId },
    { key: SA.trigger, value: input.trigger },
  ]);
  const selectionLabel = typeof input.selection === 'string' ? input.selection : `${input.selection.skus.length} listed SKUs`;
  const describe = () =>
    `refresh catalog **${input.catalogId}** (${selectionLabel}${input.dryRun ? ', dry run' : ''}): ` +
    `${counts.planned} planned, ${counts.generated} generated, ${counts.skipped} unchanged, ${counts.failed} failed, ` +
    `$${(counts.costCents / 100).toFixed(2)} spent${progress.budgetExhausted ? ', budget reached' : ''}`;

  const budgetImages = input.budget?.images;
  const budgetCents = input.budget?.usd !== undefined ? Math.floor(input.budget.usd * 100) : undefined;
  let reservedImages = 0;
  /**
   * The budget in Postgres: every paid step of this refresh's products, their coalesced re-runs and
   * review regenerations reserves against it before it pays; the checks here only avoid starting
   * products that could not be paid for. Keyed by this workflow's id, so continue-as-new keeps it.
   */
  const budgetLimit = Math.min(budgetImages ?? Infinity, budgetCents !== undefined ? Math.floor(budgetCents / CENTS_PER_IMAGE) : Infinity);
  const budgetRef = !input.dryRun && Number.isFinite(budgetLimit) ? { id: info.workflowId, images: budgetLimit } : undefined;

  function wouldExceed(extraImages: number): boolean {
    const images = counts.imagesBilled + reservedImages + extraImages;
    if (budgetImages !== undefined && images > budgetImages) return true;
    if (budgetCents !== undefined && images * CENTS_PER_IMAGE > budgetCents) return true;
    return false;
  }

  async function runProduct(sku: string, name: string, reservation: number): Promise<void> {
    const workflowId = productWorkflowId(input.catalogId, sku);
    let result: ProductWorkflowResult | undefined;
    let failed = false;
    let failure = '';
    try {
      const handle = await startChild(productWorkflow, {
        workflowId,
        taskQueue: info.taskQueue,
        args: [{ catalogId: input.catalogId, sku, trigger: childTrigger, ...(budgetRef ? { budget: budgetRef } : {}) }],
        // A refresh that is stopped must not strand paid jobs: products finish on their own.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `asset plan for SKU ${sku} (${name})`,
        memo: { productName: name },
        // Set at start, so the product workflow needs no upsert of its own (one visibility write less).
        typedSearchAttributes: [
          { key: SA.catalogId, value: input.catalogId },
          { key: SA.sku, value: sku },
          { key: SA.trigger, value: childTrigger },
        ],
      });
      result = await handle.result();
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // A webhook or another refresh is running this SKU: coalesce into its re-run instead.
        await getExternalWorkflowHandle(workflowId).signal(productChangedSignal, { trigger: 'refresh', ...(budgetRef ? { budget: budgetRef } : {}) });
        counts.coalesced += 1;
        return;
      }
      result = productResultOf(err);
      failed = true;
      failure = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    } finally {
      reservedImages -= reservation;
      progress.inFlight -= 1;
    }
    const refused = result?.slots.filter((o) => o.outcome === 'failed' && o.errorType === FailureType.budgetExhausted) ?? [];
    if (refused.length > 0) progress.budgetExhausted = true;
    if (failed && refused.length > 0 && refused.length === result?.slots.filter((o) => o.outcome === 'failed').length) {
      // Refused by the budget, nothing else went wrong: the refresh ends `budget`, not failed.
      failed = false;
    }
    if (failed) {
      const slots = result?.slots.filter((o) => o.outcome === 'failed') ?? [];
      for (const o of slots) if (o.outcome === 'failed') noteFailure({ sku, slot: o.slot, errorType: o.errorType, reason: o.message });
      if (slots.length === 0) noteFailure({ sku, slot: '*', errorType: 'ProductFailed', reason: failure || `the product workflow ${workflowId} failed` });
    }
    if (result) {
      counts.imagesBilled += result.imagesBilled;
      counts.costCents += result.costCents;
      counts.submissions += result.submissions;
    }
    if (failed) counts.failed += 1;
    else if (result?.outcome === 'generated') counts.generated += 1;
    else counts.skipped += 1;
    setCurrentDetails(describe());
  }

  const childTrigger = input.trigger === 'schedule' ? 'schedule' : 'refresh';

  let processedThisRun = 0;
  const inflight: Array<Promise<void>> = [];
  while (!progress.budgetExhausted) {
    const page = await db.selectRefreshPage.executeWithOptions({ summary: `select ${selectionLabel} SKUs after ${progress.cursor ?? 'start'}` }, [
      { catalogId: input.catalogId, selection: input.selection, afterSku: progress.cursor, limit: input.pageSize },
    ]);
    if (page.skus.length === 0) break;

    if (input.dryRun) {
      const estimate = await estimator.estimatePage.executeWithOptions({ summary: `estimate ${page.skus.length} SKUs` }, [
        { catalogId: input.catalogId, skus: page.skus.map((s) => s.sku), workflowId: info.workflowId, listLimit: MAX_LISTED_FAILURES - failures.length },
      ]);
      counts.planned += estimate.skus;
      counts.estimatedImages += estimate.estimatedImages;
      // A SKU with a slot that cannot be prepared would fail in a real run: counted failed, not "would generate".
      const invalid = estimate.invalid ?? 0;
      counts.generated += estimate.wouldGenerateSkus;
      counts.skipped += estimate.skus - estimate.wouldGenerateSkus - invalid;
      counts.failed += invalid;
      counts.invalid += invalid;
      for (const f of estimate.failures ?? []) noteFailure(f);
      // The page lists only as many as the result has room for; the rest are counted (and in refresh_failures).
      progress.failureCount += (estimate.failureCount ?? 0) - (estimate.failures?.length ?? 0);
      progress.cursor = page.skus[page.skus.length - 1]!.sku;
      processedThisRun += page.skus.length;
    } else {
      for (const { sku, name } of page.skus) {
        await condition(() => progress.inFlight < input.window);
        if (wouldExceed(page.imagesPerSku)) {
          progress.budgetExhausted = true;
          break;
        }
        counts.planned += 1;
        reservedImages += page.imagesPerSku;
        progress.inFlight += 1;
        progress.cursor = sku;
        processedThisRun += 1;
        inflight.push(runProduct(sku, name, page.imagesPerSku));
      }
    }
    setCurrentDetails(describe());
    if (page.skus.length < input.pageSize) break;
    if (processedThisRun >= input.skusPerRun || workflowInfo().continueAsNewSuggested) {
      // Drain the window, then start a fresh history that carries the counts and the cursor.
      await Promise.all(inflight);
      await continueAsNew<typeof refreshWorkflow>({
        ...input,
        carry: { cursor: progress.cursor, counts, startedAt, runs: progress.runs, budgetExhausted: progress.budgetExhausted, failures, failureCount: progress.failureCount },
      });
    }
  }
  await Promise.all(inflight);
  if (budgetRef) {
    // What the budget paid is what its ledger rows say, re-runs and children that ended without details
    // included. Plans this refresh coalesced into may still be paying from it: wait (bounded) for the
    // steps that reserved to be billed or fail, so the report is the ledger's.
    let spent = await db.budgetSpent.executeWithOptions({ summary: `what budget ${budgetRef.id} paid` }, [{ budgetId: budgetRef.id }]);
    for (let waits = 0; spent.unsettled > 0 && waits < BUDGET_SETTLE_WAITS; waits++) {
      await sleep(BUDGET_SETTLE_POLL);
      spent = await db.budgetSpent.executeWithOptions({ summary: `what budget ${budgetRef.id} paid (${spent.unsettled} steps still paying)` }, [{ budgetId: budgetRef.id }]);
    }
    counts.imagesBilled = spent.images;
    counts.costCents = spent.costCents;
  }
  progress.done = true;
  setCurrentDetails(describe());

  const outcome = counts.failed > 0 ? 'failed' : progress.budgetExhausted ? 'budget' : input.dryRun ? 'dry-run' : 'completed';
  upsertSearchAttributes([{ key: SA.outcome, value: outcome }]);
  await db.recordRefreshRun.executeWithOptions({ summary: `record refresh of ${input.catalogId}` }, [
    {
      workflowId: info.workflowId,
      catalogId: input.catalogId,
      selection: input.selection,
      trigger: input.trigger,
      dryRun: input.dryRun,
      status: outcome,
      counts,
      budgetExhausted: progress.budgetExhausted,
      startedAt,
      finished: true,
      failures,
      failureCount: progress.failureCount,
    },
  ]);
  if (!input.dryRun) await notifyRefreshCompleted({ catalogId: input.catalogId, status: outcome, counts });
  return {
    ...counts,
    catalogId: input.catalogId,
    dryRun: input.dryRun,
    budgetExhausted: progress.budgetExhausted,
    costUsd: counts.costCents / 100,
    estimatedCostUsd: (counts.estimatedImages * CENTS_PER_IMAGE) / 100,
    runs: progress.runs,
    failures,
    failureCount: progress.failureCount,
  };
}
