/**
 * The product workflow: one per SKU (its id derived from catalog and SKU), running the catalog's
 * asset plan. Independent slots run in parallel; a slot that references another slot's output waits
 * for it. Each slot is prepare (fingerprint), submit, await, materialize, record.
 *
 * A trigger that arrives while the plan runs is coalesced: the plan runs again afterwards (through
 * continue-as-new, so history stays bounded) with the newest product data.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { WorkflowQueueActivities } from '../activities';
import { imagingSteps, localPostgresSteps, providerSteps } from './activities';
import { checkedInput } from './input';
import { FailureType } from '../../shared/failures';
import { parseTaskQueueName } from '../../shared/ids';
import { SA } from '../../shared/searchAttributes';
import {
  CENTS_PER_IMAGE,
  parseProductWorkflowInput,
  type ProductWorkflowArgs,
  type AssetRef,
  type GenerateOutput,
  type PlanSlotSummary,
  type PreparedSlot,
  type ProductWorkflowInput,
  type ReviewDecisionSignal,
  type BudgetRef,
  type SlotOutcome,
} from '../../shared/steps';

export type SlotPhase = 'waiting' | 'preparing' | 'generating' | 'materializing' | 'recording' | 'awaiting_review' | 'done';

export interface SlotStatus {
  phase: SlotPhase;
  fingerprint?: string;
  jobId?: string;
  outcome?: SlotOutcome;
  /** While awaiting review: the stored asset an operator approves or rejects. */
  pendingAssetId?: string;
  pendingVersion?: number;
  rejections?: number;
  reviewDeadline?: string;
}

export interface ProductRunStatus {
  catalogId: string;
  sku: string;
  productName?: string;
  generation: number;
  /** A newer change arrived while this run was going: the plan will run again. */
  rerunPending: boolean;
  slots: Record<string, SlotStatus>;
}

export interface ProductWorkflowResult {
  catalogId: string;
  sku: string;
  outcome: 'generated' | 'unchanged' | 'removed';
  slots: SlotOutcome[];
  imagesBilled: number;
  costCents: number;
  submissions: number;
}

export interface ProductChanged {
  trigger: string;
  /** A refresh coalescing into this plan: its re-run reserves against that refresh's budget. */
  budget?: BudgetRef;
}

export const productStatusQuery = defineQuery<ProductRunStatus>('status');
export const productChangedSignal = defineSignal<[ProductChanged]>('productChanged');
/** An operator's review decision (CLI, HTTP service, or Temporal UI's signal dialog). */
export const reviewSignal = defineSignal<[ReviewDecisionSignal]>('review');

/** What the catch block of a slot needs to record a failure against the right ledger row. */
interface SlotTrack {
  fingerprint?: string;
  idempotencyKey?: string;
  jobId?: string;
}

interface SlotFailure {
  errorType: string;
  message: string;
  /** The provider job the failure concerns, where the paid step knew it. */
  jobId?: string;
}

/** The root cause of an activity failure, as a type and a message an operator can act on. */
function describeFailure(err: unknown): SlotFailure {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) {
    const jobId = (cause.details?.[0] as { jobId?: unknown } | undefined)?.jobId;
    return { errorType: cause.type ?? 'Error', message: cause.message, ...(typeof jobId === 'string' ? { jobId } : {}) };
  }
  if (cause instanceof Error) {
    const name = cause.name === 'TimeoutFailure' ? 'ActivityTimeout' : cause.name;
    return { errorType: name, message: cause.message };
  }
  return { errorType: 'Error', message: String(cause) };
}

