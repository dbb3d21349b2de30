/**
 * The window of product workflows in flight: each SKU's plan runs as a child (abandoned if the refresh
 * stops, so paid jobs are not stranded), a SKU already running is coalesced into that run, and each
 * ending is tallied.
 */
import {
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  startChild,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { FailureType } from '../../../shared/failures';
import { productWorkflowId } from '../../../shared/ids';
import type { RefreshWorkflowArgs } from '../../../shared/refresh';
import { SA } from '../../../shared/searchAttributes';
import { productChangedSignal, productWorkflow, type ProductWorkflowResult } from '../product';
import type { RefreshBudget } from './budget';
import type { RefreshTally } from './progress';

function productResultOf(err: unknown): ProductWorkflowResult | undefined {
  if (err instanceof ChildWorkflowFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'ProductPlanFailed') {
    return err.cause.details?.[0] as ProductWorkflowResult | undefined;
  }
  return undefined;
}

/** A product's ending in the counts (and its failed slots in the failures). */
function tallyProduct(tally: RefreshTally, sku: string, workflowId: string, result: ProductWorkflowResult | undefined, failed: boolean, failure: string): void {
  const { counts, progress } = tally;
  const refused = result?.slots.filter((o) => o.outcome === 'failed' && o.errorType === FailureType.budgetExhausted) ?? [];
  if (refused.length > 0) progress.budgetExhausted = true;
  if (failed && refused.length > 0 && refused.length === result?.slots.filter((o) => o.outcome === 'failed').length) {
    // Refused by the budget, nothing else went wrong: the refresh ends `budget`, not failed.
    failed = false;
  }
  if (failed) {
    const slots = result?.slots.filter((o) => o.outcome === 'failed') ?? [];
    for (const o of slots) if (o.outcome === 'failed') tally.noteFailure({ sku, slot: o.slot, errorType: o.errorType, reason: o.message });
    if (slots.length === 0) tally.noteFailure({ sku, slot: '*', errorType: 'ProductFailed', reason: failure || `the product workflow ${workflowId} failed` });
  }
  if (result) {
    counts.imagesBilled += result.imagesBilled;
    counts.costCents += result.costCents;
    counts.submissions += result.submissions;
  }
  if (failed) counts.failed += 1;
  else if (result?.outcome === 'generated') counts.generated += 1;
  else counts.skipped += 1;
  tally.publish();
}

export interface ProductWindow {
  /** Resolves once fewer than `input.window` products are in flight. */
  room(): Promise<void>;
  /** Starts the SKU's product workflow; `reservation` images count against the budget until it ends. */
  start(sku: string, name: string, reservation: number): void;
  /** Resolves once every product started so far has ended. */
  drain(): Promise<void>;
}

export function productWindow(input: RefreshWorkflowArgs, taskQueue: string, tally: RefreshTally, budget: RefreshBudget): ProductWindow {
  const { counts, progress } = tally;
  const childTrigger = input.trigger === 'schedule' ? 'schedule' : 'refresh';
  const inflight: Array<Promise<void>> = [];

  /** Starts the child and waits for it; what it ends with, and whether it counts as failed. */
  async function runChild(sku: string, name: string, workflowId: string): Promise<{ result?: ProductWorkflowResult; failed: boolean; failure: string; coalesced?: true }> {
    try {
      const handle = await startChild(productWorkflow, {
        workflowId,
        taskQueue,
        args: [{ catalogId: input.catalogId, sku, trigger: childTrigger, ...(budget.ref ? { budget: budget.ref } : {}) }],
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
      return { result: await handle.result(), failed: false, failure: '' };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // A webhook or another refresh is running this SKU: coalesce into its re-run instead.
        await getExternalWorkflowHandle(workflowId).signal(productChangedSignal, { trigger: 'refresh', ...(budget.ref ? { budget: budget.ref } : {}) });
        return { failed: false, failure: '', coalesced: true };
      }
      const failure = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      return { result: productResultOf(err), failed: true, failure };
    }
  }

  async function runProduct(sku: string, name: string, reservation: number): Promise<void> {
    const workflowId = productWorkflowId(input.catalogId, sku);
    let ended;
    try {
      ended = await runChild(sku, name, workflowId);
    } finally {
      budget.release(reservation);
      progress.inFlight -= 1;
    }
    if (ended.coalesced) {
      counts.coalesced += 1;
      return;
    }
    tallyProduct(tally, sku, workflowId, ended.result, ended.failed, ended.failure);
  }

  return {
    room: () => condition(() => progress.inFlight < input.window),
    start(sku, name, reservation) {
      budget.reserve(reservation);
      progress.inFlight += 1;
      inflight.push(runProduct(sku, name, reservation));
    },
    drain: async () => {
      await Promise.all(inflight);
    },
  };
}
