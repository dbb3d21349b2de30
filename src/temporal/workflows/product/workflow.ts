/**
 * The product workflow: one per SKU (its id derived from catalog and SKU), running the catalog's
 * asset plan (schedule.ts: independent slots in parallel, dependent ones after what they reference;
 * pipeline.ts: each slot's steps; review.ts: the review loop; status.ts: the status query and details).
 *
 * A trigger that arrives while the plan runs is coalesced: the plan runs again afterwards (through
 * continue-as-new, so history stays bounded) with the newest product data.
 */
import { ApplicationFailure, continueAsNew, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../../../shared/failures';
import { parseTaskQueueName } from '../../../shared/ids';
import { SA } from '../../../shared/searchAttributes';
import {
  CENTS_PER_IMAGE,
  parseProductWorkflowInput,
  type BudgetRef,
  type ProductWorkflowArgs,
  type ProductWorkflowInput,
  type ReviewDecisionSignal,
  type SlotOutcome,
} from '../../../shared/steps';
import { checkedInput } from '../input';
import { productChangedSignal, productStatusQuery, reviewSignal, type ProductRunStatus, type ProductWorkflowResult } from './definitions';
import { runSlot } from './pipeline';
import { publishRun } from './publish';
import type { ProductRun } from './run';
import { runSlots } from './schedule';
import { statusReport } from './status';
import { productSteps } from './steps';

type Failed = Extract<SlotOutcome, { outcome: 'failed' }>;

/** `needs-attention`: a slot stopped buying (re-buy cap, or an ambiguous submit parked) until an operator decides. */
const waitsForOperator = (f: { errorType: string }) => f.errorType === FailureType.needsAttention || f.errorType === FailureType.ambiguousParked;

export async function productWorkflow(rawInput: ProductWorkflowInput): Promise<ProductWorkflowResult> {
  const input: ProductWorkflowArgs = checkedInput(parseProductWorkflowInput, rawInput, 'workflow input', FailureType.invalidProductData);
  const info = workflowInfo();
  const status: ProductRunStatus = { catalogId: input.catalogId, sku: input.sku, changeReruns: input.changeReruns, rerunPending: false, slots: {} };
  let changes = 0;
  let latestTrigger: string = input.trigger;
  let latestBudget: BudgetRef | undefined;
  setHandler(productStatusQuery, () => status);
  setHandler(productChangedSignal, (signal) => {
    changes += 1;
    latestTrigger = signal.trigger;
    if (signal.budget) latestBudget = signal.budget;
  });
  const decisions = new Map<string, ReviewDecisionSignal>();
  setHandler(reviewSignal, (d) => {
    // Only a slot that is waiting takes a decision; anything else would be applied to a later asset.
    if (status.slots[d.slot]?.phase === 'awaiting_review' && (d.decision === 'approve' || d.decision === 'reject')) decisions.set(d.slot, d);
  });
  // Signals buffered before the handler existed (the trigger of signalWithStart) are delivered by
  // setHandler synchronously: they describe the data this run is about to read, not a newer change.
  const changesSeenAtStart = changes;

  const steps = productSteps(parseTaskQueueName(info.taskQueue)?.prefix ?? info.taskQueue);
  upsertIdentity(input);

  const plan = await steps.db('loadPlan', { summary: `load plan for SKU ${input.sku}` }, [{ catalogId: input.catalogId, sku: input.sku }]);
  status.productName = plan.productName;
  const slots = plan.slots.filter((s) => !input.slots || input.slots.includes(s.name));
  upsertSearchAttributes([{ key: SA.slots, value: slots.map((s) => s.name) }]);

  if (plan.productStatus !== 'active') {
    upsertSearchAttributes([{ key: SA.outcome, value: 'removed' }]);
    return { catalogId: input.catalogId, sku: input.sku, outcome: 'removed', slots: [], imagesBilled: 0, costCents: 0, submissions: 0 };
  }

  const run: ProductRun = {
    input,
    base: { catalogId: input.catalogId, sku: input.sku, workflowId: info.workflowId },
    plan,
    steps,
    report: statusReport(status),
    decisions,
    assets: new Map(),
    tally: { submissions: 0, imagesBilled: 0 },
  };
  const outcomes = await runSlots(slots, (slot, dependencies) => runSlot(run, slot, dependencies));
  const published = await publishRun(run, outcomes);
  const { result, failed } = summarize(run, outcomes);
  if (published) result.publish = published;

  if (failed.every(waitsForOperator) && !input.slots) {
    // Every slot is current for the attributes this run read, or waits for an operator (who decides
    // through `retry` or the ledger, not through the nightly refresh): `changed` selection passes it by.
    await steps.db('markProductSettled', { summary: `mark SKU ${input.sku} settled` }, [
      { catalogId: input.catalogId, sku: input.sku, attributesFingerprint: plan.attributesFingerprint },
    ]);
  }

  if (changes > changesSeenAtStart) {
    // A newer change arrived while this plan ran: run again with the newest data, in a fresh history.
    status.rerunPending = true;
    await continueAsNew<typeof productWorkflow>({
      ...input,
      trigger: latestTrigger as ProductWorkflowArgs['trigger'],
      force: false,
      changeReruns: input.changeReruns + 1,
      ...(latestBudget ? { budget: latestBudget } : {}),
    });
  }
  if (failed.length > 0) {
    // Successful slots are recorded; the run itself ends Failed so Temporal UI's filters tell the truth.
    const summary = failed.map((f) => `${f.slot}: ${f.errorType}: ${f.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(`${failed.length} of ${outcomes.length} slots failed for SKU ${input.sku}: ${summary}`, 'ProductPlanFailed', result);
  }
  return result;
}

/**
 * Every starter (signal-with-start, the refresh's children) sets these; a run that continued as new
 * with a newer trigger, or a start that set none, upserts what differs.
 */
function upsertIdentity(input: ProductWorkflowArgs): void {
  const identity = [
    { key: SA.catalogId, value: input.catalogId },
    { key: SA.sku, value: input.sku },
    { key: SA.trigger, value: input.trigger },
  ] as const;
  const attributes = workflowInfo().typedSearchAttributes;
  const missing = identity.filter((a) => attributes.get(a.key) !== a.value);
  if (missing.length > 0) upsertSearchAttributes([...missing]);
}

/** The run's result, and its outcome as a search attribute. */
function summarize(run: ProductRun, outcomes: SlotOutcome[]): { result: ProductWorkflowResult; failed: Failed[] } {
  const failed = outcomes.filter((o): o is Failed => o.outcome === 'failed');
  const generated = outcomes.filter((o) => o.outcome === 'generated');
  const { imagesBilled, submissions } = run.tally;
  const result: ProductWorkflowResult = {
    catalogId: run.input.catalogId,
    sku: run.input.sku,
    outcome: generated.length > 0 ? 'generated' : 'unchanged',
    slots: outcomes,
    imagesBilled,
    costCents: imagesBilled * CENTS_PER_IMAGE,
    submissions,
  };
  const attention = failed.some(waitsForOperator);
  upsertSearchAttributes([
    { key: SA.outcome, value: attention ? 'needs-attention' : failed.length > 0 ? (generated.length > 0 ? 'partial' : 'failed') : result.outcome },
  ]);
  return { result, failed };
}
