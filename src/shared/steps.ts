/**
 * The shapes that cross between the product workflow and its activities: keys, URLs and small
 * summaries only, never image bytes. Workflow-safe.
 */
import type { ChannelCheckSummary, ChannelProfile } from './channelProfiles';
import { arrayOf, bool, num, objectOf, oneOf, optional, str } from './check';

export const PRODUCT_TRIGGERS = ['webhook', 'import', 'refresh', 'schedule', 'manual', 'review'] as const;
export type ProductTrigger = (typeof PRODUCT_TRIGGERS)[number];

/** What starts a product workflow. */
export interface ProductWorkflowInput {
  catalogId: string;
  sku: string;
  /** Default 'manual'. */
  trigger?: ProductTrigger;
  /** Regenerate even when a slot's fingerprint matches its current asset (default false). */
  force?: boolean;
  /** Only these slots (default: every enabled slot of the plan). */
  slots?: string[];
  /** How many times this workflow has continued-as-new to absorb a newer change (default 0). */
  changeReruns?: number;
  /** The refresh budget this run's paid steps reserve against (set by a refresh). */
  budget?: BudgetRef;
}
export type ProductWorkflowArgs = Required<Omit<ProductWorkflowInput, 'slots' | 'budget'>> & Pick<ProductWorkflowInput, 'slots' | 'budget'>;

/** A refresh's budget as its product runs carry it: every paid step reserves against it in Postgres. */
export interface BudgetRef {
  /** The refresh's workflow id. */
  id: string;
  /** The limit, in images. */
  images: number;
}

export function parseBudgetRef(v: unknown, path: string): BudgetRef {
  const o = objectOf(v, path, ['id', 'images']);
  return { id: str(o.id, `${path}.id`, { min: 1, max: 400 }), images: num(o.images, `${path}.images`, { int: true, min: 0 }) };
}

/** Checks and defaults a product workflow's input; throws InputCheckError naming the field. */
export function parseProductWorkflowInput(raw: unknown): ProductWorkflowArgs {
  const o = objectOf(raw, '', ['catalogId', 'sku', 'trigger', 'force', 'slots', 'changeReruns', 'budget']);
  const slots = optional(o.slots, 'slots', (v, p) => arrayOf(v, p, (x, q) => str(x, q)));
  const budget = optional(o.budget, 'budget', parseBudgetRef);
  return {
    catalogId: str(o.catalogId, 'catalogId', { min: 1, max: 200 }),
    sku: str(o.sku, 'sku', { min: 1, max: 200 }),
    trigger: optional(o.trigger, 'trigger', (v, p) => oneOf(v, p, PRODUCT_TRIGGERS)) ?? 'manual',
    force: optional(o.force, 'force', bool) ?? false,
    ...(slots ? { slots } : {}),
    changeReruns: optional(o.changeReruns, 'changeReruns', (v, p) => num(v, p, { int: true, min: 0 })) ?? 0,
    ...(budget ? { budget } : {}),
  };
}

export interface PlanSlotSummary {
  name: string;
  kind: 'generate' | 'edit' | 'compose';
  dependsOn: string[];
  /** The slot's channel profiles, resolved (built-in and the plan's custom ones). */
  channels?: ChannelProfile[];
}

/** Per-catalog review before publish: new assets wait for an operator's decision. */
export interface ReviewPolicy {
  timeoutSeconds: number;
  /** What happens when nobody decides in time. */
  onTimeout: 'approve' | 'keep';
  /** Rejections with a note that regenerate the slot, at most. */
  maxRejections: number;
  /** A review only because the label read back wrong: a regeneration whose label passes is published. */
  labelOnly?: boolean;
}

export interface ReviewDecisionSignal {
  slot: string;
  decision: 'approve' | 'reject';
  note?: string;
  /** Who decided (an operator's name or email). */
  by?: string;
}

export interface LoadedPlan {
  review: ReviewPolicy | null;
  planVersion: number;
  productName: string;
  /** The snapshot's attribute fingerprint this run reads: marked settled when the run succeeds. */
  attributesFingerprint: string;
  productStatus: 'active' | 'removed' | 'missing';
  slots: PlanSlotSummary[];
  /** The catalog's enabled destinations (absent: the catalog publishes nowhere). */
  publishTo?: string[];
  /** The catalog's publish settings do not parse: reported per SKU, generation goes on. */
  publishProblem?: string;
}

/** A slot's asset as another slot references it. */
export interface AssetRef {
  assetId: string;
  storageKey: string;
  checksum: string;
}

export interface SourceRef {
  storageKey: string;
  sha256: string;
  contentType: string;
}

export interface GenerationRequest {
  operation: 'generate' | 'edit' | 'compose';
  prompt: string;
  imageSize: string | { width: number; height: number };
  quality: 'standard' | 'high';
  outputFormat: 'jpeg' | 'png';
  numImages: number;
  /** Edit: one source. Compose: the references in order. */
  sources: SourceRef[];
}

