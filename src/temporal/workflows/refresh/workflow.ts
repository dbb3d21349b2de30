/**
 * The catalog refresh: selects SKUs page by page (selection.ts), runs their product workflows with a
 * bounded window in flight (window.ts), honours a budget in images or dollars (budget.ts) and a dry
 * run, answers a progress query (progress.ts), and continues-as-new so its history stays bounded for
 * catalogs of any size.
 */
import { continueAsNew, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../../../shared/failures';
import { parseRefreshWorkflowInput, type RefreshResult, type RefreshWorkflowArgs, type RefreshWorkflowInput } from '../../../shared/refresh';
import { SA } from '../../../shared/searchAttributes';
import { CENTS_PER_IMAGE } from '../../../shared/steps';
import { checkedInput } from '../input';
import { postgresSteps } from '../proxies';
import { notifyRefreshCompleted } from '../publish';
import { refreshBudget, settleBudget } from './budget';
import { refreshTally, type RefreshTally } from './progress';
import { estimatePage, selectionLabel } from './selection';
import { productWindow } from './window';

export async function refreshWorkflow(rawInput: RefreshWorkflowInput): Promise<RefreshResult> {
  const input: RefreshWorkflowArgs = checkedInput(parseRefreshWorkflowInput, rawInput, 'refresh input', FailureType.invalidPlan);
  const info = workflowInfo();
  const tally = refreshTally(input);
  const { counts, progress, failures } = tally;
  const startedAt = input.carry?.startedAt ?? new Date(info.startTime).toISOString();
  const { db, estimator } = postgresSteps(info.taskQueue);
  upsertSearchAttributes([
    { key: SA.catalogId, value: input.catalogId },
    { key: SA.trigger, value: input.trigger },
  ]);
  const label = selectionLabel(input.selection);
  const budget = refreshBudget(input, info.workflowId, counts);
  const products = productWindow(input, info.taskQueue, tally, budget);

  let processedThisRun = 0;
  while (!progress.budgetExhausted) {
    const page = await db.selectRefreshPage.executeWithOptions({ summary: `select ${label} SKUs after ${progress.cursor ?? 'start'}` }, [
      { catalogId: input.catalogId, selection: input.selection, afterSku: progress.cursor, limit: input.pageSize },
    ]);
    if (page.skus.length === 0) break;

    if (input.dryRun) {
      await estimatePage(estimator, input, info.workflowId, page, tally);
      processedThisRun += page.skus.length;
    } else {
      for (const { sku, name } of page.skus) {
        await products.room();
        if (budget.wouldExceed(page.imagesPerSku)) {
          progress.budgetExhausted = true;
          break;
        }
        counts.planned += 1;
        progress.cursor = sku;
        processedThisRun += 1;
        products.start(sku, name, page.imagesPerSku);
      }
    }
    tally.publish();
    if (page.skus.length < input.pageSize) break;
    if (processedThisRun >= input.skusPerRun || workflowInfo().continueAsNewSuggested) {
      // Drain the window, then start a fresh history that carries the counts and the cursor.
      await products.drain();
      await continueAsNew<typeof refreshWorkflow>({
        ...input,
        carry: { cursor: progress.cursor, counts, startedAt, runs: progress.runs, budgetExhausted: progress.budgetExhausted, failures, failureCount: progress.failureCount },
      });
    }
  }
  await products.drain();
  if (budget.ref) await settleBudget(db, budget.ref, counts);
  progress.done = true;
  tally.publish();
  return finish(db, input, info.workflowId, startedAt, tally);
}

/** Records the run (the refresh_runs row the CLI and the status page read) and builds the result. */
async function finish(db: ReturnType<typeof postgresSteps>['db'], input: RefreshWorkflowArgs, workflowId: string, startedAt: string, tally: RefreshTally): Promise<RefreshResult> {
  const { counts, progress, failures } = tally;
  const outcome = counts.failed > 0 ? 'failed' : progress.budgetExhausted ? 'budget' : input.dryRun ? 'dry-run' : 'completed';
  upsertSearchAttributes([{ key: SA.outcome, value: outcome }]);
  await db.recordRefreshRun.executeWithOptions({ summary: `record refresh of ${input.catalogId}` }, [
    {
      workflowId,
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
