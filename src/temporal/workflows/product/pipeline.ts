/**
 * The slot pipeline: dependencies, prepare (fingerprint), the paid step (submit, await and keep),
 * variants, record; then the review loop where the catalog asks for one. A failure is recorded
 * against the ledger row it concerns and ends the slot, never the other slots.
 */
import { ActivityFailure, ApplicationFailure, isCancellation, log } from '@temporalio/workflow';
import { CENTS_PER_IMAGE, type AssetRef, type GenerateOutput, type PlanSlotSummary, type PreparedSlot, type SlotOutcome } from '../../../shared/steps';
import type { SlotStatus } from './definitions';
import { checkLabel, reviewPolicyFor } from './labelCheck';
import { review } from './review';
import type { ProductRun } from './run';
import type { DependencyOutcome } from './schedule';

/** What the catch block of a slot needs to record a failure against the right ledger row. */
export interface SlotTrack {
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

export type Generated = Awaited<ReturnType<typeof generate>>;
export type Paid = Awaited<ReturnType<typeof pay>>;

/** The paid step alone (submit, await and keep the originals), counted in the run's tally. */
export async function pay(run: ProductRun, slot: PlanSlotSummary, prepared: Extract<PreparedSlot, { action: 'generate' }>, state: SlotStatus, track: SlotTrack) {
  const { base, steps, tally, input } = run;
  const { fingerprint, idempotencyKey } = prepared;
  track.idempotencyKey = idempotencyKey;
  const submitInput = { ...base, slot: slot.name, fingerprint, idempotencyKey, request: prepared.request, budget: input.budget };
  state.phase = 'generating';
  const done: GenerateOutput = await steps.provider.generateJob.executeWithOptions({ summary: `${slot.kind} ${slot.name} for SKU ${base.sku}` }, [submitInput]);
  // Once a job id is known, this run never submits for this generation again.
  state.jobId = done.jobId;
  track.jobId = done.jobId;
  // A reused step was paid for (and counted) by the run that bought it; an adopted job from a run
  // that never finished was not counted by anyone, so this run counts its images.
  if (!done.adoptedJob && !done.reused) tally.submissions += 1;
  if (!done.reused) tally.imagesBilled += done.imagesBilled;
  return done;
}

/** The paid step (submit, await and keep), the label check where the plan asks for one, then variants and record: one generation of a slot. */
export async function generate(
  run: ProductRun,
  slot: PlanSlotSummary,
  firstPrepared: Extract<PreparedSlot, { action: 'generate' }>,
  state: SlotStatus,
  track: SlotTrack,
  references: Record<string, AssetRef> = {},
) {
  const { base, steps, plan } = run;
  const sku = base.sku;
  // A label that reads back wrong is bought again within the paid attempt cap (labelCheck.ts).
  const checked = await checkLabel(run, slot, firstPrepared, await pay(run, slot, firstPrepared, state, track), state, track, references);
  const { prepared, done } = checked;
  const { fingerprint, idempotencyKey } = prepared;

  state.phase = 'materializing';
  const outputs = await steps.imaging.materializeOutputs.executeWithOptions({ summary: `variants of ${slot.name} for SKU ${sku}` }, [
    { idempotencyKey, outputs: done.outputs, ...(slot.channels?.length ? { channels: slot.channels } : {}) },
  ]);

  state.phase = 'recording';
  const recorded = await steps.db('recordSlot', { summary: `record ${slot.name} for SKU ${sku}` }, [
    { ...base, slot: slot.name, fingerprint, prompt: prepared.request.prompt, idempotencyKey, outputs, imagesBilled: done.imagesBilled, publish: !plan.review && !checked.review },
  ]);
  return { recorded, jobId: done.jobId, imagesBilled: checked.billedBefore + (done.reused ? 0 : done.imagesBilled), labelReview: checked.review };
}

/** One slot, from waiting for its dependencies to its outcome. */
export async function runSlot(run: ProductRun, slot: PlanSlotSummary, dependencies: () => Promise<DependencyOutcome[]>): Promise<SlotOutcome> {
  const { base, steps, report, assets, input } = run;
  const sku = base.sku;
  const state = report.track(slot.name);
  const deps = await dependencies();
  const failedDep = deps.find((d) => !d.outcome || d.outcome.outcome === 'failed' || d.outcome.outcome === 'disabled');
  if (failedDep) {
    const failure = { errorType: 'DependencyFailed', message: `slot ${slot.name} needs slot ${failedDep.name}, which has no asset in this run` };
    await steps.db('recordSlotFailure', { summary: `record ${slot.name} failure for SKU ${sku}` }, [{ ...base, slot: slot.name, ...failure }]);
    return report.finish(state, { slot: slot.name, outcome: 'failed', ...failure });
  }
  const references: Record<string, AssetRef> = {};
  for (const d of slot.dependsOn) {
    const asset = assets.get(d);
    if (asset) references[d] = asset;
  }

  const track: SlotTrack = {};
  try {
    state.phase = 'preparing';
    const prepared = await steps.db('prepareSlot', { summary: `fingerprint ${slot.name} for SKU ${sku}` }, [
      { ...base, slot: slot.name, force: input.force, dependencies: references, budget: input.budget },
    ]);
    track.fingerprint = prepared.fingerprint;
    state.fingerprint = prepared.fingerprint;
    if (prepared.action === 'skip') {
      assets.set(slot.name, prepared.asset);
      return report.finish(state, { slot: slot.name, outcome: 'skipped', assetId: prepared.asset.assetId });
    }
    const first = await generate(run, slot, prepared, state, track, references);
    const policy = reviewPolicyFor(run, first);
    const reviewed = policy ? await review(run, policy, slot, state, track, first, references) : ({ approved: first } as const);
    if ('kept' in reviewed) return report.finish(state, reviewed.kept);
    const { recorded, jobId, imagesBilled } = reviewed.approved;
    assets.set(slot.name, { assetId: recorded.assetId, storageKey: recorded.storageKey, checksum: recorded.checksum });
    return report.finish(state, {
      slot: slot.name,
      outcome: 'generated',
      assetId: recorded.assetId,
      version: recorded.version,
      jobId,
      imagesBilled,
      costCents: imagesBilled * CENTS_PER_IMAGE,
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
    const { jobId: failedJobId, ...failure } = describeFailure(err);
    const jobId = track.jobId ?? failedJobId;
    log.warn('slot failed', { slot: slot.name, ...failure, jobId });
    await steps.db('recordSlotFailure', { summary: `record ${slot.name} failure for SKU ${sku}` }, [
      { ...base, slot: slot.name, fingerprint: track.fingerprint, idempotencyKey: track.idempotencyKey, ...failure },
    ]);
    return report.finish(state, { slot: slot.name, outcome: 'failed', ...failure, ...(jobId !== undefined ? { jobId } : {}) });
  }
}