/** What a slot's label must read, when its plan checks it (see `labelCheck` in plan.ts). */
export interface LabelExpectation {
  expected: string;
  locale: string | null;
  threshold: number;
  /** Locales the plan reads (undefined: every locale with a reader). */
  locales?: string[];
  /** Mismatches before review, as the plan asks (the paid attempt cap bounds it too). */
  maxMismatches?: number;
}

export type PreparedSlot =
  | { action: 'skip'; fingerprint: string; asset: AssetRef }
  | { action: 'generate'; fingerprint: string; idempotencyKey: string; request: GenerationRequest; label?: LabelExpectation };

export interface PrepareSlotInput {
  catalogId: string;
  sku: string;
  slot: string;
  workflowId: string;
  force: boolean;
  /** Estimate only: record nothing. */
  dryRun?: boolean;
  /** A reviewer's note from a rejection: added to the prompt (not to the fingerprint). */
  reviewNote?: string;
  /** Outputs of the slots this one references, by slot name. */
  dependencies: Record<string, AssetRef>;
  /** A slot to generate reserves its images against this budget first (refused past its limit). */
  budget?: BudgetRef;
}

export interface SubmitInput {
  catalogId: string;
  sku: string;
  slot: string;
  workflowId: string;
  fingerprint: string;
  idempotencyKey: string;
  request: GenerationRequest;
  /** The budget the step reserved against in prepare (reserving again with the same key is a no-op). */
  budget?: BudgetRef;
}

export interface ImageOutcomeSummary {
  index: number;
  outcome: 'delivered' | 'rejected' | 'failed' | 'missing';
  code?: string | undefined;
  message?: string | undefined;
}

/** An output downloaded from the provider the moment its job was terminal, validated and stored. */
export interface StoredOutput {
  index: number;
  storageKey: string;
  /** SHA-256 of the stored bytes (the content key's). */
  checksum: string;
  width: number;
  height: number;
  format: string;
  /** SHA-256 of the bytes as the provider sent them, where marking changed the stored file. */
  providerSha256?: string;
  /** The provenance the stored original carries, which its variants carry too. */
  provenance?: ProvenanceStamp;
}

/**
 * Where a generated file came from, as its XMP says (IPTC digital source type `trainedAlgorithmicMedia`
 * plus these). Fixed when the job is settled, so a retried step marks byte-identical files.
 */
export interface ProvenanceStamp {
  model: string;
  /** ISO-8601: the job's completion as the provider reports it, else the ledger row's opening. */
  createdAt: string;
  catalogId: string;
  sku: string;
  slot?: string;
  provider?: string;
  jobId?: string;
}

/** The paid step's result: submit, await and keep. */
export interface GenerateOutput {
  jobId: string;
  /** The job was first sent by another run's unfinished step (this run did not pay for it). */
  adoptedJob: boolean;
  /** Another run had already bought, delivered and stored the step: this run bought and downloaded nothing. */
  reused: boolean;
  outputs: StoredOutput[];
  imageOutcomes: ImageOutcomeSummary[];
  imagesBilled: number;
  polls: number;
}

export interface MaterializeInput {
  idempotencyKey: string;
  outputs: StoredOutput[];
  /** Channel profiles to make a variant of and check each output against. */
  channels?: ChannelProfile[];
}

export interface VariantSummary {
  name: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  storageKey: string;
}

export interface MaterializedOutput {
  index: number;
  checksum: string;
  width: number;
  height: number;
  format: string;
  storageKey: string;
  placeholder: string;
  dominantColor: string;
  variants: VariantSummary[];
  /** One check per channel profile; its variant is in `variants` under the profile's name. */
  channelChecks?: ChannelCheckSummary[];
}

export interface RecordSlotInput {
  catalogId: string;
  sku: string;
  slot: string;
  workflowId: string;
  fingerprint: string;
  prompt: string;
  idempotencyKey: string;
  outputs: MaterializedOutput[];
  imagesBilled: number;
  /** False while the catalog requires review: the asset is stored pending, the mapping stays. */
  publish?: boolean;
}

export interface RecordedSlot extends AssetRef {
  version: number;
}

export interface SlotFailureInput {
  catalogId: string;
  sku: string;
  slot: string;
  workflowId: string;
  fingerprint?: string;
  idempotencyKey?: string;
  errorType: string;
  message: string;
}

export type SlotOutcome =
  | { slot: string; outcome: 'generated'; assetId: string; version: number; jobId: string; imagesBilled: number; costCents: number }
  | { slot: string; outcome: 'skipped'; assetId: string }
  /** Review kept the previous version (rejected, or no decision in time with the `keep` default). */
  | { slot: string; outcome: 'kept'; rejectedAssetId: string; reason: string }
  | { slot: string; outcome: 'failed'; errorType: string; message: string; jobId?: string }
  | { slot: string; outcome: 'disabled' };

export const CENTS_PER_IMAGE = 4;