export async function productWorkflow(rawInput: ProductWorkflowInput): Promise<ProductWorkflowResult> {
  const input: ProductWorkflowArgs = checkedInput(parseProductWorkflowInput, rawInput, 'workflow input', FailureType.invalidProductData);
  const info = workflowInfo();
  const status: ProductRunStatus = { catalogId: input.catalogId, sku: input.sku, generation: input.generation, rerunPending: false, slots: {} };
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
  const pending = () => changes > changesSeenAtStart;

  const prefix = parseTaskQueueName(info.taskQueue)?.prefix ?? info.taskQueue;
  const db = localPostgresSteps();
  /**
   * Local activities run one at a time. Their markers record results, not how completions were
   * batched into activations; two in flight at once could resolve together on replay but apart in
   * the original run, and let slots schedule their next commands in another order. One at a time,
   * every resolution is alone in its activation, so the command order replays exactly.
   */
  let dbLane: Promise<unknown> = Promise.resolve();
  function dbStep<K extends keyof WorkflowQueueActivities>(name: K, options: { summary: string }, args: Parameters<WorkflowQueueActivities[K]>): Promise<Awaited<ReturnType<WorkflowQueueActivities[K]>>> {
    const step = db[name] as unknown as { executeWithOptions(o: { summary: string }, a: Parameters<WorkflowQueueActivities[K]>): Promise<Awaited<ReturnType<WorkflowQueueActivities[K]>>> };
    const run = () => step.executeWithOptions(options, args);
    const result = dbLane.then(run, run);
    dbLane = result.catch(() => undefined);
    return result;
  }
  const generator = providerSteps(prefix);
  const imaging = imagingSteps(prefix);

  // Every starter (signal-with-start, the refresh's children) sets these; a run that continued as
  // new with a newer trigger, or a start that set none, upserts what differs.
  const identity = [
    { key: SA.catalogId, value: input.catalogId },
    { key: SA.sku, value: input.sku },
    { key: SA.trigger, value: input.trigger },
  ] as const;
  const missing = identity.filter((a) => info.typedSearchAttributes.get(a.key) !== a.value);
  if (missing.length > 0) upsertSearchAttributes([...missing]);

  const plan = await dbStep('loadPlan', { summary: `load plan for SKU ${input.sku}` }, [{ catalogId: input.catalogId, sku: input.sku }]);
  status.productName = plan.productName;
  const slots = plan.slots.filter((s) => !input.slots || input.slots.includes(s.name));
  upsertSearchAttributes([{ key: SA.slots, value: slots.map((s) => s.name) }]);

  if (plan.productStatus !== 'active') {
    upsertSearchAttributes([{ key: SA.outcome, value: 'removed' }]);
    return { catalogId: input.catalogId, sku: input.sku, outcome: 'removed', slots: [], imagesBilled: 0, costCents: 0, submissions: 0 };
  }

  const running = new Map<string, Promise<SlotOutcome>>();
  const assets = new Map<string, AssetRef>();
  let submissions = 0;
  /** Every image billed in this run, regenerations after a review rejection included. */
  let imagesBilledTotal = 0;

  const sku = input.sku;
  const base = { catalogId: input.catalogId, sku, workflowId: info.workflowId };

  /** The paid step (submit, await and keep), then variants and record: one generation of a slot. */
  async function generate(slot: PlanSlotSummary, prepared: Extract<PreparedSlot, { action: 'generate' }>, state: SlotStatus, track: SlotTrack) {
    const { fingerprint, idempotencyKey } = prepared;
    track.idempotencyKey = idempotencyKey;
    const submitInput = { ...base, slot: slot.name, fingerprint, idempotencyKey, request: prepared.request, budget: input.budget };
    state.phase = 'generating';
    const done: GenerateOutput = await generator.generateJob.executeWithOptions({ summary: `${slot.kind} ${slot.name} for SKU ${sku}` }, [submitInput]);
    // Once a job id is known, this run never submits for this generation again.
    state.jobId = done.jobId;
    track.jobId = done.jobId;
    // A reused step was paid for (and counted) by the run that bought it; an adopted job from a run
    // that never finished was not counted by anyone, so this run counts its images.
    if (!done.replayed && !done.reused) submissions += 1;
    if (!done.reused) imagesBilledTotal += done.imagesBilled;

    state.phase = 'materializing';
    const outputs = await imaging.materializeOutputs.executeWithOptions({ summary: `variants of ${slot.name} for SKU ${sku}` }, [
      { idempotencyKey, outputs: done.outputs },
    ]);

    state.phase = 'recording';
    const recorded = await dbStep('recordSlot', { summary: `record ${slot.name} for SKU ${sku}` }, [
      { ...base, slot: slot.name, fingerprint, prompt: prepared.request.prompt, idempotencyKey, outputs, imagesBilled: done.imagesBilled, publish: !plan.review },
    ]);
    return { recorded, jobId: done.jobId, imagesBilled: done.reused ? 0 : done.imagesBilled };
  }

  async function runSlot(slot: PlanSlotSummary): Promise<SlotOutcome> {
    const state: SlotStatus = { phase: 'waiting' };
    status.slots[slot.name] = state;
    const deps = await Promise.all(slot.dependsOn.map(async (d) => ({ name: d, outcome: await (running.get(d) ?? Promise.resolve(undefined)) })));
    const failedDep = deps.find((d) => !d.outcome || d.outcome.outcome === 'failed' || d.outcome.outcome === 'disabled');
    if (failedDep) {
      const failure = { errorType: 'DependencyFailed', message: `slot ${slot.name} needs slot ${failedDep.name}, which has no asset in this run` };
      await dbStep('recordSlotFailure', { summary: `record ${slot.name} failure for SKU ${sku}` }, [{ ...base, slot: slot.name, ...failure }]);
      return finish(state, { slot: slot.name, outcome: 'failed', ...failure });
    }
    const dependencies: Record<string, AssetRef> = {};
    for (const d of slot.dependsOn) {
      const asset = assets.get(d);
      if (asset) dependencies[d] = asset;
    }

    const track: SlotTrack = {};
    try {
      state.phase = 'preparing';
      const prepared = await dbStep('prepareSlot', { summary: `fingerprint ${slot.name} for SKU ${sku}` }, [
        { ...base, slot: slot.name, force: input.force, dependencies, budget: input.budget },
      ]);
      track.fingerprint = prepared.fingerprint;
      state.fingerprint = prepared.fingerprint;
      if (prepared.action === 'skip') {
        assets.set(slot.name, prepared.asset);
        return finish(state, { slot: slot.name, outcome: 'skipped', assetId: prepared.asset.assetId });
      }
      let generation = await generate(slot, prepared, state, track);
      let rejections = 0;
      while (plan.review) {
        // Review before publish: the asset is stored and visible, the mapping waits for a decision.
        state.phase = 'awaiting_review';
        state.pendingAssetId = generation.recorded.assetId;
        state.pendingVersion = generation.recorded.version;
        state.rejections = rejections;
        state.reviewDeadline = new Date(Date.now() + plan.review.timeoutSeconds * 1000).toISOString();
        setCurrentDetails(describeProgress());
        const decided = await condition(() => decisions.has(slot.name), plan.review.timeoutSeconds * 1000);
        const d = decisions.get(slot.name);
        decisions.delete(slot.name);
        const base2 = { ...base, slot: slot.name, assetId: generation.recorded.assetId };
        if (!decided || !d) {
          const decision = plan.review.onTimeout === 'approve' ? 'timeout-approve' : 'timeout-keep';
          await dbStep('decideReview', { summary: `review of ${slot.name} timed out: ${decision}` }, [{ ...base2, decision, actor: 'timeout' }]);
          if (decision === 'timeout-keep') return finish(state, { slot: slot.name, outcome: 'kept', rejectedAssetId: generation.recorded.assetId, reason: 'no review decision in time' });
          break;
        }
        const actor = d.by?.trim() || 'operator';
        if (d.decision === 'approve') {
          await dbStep('decideReview', { summary: `${actor} approved ${slot.name}` }, [{ ...base2, decision: 'approve', note: d.note, actor }]);
          break;
        }
        await dbStep('decideReview', { summary: `${actor} rejected ${slot.name}` }, [{ ...base2, decision: 'reject', note: d.note, actor }]);
        rejections += 1;
        if (!d.note || rejections > plan.review.maxRejections) {
          return finish(state, { slot: slot.name, outcome: 'kept', rejectedAssetId: generation.recorded.assetId, reason: `rejected by ${actor}${d.note ? `: ${d.note}` : ''}` });
        }
        // Reject with a note: regenerate the slot with the note added to the prompt.
        state.phase = 'preparing';
        const again = await dbStep('prepareSlot', { summary: `regenerate ${slot.name} for SKU ${sku} after review` }, [
          { ...base, slot: slot.name, force: true, dependencies, reviewNote: d.note, budget: input.budget },
        ]);
        if (again.action === 'skip') break;
        generation = await generate(slot, again, state, track);
      }
      const { recorded } = generation;
      const jobId = generation.jobId;
      assets.set(slot.name, { assetId: recorded.assetId, storageKey: recorded.storageKey, checksum: recorded.checksum });
      return finish(state, {
        slot: slot.name,
        outcome: 'generated',
        assetId: recorded.assetId,
        version: recorded.version,
        jobId,
        imagesBilled: generation.imagesBilled,
        costCents: generation.imagesBilled * CENTS_PER_IMAGE,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const { jobId: failedJobId, ...failure } = describeFailure(err);
      const jobId = track.jobId ?? failedJobId;
      log.warn('slot failed', { slot: slot.name, ...failure, jobId });
      await dbStep('recordSlotFailure', { summary: `record ${slot.name} failure for SKU ${sku}` }, [
        { ...base, slot: slot.name, fingerprint: track.fingerprint, idempotencyKey: track.idempotencyKey, ...failure },
      ]);
      return finish(state, { slot: slot.name, outcome: 'failed', ...failure, ...(jobId !== undefined ? { jobId } : {}) });
    }
  }

  function finish(state: SlotStatus, outcome: SlotOutcome): SlotOutcome {
    state.phase = 'done';
    state.outcome = outcome;
    setCurrentDetails(describeProgress());
    return outcome;
  }

  function describeProgress(): string {
    const lines = Object.entries(status.slots).map(([name, s]) => {
      const o = s.outcome;
      if (!o) return `- **${name}**: ${s.phase}`;
      if (o.outcome === 'failed') return `- **${name}**: failed, ${o.errorType}: ${o.message}`;
      if (o.outcome === 'generated') return `- **${name}**: generated v${o.version} (${o.imagesBilled} image${o.imagesBilled === 1 ? '' : 's'} billed)`;
      return `- **${name}**: ${o.outcome}`;
    });
    return `SKU **${sku}** (${status.productName ?? ''}) in catalog **${input.catalogId}**\n${lines.join('\n')}`;
  }

  for (const slot of slots) running.set(slot.name, runSlot(slot));
  const outcomes = await Promise.all([...running.values()]);

  const failed = outcomes.filter((o): o is Extract<SlotOutcome, { outcome: 'failed' }> => o.outcome === 'failed');
  const generated = outcomes.filter((o): o is Extract<SlotOutcome, { outcome: 'generated' }> => o.outcome === 'generated');
  const imagesBilled = imagesBilledTotal;
  const result: ProductWorkflowResult = {
    catalogId: input.catalogId,
    sku,
    outcome: generated.length > 0 ? 'generated' : 'unchanged',
    slots: outcomes,
    imagesBilled,
    costCents: imagesBilled * CENTS_PER_IMAGE,
    submissions,
  };
  // `needs-attention`: a slot stopped buying (re-buy cap, or an ambiguous submit parked) until an operator decides.
  const waitsForOperator = (f: { errorType: string }) => f.errorType === FailureType.needsAttention || f.errorType === FailureType.ambiguousParked;
  const attention = failed.some(waitsForOperator);
  upsertSearchAttributes([
    { key: SA.outcome, value: attention ? 'needs-attention' : failed.length > 0 ? (generated.length > 0 ? 'partial' : 'failed') : result.outcome },
  ]);
  if (failed.every(waitsForOperator) && !input.slots) {
    // Every slot is current for the attributes this run read, or waits for an operator (who decides
    // through `retry` or the ledger, not through the nightly refresh): `changed` selection passes it by.
    await dbStep('markProductSettled', { summary: `mark SKU ${sku} settled` }, [
      { catalogId: input.catalogId, sku, attributesFingerprint: plan.attributesFingerprint },
    ]);
  }

  if (pending()) {
    // A newer change arrived while this plan ran: run again with the newest data, in a fresh history.
    status.rerunPending = true;
    await continueAsNew<typeof productWorkflow>({
      ...input,
      trigger: latestTrigger as ProductWorkflowArgs['trigger'],
      force: false,
      generation: input.generation + 1,
      ...(latestBudget ? { budget: latestBudget } : {}),
    });
  }
  if (failed.length > 0) {
    // Successful slots are recorded; the run itself ends Failed so Temporal UI's filters tell the truth.
    const summary = failed.map((f) => `${f.slot}: ${f.errorType}: ${f.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(
      `${failed.length} of ${outcomes.length} slots failed for SKU ${sku}: ${summary}`,
      'ProductPlanFailed',
      result,
    );
  }
  return result;
}
