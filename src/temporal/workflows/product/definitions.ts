/**
 * The product workflow's public shapes: its status (the query's answer), its result, and the signal
 * and query definitions every caller (HTTP service, CLI, local stack, tests) uses.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PublishOutcome } from '../../../shared/publish';
import type { LabelReadingSummary } from '../../../shared/label';
import type { BudgetRef, ReviewDecisionSignal, SlotOutcome } from '../../../shared/steps';

export type SlotPhase = 'waiting' | 'preparing' | 'generating' | 'reading_label' | 'materializing' | 'recording' | 'awaiting_review' | 'done';

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
  /** The label check's readings in this run, oldest first (the last one is the output kept or in review). */
  labelReadings?: LabelReadingSummary[];
  /** Why the slot waits for review because of its label (mismatches past what the plan or cap allows). */
  labelReview?: string;
}

/** One destination's publication of this SKU in this run. */
export interface DestinationPublishStatus {
  outcome: PublishOutcome | 'publishing';
  published: number;
  unchanged: number;
  failed: Array<{ slot: string; errorType: string; message: string }>;
  skipped: Array<{ slot: string; reason: string }>;
}

export interface ProductRunStatus {
  catalogId: string;
  sku: string;
  productName?: string;
  /** How many times this SKU's workflow has continued-as-new to absorb a newer change. */
  changeReruns: number;
  /** A newer change arrived while this run was going: the plan will run again. */
  rerunPending: boolean;
  slots: Record<string, SlotStatus>;
  /** Per destination, once the publish step ran (absent where the catalog publishes nowhere). */
  publish?: Record<string, DestinationPublishStatus>;
}

export interface ProductWorkflowResult {
  catalogId: string;
  sku: string;
  outcome: 'generated' | 'unchanged' | 'removed';
  slots: SlotOutcome[];
  imagesBilled: number;
  costCents: number;
  submissions: number;
  /** Each destination's publication outcome (absent where the catalog publishes nowhere). */
  publish?: Record<string, PublishOutcome>;
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
