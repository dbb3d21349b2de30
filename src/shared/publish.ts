/**
 * The publish step's workflow-safe shapes: what one publish activity is asked and answers, and the
 * outbound events the workflows ask it to send. No Node imports, no zod (the workflows import this).
 */

/**
 * Tries of one publish activity (one SKU, one destination) before its pending publications end failed.
 * The activity reads its own attempt number against this, so the last try records the reason itself.
 */
export const PUBLISH_MAX_ATTEMPTS = 8;

/** One (SKU, destination): publish the SKU's current assets of these slots that the destination does not hold. */
export interface PublishSkuInput {
  catalogId: string;
  sku: string;
  destination: string;
  /** Only these slots (default: every enabled slot of the plan). */
  slots?: string[];
  /** Who asked (a product workflow id, `publish` command, `rollback`): kept with the publication. */
  requestedBy: string;
  /** Also send again what ended failed or was skipped by the gate (the `publish` command; default true). */
  retryFailed?: boolean;
}

export interface PublishedSlot {
  slot: string;
  version: number;
  remoteId: string;
  alreadyPresent: boolean;
  /** A rollback made this version the one shown again. */
  republished: boolean;
}

export interface PublishFailure {
  slot: string;
  version?: number;
  errorType: string;
  message: string;
}

export interface PublishSkuResult {
  catalogId: string;
  sku: string;
  destination: string;
  kind: string;
  published: PublishedSlot[];
  failed: PublishFailure[];
  skipped: Array<{ slot: string; version: number; reason: string }>;
  /** Current assets the destination already shows: nothing sent. */
  unchanged: number;
}

/** A SKU's publication outcome at one destination, as the workflow status reports it. */
export type PublishOutcome = 'published' | 'unchanged' | 'failed' | 'partial' | 'skipped';

export function publishOutcome(r: Pick<PublishSkuResult, 'published' | 'failed' | 'skipped'>): PublishOutcome {
  if (r.failed.length > 0) return r.published.length > 0 ? 'partial' : 'failed';
  if (r.published.length > 0) return 'published';
  if (r.skipped.length > 0) return 'skipped';
  return 'unchanged';
}

/** The SKU's outcome over all its destinations (the `PublishOutcome` search attribute). */
export function overallPublishOutcome(outcomes: PublishOutcome[]): PublishOutcome | undefined {
  if (outcomes.length === 0) return undefined;
  if (outcomes.every((o) => o === 'failed')) return 'failed';
  if (outcomes.some((o) => o === 'failed' || o === 'partial')) return 'partial';
  if (outcomes.some((o) => o === 'published')) return 'published';
  if (outcomes.some((o) => o === 'skipped')) return 'skipped';
  return 'unchanged';
}

/** The outbound events of src/publish/destination.ts, as the workflows build them (ids stable across retries). */
export interface OutboundEventInput {
  id: string;
  type: 'asset.published' | 'asset.failed' | 'refresh.completed';
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface SendEventsInput {
  catalogId: string;
  events: OutboundEventInput[];
}

export interface SendEventsResult {
  /** Deliveries accepted, per event destination. */
  sent: number;
  failed: Array<{ destination: string; eventId: string; message: string }>;
}

/** `asset.failed` for a slot that failed to generate or a publication that ended failed. */
export function assetFailedEvent(o: {
  key: string;
  occurredAt: string;
  catalogId: string;
  sku: string;
  slot: string;
  stage: 'generate' | 'publish';
  destination?: string;
  version?: number;
  errorType: string;
  message: string;
}): OutboundEventInput {
  const { key, occurredAt, ...data } = o;
  const id = ['asset.failed', key, o.sku, o.slot, o.stage, o.destination ?? '', o.version ?? ''].map((p) => encodeURIComponent(String(p))).join(':');
  return { id, type: 'asset.failed', occurredAt, data: { ...data, message: o.message.slice(0, 1_000) } };
}

export function refreshCompletedEvent(o: { workflowId: string; occurredAt: string; catalogId: string; status: string; counts: object }): OutboundEventInput {
  return {
    id: `refresh.completed:${encodeURIComponent(o.workflowId)}`,
    type: 'refresh.completed',
    occurredAt: o.occurredAt,
    data: { catalogId: o.catalogId, refreshId: o.workflowId, status: o.status, counts: o.counts },
  };
}

/** The durable publish run (`publish` command, rollback): SKUs and destinations to publish. */
export interface PublishRunInput {
  catalogId: string;
  skus: string[];
  /** The destinations (names) to publish to: the caller reads them from the catalog's settings. */
  destinations: string[];
  slots?: string[];
  requestedBy: string;
}

export interface PublishRunResult {
  catalogId: string;
  results: PublishSkuResult[];
  /** (SKU, destination) pairs whose activity itself failed (bad settings, a kind this build lacks, retries exhausted). */
  errors: Array<{ sku: string; destination: string; errorType: string; message: string }>;
}

/** `publish:<catalog>:<run key>`: one id per publish run (a rollback's id names the SKU, slot and version). */
export function publishWorkflowId(catalogId: string, runKey: string): string {
  return `publish:${encodeURIComponent(catalogId)}:${encodeURIComponent(runKey)}`;
}
