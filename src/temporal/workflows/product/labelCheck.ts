/**
 * The label check of a slot whose plan asks for one: after the paid step, OCR reads the label back
 * (imaging queue). A mismatch is settled in the ledger and regenerated through the same path a
 * reviewer's rejection takes (prepare with a note: a new attempt, the paid attempt cap, the budget),
 * until the label passes, or the plan's mismatches or the cap are used up: then the last output is
 * kept unpublished and the slot goes to review (even without a review policy), the readings shown.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { LabelReadingSummary } from '../../../shared/label';
import type { AssetRef, GenerateOutput, PlanSlotSummary, PreparedSlot, ReviewPolicy } from '../../../shared/steps';
import type { SlotStatus } from './definitions';
import { pay, type Generated, type SlotTrack } from './pipeline';
import { regenerate } from './review';
import type { ProductRun } from './run';

type Prepared = Extract<PreparedSlot, { action: 'generate' }>;

/** A label review without a catalog policy: two days, and nobody deciding keeps the previous version. */
const LABEL_REVIEW: ReviewPolicy = { timeoutSeconds: 48 * 3600, onTimeout: 'keep', maxRejections: 2 };

export interface CheckedLabel {
  prepared: Prepared;
  done: GenerateOutput;
  /** Images billed by the steps bought before `done` in this check (their outputs were unusable). */
  billedBefore: number;
  /** Set when the slot must go to review because of its label: why. */
  review?: string;
}

function noteFor(reading: LabelReadingSummary): string {
  const read = reading.read ? ` (the previous image read ${JSON.stringify(reading.read.slice(0, 120))})` : '';
  return `the label must read exactly ${JSON.stringify(reading.expected)}, spelled letter for letter${read}.`;
}

export async function checkLabel(
  run: ProductRun,
  slot: PlanSlotSummary,
  first: Prepared,
  paid: GenerateOutput,
  state: SlotStatus,
  track: SlotTrack,
  references: Record<string, AssetRef>,
): Promise<CheckedLabel> {
  let prepared = first;
  let done = paid;
  let billedBefore = 0;
  let mismatches = 0;
  for (;;) {
    const label = prepared.label;
    if (!label) return { prepared, done, billedBefore };
    state.phase = 'reading_label';
    const reading = await run.steps.label.readLabel.executeWithOptions({ summary: `read the label of ${slot.name} for SKU ${run.base.sku}` }, [
      { ...run.base, slot: slot.name, idempotencyKey: prepared.idempotencyKey, jobId: done.jobId, outputs: done.outputs, label },
    ]);
    state.labelReadings = [...(state.labelReadings ?? []), reading];
    if (reading.verdict !== 'mismatch') return { prepared, done, billedBefore };
    mismatches += 1;
    const settled = await run.steps.db('settleLabelMismatch', { summary: `label mismatch ${mismatches} of ${slot.name} for SKU ${run.base.sku}` }, [
      {
        ...run.base,
        slot: slot.name,
        fingerprint: prepared.fingerprint,
        idempotencyKey: prepared.idempotencyKey,
        mismatches,
        ...(label.maxMismatches !== undefined ? { maxMismatches: label.maxMismatches } : {}),
        reading,
      },
    ]);
    if (!settled.regenerate) {
      state.labelReview = settled.reason;
      return { prepared, done, billedBefore, review: settled.reason };
    }
    billedBefore += done.reused ? 0 : done.imagesBilled;
    const again = await regenerate(run, slot, state, references, noteFor(reading), `regenerate ${slot.name} for SKU ${run.base.sku}: label mismatch`);
    if (again.action === 'skip') {
      // An operator's hold landed meanwhile: the previous version stays, the unusable step is in the ledger.
      throw ApplicationFailure.nonRetryable(`slot ${slot.name}: ${reading.reason}; the slot is held, its previous version kept`, 'LabelMismatch');
    }
    prepared = again;
    done = await pay(run, slot, prepared, state, track);
  }
}

/** The review the slot needs: the catalog's, or a label review (never approved by a timeout). */
export function reviewPolicyFor(run: ProductRun, generated: Generated): ReviewPolicy | null {
  if (!generated.labelReview) return run.plan.review;
  return { ...(run.plan.review ?? LABEL_REVIEW), onTimeout: 'keep', ...(run.plan.review ? {} : { labelOnly: true }) };
}
