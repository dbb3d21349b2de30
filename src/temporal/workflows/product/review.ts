/**
 * The review loop: the stored asset waits for an operator's decision (or the catalog's timeout);
 * a rejection with a note regenerates the slot with the note added to the prompt.
 */
import { condition } from '@temporalio/workflow';
import type { AssetRef, PlanSlotSummary, PreparedSlot, ReviewPolicy, SlotOutcome } from '../../../shared/steps';
import type { SlotStatus } from './definitions';
import { generate, type Generated, type SlotTrack } from './pipeline';
import type { ProductRun } from './run';

/** The generation to publish, or the outcome of a slot whose new asset was not taken. */
export type Reviewed = { approved: Generated } | { kept: Extract<SlotOutcome, { outcome: 'kept' }> };

export async function review(
  run: ProductRun,
  policy: ReviewPolicy,
  slot: PlanSlotSummary,
  state: SlotStatus,
  track: SlotTrack,
  first: Generated,
  references: Record<string, AssetRef>,
): Promise<Reviewed> {
  const { base, steps, decisions, report } = run;
  let generation = first;
  let rejections = 0;
  for (;;) {
    // Review before publish: the asset is stored and visible, the mapping waits for a decision.
    state.phase = 'awaiting_review';
    state.pendingAssetId = generation.recorded.assetId;
    state.pendingVersion = generation.recorded.version;
    state.rejections = rejections;
    state.reviewDeadline = new Date(Date.now() + policy.timeoutSeconds * 1000).toISOString();
    report.publish();
    const decided = await condition(() => decisions.has(slot.name), policy.timeoutSeconds * 1000);
    const d = decisions.get(slot.name);
    decisions.delete(slot.name);
    const decisionInput = { ...base, slot: slot.name, assetId: generation.recorded.assetId };
    const kept = (reason: string): Reviewed => ({ kept: { slot: slot.name, outcome: 'kept', rejectedAssetId: generation.recorded.assetId, reason } });
    if (!decided || !d) {
      const decision = policy.onTimeout === 'approve' ? 'timeout-approve' : 'timeout-keep';
      await steps.db('decideReview', { summary: `review of ${slot.name} timed out: ${decision}` }, [{ ...decisionInput, decision, actor: 'timeout' }]);
      return decision === 'timeout-keep' ? kept('no review decision in time') : { approved: generation };
    }
    const actor = d.by?.trim() || 'operator';
    if (d.decision === 'approve') {
      await steps.db('decideReview', { summary: `${actor} approved ${slot.name}` }, [{ ...decisionInput, decision: 'approve', note: d.note, actor }]);
      return { approved: generation };
    }
    await steps.db('decideReview', { summary: `${actor} rejected ${slot.name}` }, [{ ...decisionInput, decision: 'reject', note: d.note, actor }]);
    rejections += 1;
    if (!d.note || rejections > policy.maxRejections) return kept(`rejected by ${actor}${d.note ? `: ${d.note}` : ''}`);
    // Reject with a note: regenerate the slot with the note added to the prompt.
    const again = await regenerate(run, slot, state, references, d.note, `regenerate ${slot.name} for SKU ${base.sku} after review`);
    if (again.action === 'skip') return { approved: generation };
    generation = await generate(run, slot, again, state, track, references);
    if (policy.labelOnly && !generation.labelReview) return { approved: generation };
  }
}

/**
 * Prepares the slot again with a note added to its prompt: a reviewer's, or the label check's. A new
 * purchase goes through prepare as every other does (a new attempt's key, the paid attempt cap, the budget).
 */
export async function regenerate(
  run: ProductRun,
  slot: PlanSlotSummary,
  state: SlotStatus,
  references: Record<string, AssetRef>,
  note: string,
  summary: string,
): Promise<PreparedSlot> {
  state.phase = 'preparing';
  return run.steps.db('prepareSlot', { summary }, [
    { ...run.base, slot: slot.name, force: true, dependencies: references, reviewNote: note, budget: run.input.budget },
  ]);
}
