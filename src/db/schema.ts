/** Kysely table types. Nullable columns are `T | null`; generated ones `Generated<T>`. */
import type { StoredOutput } from '../shared/steps';
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { RefreshFailure } from '../shared/refresh';
import type { ChannelRuleFailure } from '../shared/channelProfiles';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** pg returns bigint as a string; ids stay strings in the application. */
type BigId = ColumnType<string, string | number | undefined, string | number>;
type Json<T> = ColumnType<T, string, string>;

export type ProductStatus = 'active' | 'removed';
/** See migrations/20261201T0900_paid_ledger.ts for what each state means. */
export type JobStatus = 'submitting' | 'sending' | 'ambiguous' | 'submitted' | 'delivered' | 'completed' | 'unusable' | 'failed';

/** An original downloaded from the provider and stored, as the ledger keeps it. */
export type StoredOriginal = StoredOutput;
export type AssetStatus = 'current' | 'superseded' | 'pending_review' | 'rejected' | 'retired';
export type SlotOutcome = 'generated' | 'skipped' | 'failed';

export interface CatalogsTable {
  id: string;
  name: string;
  plan: Json<unknown> | null;
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface ProductsTable {
  catalog_id: string;
  sku: string;
  name: string;
  attributes: Json<Record<string, unknown>>;
  attributes_fingerprint: string;
  status: ColumnType<ProductStatus, ProductStatus | undefined, ProductStatus>;
  source: string;
  pim_updated_at: Timestamp | null;
  /** The attributes fingerprint the SKU's assets were last fully generated (or confirmed) from. */
  settled_fingerprint: string | null;
  settled_at: Timestamp | null;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface RefreshRunsTable {
  workflow_id: string;
  catalog_id: string;
  selection: Json<unknown>;
  trigger: string;
  dry_run: boolean;
  status: string;
  counts: Json<Record<string, number>>;
  cost_cents: ColumnType<number, number | undefined, number>;
  budget_exhausted: ColumnType<boolean, boolean | undefined, boolean>;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  /** The first failures the run met (bounded like the workflow's result); `failure_count` counts them all. */
  failures: ColumnType<RefreshFailure[], string | undefined, string>;
  failure_count: ColumnType<number, number | undefined, number>;
}

/** Every SKU and slot a dry run found it could not prepare, with the reason. */
export interface RefreshFailuresTable {
  workflow_id: string;
  catalog_id: string;
  sku: string;
  slot: string;
  error_type: string;
  reason: string;
  created_at: Generated<Date>;
}

export type WebhookEventOutcome = 'applied' | 'unchanged' | 'stale' | 'superseded';
export type WebhookTriggerState = 'none' | 'pending' | 'failed';

/** PIM webhook events seen per catalog (de-duplication, and triggers still to start). */
export interface WebhookEventsTable {
  catalog_id: string;
  event_id: string;
  action: string;
  sku: string;
  event_datetime: Timestamp;
  outcome: WebhookEventOutcome;
  trigger_state: ColumnType<WebhookTriggerState, WebhookTriggerState | undefined, WebhookTriggerState>;
  trigger_claimed_at: Timestamp | null;
  received_at: Generated<Date>;
}

/**
 * A catalog's own webhook secrets, sealed (see src/http/webhookSecrets.ts): the current one, and the
 * previous one until it expires (rotation).
 */
export interface WebhookSecretsTable {
  catalog_id: string;
  /** Which WEBHOOK_SECRET_KEY sealed them (a short hash of the key, never the key). */
  key_id: string;
  current_secret: Buffer;
  previous_secret: Buffer | null;
  previous_expires_at: Timestamp | null;
  created_at: Generated<Date>;
  rotated_at: Timestamp;
}

export interface GenerationJobsTable {
  id: Generated<string>;
  idempotency_key: string;
  catalog_id: string;
  sku: string;
  slot: string;
  workflow_id: string;
  run_id: string;
  operation: string;
  model: string;
  fingerprint: string;
  provider_job_id: string | null;
  status: JobStatus;
  images_requested: number;
  images_billed: ColumnType<number, number | undefined, number>;
  cost_cents: ColumnType<number, number | undefined, number>;
  submit_attempts: ColumnType<number, number | undefined, number>;
  ambiguous_attempts: ColumnType<number, number | undefined, number>;
  /** One entry per requested image: delivered, rejected (moderation), failed or missing. */
  image_outcomes: Json<Array<{ index: number; outcome: string; code?: string; message?: string }>> | null;
  error_code: string | null;
  error_message: string | null;
  outputs: Json<StoredOriginal[]> | null;
  unusable_reason: string | null;
  request_refs: Json<string[]> | null;
  request_sha256: string | null;
  provider: string | null;
  provider_cost_usd: string | null;
  released_at: Timestamp | null;
  released_by: string | null;
  created_at: Generated<Date>;
  updated_at: Timestamp;
  completed_at: Timestamp | null;
}

export interface AssetsTable {
  id: Generated<string>;
  catalog_id: string;
  sku: string;
  slot: string;
  version: number;
  fingerprint: string;
  generation_job_id: BigId;
  output_index: number;
  prompt: string;
  checksum: string;
  width: number;
  height: number;
  format: string;
  storage_key: string;
  placeholder: string;
  dominant_color: string;
  cost_cents: number;
  status: AssetStatus;
  created_at: Generated<Date>;
  updated_at: Timestamp;
}

export interface AssetVariantsTable {
  asset_id: BigId;
  name: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  storage_key: string;
}

/** The latest check of an asset against a channel profile (migrations/20261201T1320_channel_checks.ts). */
export interface ChannelChecksTable {
  asset_id: BigId;
  profile: string;
  pass: boolean;
  failures: Json<ChannelRuleFailure[]>;
  notes: Json<string[]>;
  processing: Json<string[]>;
  edge_min: number;
  edge_mean: number;
  fill: number;
  width: number;
  height: number;
  megapixels: number;
  format: string;
  colour_space: string;
  bytes: number;
  border: boolean;
  checked_at: Timestamp;
}

export interface CurrentAssetsTable {
  catalog_id: string;
  sku: string;
  slot: string;
  asset_id: BigId;
  updated_at: Timestamp;
}

export interface SlotAttemptsTable {
  catalog_id: string;
  sku: string;
  slot: string;
  outcome: SlotOutcome;
  fingerprint: string | null;
  error_type: string | null;
  error_message: string | null;
  workflow_id: string;
  attempted_at: Timestamp;
}

export interface ReviewDecisionsTable {
  id: Generated<string>;
  catalog_id: string;
  sku: string;
  slot: string;
  asset_id: BigId;
  decision: 'approve' | 'reject' | 'timeout-approve' | 'timeout-keep';
  note: string | null;
  actor: string;
  decided_at: Generated<Date>;
}

/** Operators' decisions and refresh budgets (migrations/20261201T1000_operator_decisions.ts). */
/** An asset id the caller always supplies (a BIGINT, read back as a string). */
type DecisionAssetId = ColumnType<string, string | number, string | number>;

export interface SlotPinsTable {
  catalog_id: string;
  sku: string;
  slot: string;
  asset_id: DecisionAssetId;
  /** The fingerprint the slot's inputs had when it was rolled back. */
  inputs_fingerprint: string;
  actor: string;
  pinned_at: Generated<Date>;
}

export interface DeclinedFingerprintsTable {
  catalog_id: string;
  sku: string;
  slot: string;
  fingerprint: string;
  asset_id: DecisionAssetId;
  decision: string;
  declined_at: Generated<Date>;
}

export interface RefreshBudgetsTable {
  id: string;
  catalog_id: string;
  limit_images: number;
  created_at: Generated<Date>;
}

export interface BudgetReservationsTable {
  budget_id: string;
  idempotency_key: string;
  catalog_id: string;
  sku: string;
  slot: string;
  images: number;
  reserved_at: Generated<Date>;
}

export type LabelVerdict = 'pass' | 'mismatch' | 'unchecked';

/** One OCR reading of a label output (migrations/20261201T1330_label_readings.ts). */
export interface LabelReadingsTable {
  id: Generated<string>;
  catalog_id: string;
  sku: string;
  slot: string;
  idempotency_key: string;
  provider_job_id: string | null;
  output_index: number;
  storage_key: string;
  expected: string;
  read_text: string | null;
  similarity: number | null;
  threshold: number;
  verdict: LabelVerdict;
  locale: string | null;
  language: string | null;
  confidence: number | null;
  ocr_ms: number | null;
  read_at: Generated<Date>;
}

/** Every delivery attempt of an outbound event (migrations/20261201T1310_outbound_deliveries.ts). */
export interface OutboundDeliveriesTable {
  id: Generated<string>;
  catalog_id: string;
  destination: string;
  event_id: string;
  event_type: string;
  attempt: number;
  outcome: 'delivered' | 'retryable' | 'rejected';
  http_status: number | null;
  answer: string | null;
  duration_ms: number;
  error: string | null;
  attempted_at: Timestamp;
}

export type PublicationStatus = 'pending' | 'published' | 'failed' | 'skipped';

/** The ledger of publications (migrations/20261201T1300_publications.ts). */
export interface PublicationsTable {
  id: Generated<string>;
  catalog_id: string;
  sku: string;
  slot: string;
  version: number;
  asset_id: DecisionAssetId;
  destination: string;
  destination_kind: string;
  status: ColumnType<PublicationStatus, PublicationStatus | undefined, PublicationStatus>;
  remote_id: string | null;
  already_present: boolean | null;
  receipt: ColumnType<Record<string, string | number | boolean> | null, string | null | undefined, string | null>;
  alt_text: string | null;
  variant: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  /** Successful sends: more than one only after a rollback showed this version again. */
  sends: ColumnType<number, number | undefined, number>;
  error_code: string | null;
  last_error: string | null;
  requested_by: string | null;
  created_at: Generated<Date>;
  updated_at: Timestamp;
  sent_at: Timestamp | null;
}

export interface Database {
  catalogs: CatalogsTable;
  products: ProductsTable;
  generation_jobs: GenerationJobsTable;
  assets: AssetsTable;
  asset_variants: AssetVariantsTable;
  channel_checks: ChannelChecksTable;
  current_assets: CurrentAssetsTable;
  slot_attempts: SlotAttemptsTable;
  refresh_runs: RefreshRunsTable;
  refresh_failures: RefreshFailuresTable;
  review_decisions: ReviewDecisionsTable;
  webhook_events: WebhookEventsTable;
  webhook_secrets: WebhookSecretsTable;
  slot_pins: SlotPinsTable;
  declined_fingerprints: DeclinedFingerprintsTable;
  refresh_budgets: RefreshBudgetsTable;
  budget_reservations: BudgetReservationsTable;
  label_readings: LabelReadingsTable;
  outbound_deliveries: OutboundDeliveriesTable;
  publications: PublicationsTable;
}

export type Catalog = Selectable<CatalogsTable>;
export type Product = Selectable<ProductsTable>;
export type NewProduct = Insertable<ProductsTable>;
export type GenerationJob = Selectable<GenerationJobsTable>;
export type NewGenerationJob = Insertable<GenerationJobsTable>;
export type GenerationJobUpdate = Updateable<GenerationJobsTable>;
export type Asset = Selectable<AssetsTable>;
export type AssetVariant = Selectable<AssetVariantsTable>;
export type CurrentAsset = Selectable<CurrentAssetsTable>;
export type SlotAttempt = Selectable<SlotAttemptsTable>;
export type LabelReading = Selectable<LabelReadingsTable>;
