/**
 * The contract between the publish step and a destination (Akeneo, Shopify, an outbound webhook).
 * A destination adapter turns one published asset version into the destination's calls; the publish
 * step (src/temporal/activities/publish.ts) owns the ledger of publications, retries and the gate.
 *
 * Idempotency is the adapter's duty: publishing the same `PublishItem.version` twice must change
 * nothing at the destination (a derived asset code, a lookup before an upload, an event id).
 */

/** One stored variant file, as the adapter may read or link it. */
export interface PublishFile {
  /** Variant name from the variant set (e.g. `zoom`, `pdp`), or `original`. */
  variant: string;
  format: 'jpeg' | 'webp' | 'avif' | 'png';
  contentType: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  storageKey: string;
  /** `ASSET_PUBLIC_BASE_URL` + storage key, where one is configured (for destinations that pull). */
  publicUrl?: string;
}

/** One asset version of one slot of one SKU, ready to publish. */
export interface PublishItem {
  catalogId: string;
  sku: string;
  slot: string;
  /** The asset row id and its version number: together they name what was published. */
  assetId: string;
  version: number;
  fingerprint: string;
  /** Alt text rendered from the plan's template, in the product's locale where known. */
  altText: string;
  locale?: string;
  /** The files this destination is configured to receive for this slot (see the destination's `variants`). */
  files: PublishFile[];
  /** A stable key for this (catalog, sku, slot, version, destination): asset codes and event ids derive from it. */
  publicationKey: string;
  /**
   * True when this version was published here before and the destination has been shown another
   * version since (a rollback made it current again): make it the one shown, without uploading the
   * same bytes twice where the destination still holds them.
   */
  republish?: boolean;
  /**
   * Which send of this publication this is (1 the first; a republish after a rollback is 2, 3...).
   * Stable across retries of one send: events derive their id from the key and this number, so a
   * receiver de-duplicating by event id drops a retried delivery but not a rollback's notice.
   */
  send?: number;
}

/** What the destination said, kept in the publications ledger and shown to operators. */
export interface PublishReceipt {
  /** The destination's own id for what now holds the image (Akeneo asset code, Shopify media id, event id). */
  remoteId: string;
  /** True when the destination already held this version and nothing was sent again. */
  alreadyPresent: boolean;
  /** Small, operator-readable facts (media file code, product id, HTTP status); no secrets, no bytes. */
  details?: Record<string, string | number | boolean>;
}

/** Reads a stored file's bytes (storage is injected; adapters never open storage themselves). */
export type ReadFile = (storageKey: string) => Promise<Buffer>;

export interface DestinationAdapter {
  /** The configured destination's name in the catalog settings (e.g. `akeneo`, `shop-eu`). */
  readonly name: string;
  readonly kind: 'akeneo' | 'shopify' | 'webhook';
  /** A harmless call that proves the credentials work (`destinations test`). */
  test(signal?: AbortSignal): Promise<{ ok: true; detail: string }>;
  publish(item: PublishItem, readFile: ReadFile, signal?: AbortSignal): Promise<PublishReceipt>;
}

/**
 * Errors an adapter throws. `retryable` failures (429, 5xx, a dropped connection, an expired token
 * that could not be refreshed in-call) are retried by the publish step with backoff, honouring
 * `retryAfterMs`; the others (bad credentials, a SKU the shop does not have, an image over the
 * destination's limits) end the publication as failed with the reason, naming the field.
 */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly code: 'rate_limited' | 'unavailable' | 'network' | 'bad_credentials' | 'not_found' | 'rejected' | 'invalid_config',
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

/** What building a destination may use: secrets come from the environment, never from settings. */
export interface DestinationContext {
  env: Record<string, string | undefined>;
  /** Injected for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
  now?: () => number;
  /** Called after each delivery attempt of an outbound event (the webhook kind), for the delivery log. */
  recordDelivery?: (entry: DeliveryAttempt) => Promise<void>;
}

/** One attempt to deliver an outbound event, as the delivery log keeps it (the log numbers the attempts). */
export interface DeliveryAttempt {
  eventId: string;
  type: OutboundEvent['type'];
  /** The destination's name in the catalog settings. */
  destination: string;
  /** The item's catalog, or the event's `data.catalogId`; the log's writer fills it in where neither says. */
  catalogId?: string;
  /** The HTTP status, when an answer came. */
  status?: number;
  /** The start of the answer's body (at most 500 characters, control characters removed). */
  answer?: string;
  durationMs: number;
  /** Why the attempt failed (network, timeout, a status that is not 2xx); absent when delivered. */
  error?: string;
  outcome: 'delivered' | 'retryable' | 'rejected';
  attemptedAt: Date;
}

/**
 * One kind of destination: its settings schema (validated when a catalog's settings are written
 * and again when read) and how to build its adapter. Each kind lives in its own folder
 * (src/publish/akeneo, src/publish/shopify, src/publish/webhook); src/publish/kinds.ts lists them.
 * Settings have the shape `{ name, kind, ...kind-specific }` inside the catalog's `destinations` array.
 */
export interface DestinationKind<S extends { name: string; kind: string } = { name: string; kind: string }> {
  kind: DestinationAdapter['kind'];
  /** A zod schema of the kind's settings (`name` and `kind` included). */
  settingsSchema: import('zod').ZodType<S>;
  create(settings: S, ctx: DestinationContext): DestinationAdapter;
}

/** An outbound event (`asset.published`, `asset.failed`, `refresh.completed`); `id` de-duplicates. */
export interface OutboundEvent {
  id: string;
  type: 'asset.published' | 'asset.failed' | 'refresh.completed';
  /** ISO time the event happened (not the delivery time). */
  occurredAt: string;
  data: Record<string, unknown>;
}

/** A destination that also takes events (the webhook kind); the publish step sends failures and refresh ends to it. */
export interface EventDestination extends DestinationAdapter {
  send(event: OutboundEvent, signal?: AbortSignal): Promise<PublishReceipt>;
}

/**
 * The channel gate (a catalog setting, see channel profiles): asked before an item goes to a
 * destination whose settings name a `profile`. Injected into the publish step.
 */
export type ChannelGate = (item: PublishItem, profile: string) => Promise<{ pass: true } | { pass: false; reason: string }>;
