/**
 * The publish step. One activity per (SKU, destination), on the `<prefix>.publish` queue: it sends the
 * SKU's current assets the destination does not show yet, one publication (ledger row) per slot and
 * version. Per SKU and destination, because a destination's rate limit and Retry-After govern only its
 * own retries (a throttled shop never delays the PIM), a SKU's images reach a destination together, and
 * a catalog of N SKUs costs N activities per destination rather than N x slots.
 *
 * A retry finds its rows: what was published is not sent again; a retryable PublishError ends this
 * try (the next honours `retryAfterMs`); a non-retryable one ends that slot's publication failed with
 * the reason and the other slots go on. The last try records retryable failures as failed too.
 */
import { Context, log } from '@temporalio/activity';
import { CatalogSettingsError, readCatalogPlan } from '../../db/repositories/catalogs';
import { listCurrentAssets } from '../../db/repositories/assets';
import { getProduct } from '../../db/repositories/products';
import { deliveryRecorder } from '../../db/repositories/deliveries';
import { markPublishAttempt, markPublished, markSkipped, openPublication, unpublishedCurrentAssets } from '../../db/repositories/publications';
import { renderAltText } from '../../publish/altText';
import { PublishError, type DestinationAdapter, type EventDestination, type PublishItem } from '../../publish/destination';
import { chooseFile, FileChoiceError } from '../../publish/files';
import { DESTINATION_KINDS } from '../../publish/kinds';
import { configuredDestinations, type ConfiguredDestination } from '../../publish/settings';
import { canonicalJson } from '../../support/canonicalJson';
import { FailureType } from '../../shared/failures';
import { TemplateError } from '../../shared/plan';
import {
  PUBLISH_MAX_ATTEMPTS,
  type PublishSkuInput,
  type PublishSkuResult,
  type SendEventsInput,
  type SendEventsResult,
} from '../../shared/publish';
import { StorageError } from '../../storage/types';
import type { ActivityDeps } from './deps';
import { fail } from './failures';

/** This try's number, and whether it is the last the retry policy allows (1 and false outside an activity). */
function attemptInfo(): { attempt: number; final: boolean; signal?: AbortSignal; heartbeat(): void } {
  try {
    const ctx = Context.current();
    return { attempt: ctx.info.attempt, final: ctx.info.attempt >= PUBLISH_MAX_ATTEMPTS, signal: ctx.cancellationSignal, heartbeat: () => ctx.heartbeat() };
  } catch {
    return { attempt: 1, final: true, heartbeat: () => undefined };
  }
}

/** The SDK's activity log, or nothing outside an activity (tests, a direct call). */
function warn(message: string, attrs: Record<string, unknown>): void {
  try {
    log.warn(message, attrs);
  } catch {
    // no activity context
  }
}

export function publicationKey(k: { catalogId: string; sku: string; slot: string; version: number; destination: string }): string {
  return ['pub1', k.catalogId, k.sku, k.slot, `v${k.version}`, k.destination].map(encodeURIComponent).join(':');
}

function isEventDestination(a: DestinationAdapter): a is EventDestination {
  return typeof (a as Partial<EventDestination>).send === 'function';
}

/** A failure another try cannot fix, for one slot's publication. */
function permanentReason(err: unknown): { code: string; message: string } | undefined {
  if (err instanceof PublishError && !err.retryable) return { code: err.code, message: err.message };
  if (err instanceof TemplateError) return { code: 'invalid_product_data', message: `alt text: ${err.message.replace('prompt template', 'alt text template')}` };
  if (err instanceof FileChoiceError) return { code: 'invalid_config', message: err.message };
  if (err instanceof StorageError && (err.reason === 'not_found' || err.reason === 'invalid_key')) return { code: 'storage', message: `stored file: ${err.message}` };
  return undefined;
}

export function createPublishServices(deps: ActivityDeps) {
  const kinds = deps.destinationKinds ?? DESTINATION_KINDS;
  // Every delivery attempt of an event destination lands in the delivery log (`events list`).
  const context = deps.destinationContext ?? { env: process.env, recordDelivery: deliveryRecorder(deps.db) };
  /** Adapters live as long as the worker: an OAuth token is reused until it expires. */
  const adapters = new Map<string, DestinationAdapter>();

  function adapterOf(catalogId: string, d: ConfiguredDestination): DestinationAdapter {
    const key = canonicalJson([catalogId, d.kindSettings]);
    let adapter = adapters.get(key);
    if (!adapter) {
      adapter = d.kind.create(d.kindSettings, context);
      adapters.set(key, adapter);
    }
    return adapter;
  }

  async function catalogDestinations(catalogId: string) {
    const catalog = await readCatalogPlan(deps.db, catalogId);
    if (!catalog) throw fail(FailureType.invalidProductData, `catalog ${JSON.stringify(catalogId)} does not exist`);
    try {
      return { catalog, destinations: configuredDestinations(catalog.publish, catalog.publishProblem, kinds) };
    } catch (err) {
      if (err instanceof CatalogSettingsError) throw fail(FailureType.destinationConfigInvalid, `catalog ${JSON.stringify(catalogId)}: ${err.message}`);
      throw err;
    }
  }

  return { kinds, adapterOf, catalogDestinations };
}

export function createPublishActivities(deps: ActivityDeps) {
  const { db } = deps;
  const services = createPublishServices(deps);

  return {
    /** Publishes one SKU's current assets to one destination (see the file's comment). */
    async publishSku(input: PublishSkuInput): Promise<PublishSkuResult> {
      const run = attemptInfo();
      const { catalog, destinations } = await services.catalogDestinations(input.catalogId);
      const dest = destinations.find((d) => d.settings.name === input.destination);
      if (!dest) throw fail(FailureType.destinationConfigInvalid, `catalog ${JSON.stringify(input.catalogId)} has no destination ${JSON.stringify(input.destination)}`);
      const result: PublishSkuResult = { catalogId: input.catalogId, sku: input.sku, destination: dest.settings.name, kind: dest.settings.kind, published: [], failed: [], skipped: [], unchanged: 0 };
      if (!dest.settings.enabled) return result;
      if (!catalog.plan) throw fail(FailureType.invalidPlan, `catalog ${JSON.stringify(input.catalogId)} has an ${catalog.problem}`);
      const product = await getProduct(db, input.catalogId, input.sku);
      // A removed product's assets are retired: nothing more goes out for it.
      if (!product || product.status !== 'active') return result;
      const attributes = { ...product.attributes, name: product.attributes.name ?? product.name };
      const slots = catalog.plan.slots.filter((s) => s.enabled && (!input.slots || input.slots.includes(s.name)));
      const current = (await listCurrentAssets(db, input.catalogId, input.sku)).filter((a) => slots.some((s) => s.name === a.slot));
      const adapter = services.adapterOf(input.catalogId, dest);
      const gate = catalog.publish?.publishGate && dest.settings.profile ? dest.settings.profile : undefined;

      for (const asset of current) {
        const slot = slots.find((s) => s.name === asset.slot)!;
        const choice = dest.settings.slots?.[asset.slot];
        if (choice === false) continue;
        const opened = await openPublication(db, {
          catalogId: input.catalogId,
          sku: input.sku,
          slot: asset.slot,
          version: asset.version,
          assetId: asset.id,
          destination: dest.settings.name,
          kind: dest.settings.kind,
          requestedBy: input.requestedBy,
          retryFailed: input.retryFailed,
        });
        if (opened.action === 'done') {
          result.unchanged += 1;
          continue;
        }
        try {
          const { altText, locale } = renderAltText(slot, attributes);
          const file = await chooseFile(asset, choice === undefined ? undefined : choice, {
            publicBaseUrl: deps.publicBaseUrl,
            field: `destinations.${dest.index}.slots.${asset.slot}`,
            bytesOfOriginal: async (key) => (await deps.storage.get(key)).length,
          });
          const item: PublishItem = {
            catalogId: input.catalogId,
            sku: input.sku,
            slot: asset.slot,
            assetId: asset.id,
            version: asset.version,
            fingerprint: asset.fingerprint,
            altText,
            ...(locale ? { locale } : {}),
            files: [file],
            publicationKey: publicationKey({ ...input, slot: asset.slot, version: asset.version, destination: dest.settings.name }),
            ...(opened.action === 'republish' ? { republish: true } : {}),
            send: opened.sends + 1,
          };
          if (gate) {
            const verdict = deps.channelGate ? await deps.channelGate(item, gate) : { pass: false as const, reason: `publishGate is on but this worker has no channel gate for profile "${gate}"` };
            if (!verdict.pass) {
              await markSkipped(db, opened.id, verdict.reason);
              result.skipped.push({ slot: asset.slot, version: asset.version, reason: verdict.reason });
              continue;
            }
          }
          run.heartbeat();
          const receipt = await adapter.publish(item, (key) => deps.storage.get(key), run.signal);
          await markPublished(db, opened.id, { ...receipt, altText, variant: file.variant });
          result.published.push({ slot: asset.slot, version: asset.version, remoteId: receipt.remoteId, alreadyPresent: receipt.alreadyPresent, republished: opened.action === 'republish' });
        } catch (err) {
          const permanent = permanentReason(err);
          const message = permanent?.message ?? (err instanceof Error ? err.message : String(err));
          const code = permanent?.code ?? (err instanceof PublishError ? err.code : 'error');
          const final = permanent !== undefined || run.final;
          await markPublishAttempt(db, opened.id, { code, message, final });
          warn('publication failed', { sku: input.sku, slot: asset.slot, destination: dest.settings.name, code, final, attempt: run.attempt });
          if (!final) {
            const retryAfterMs = err instanceof PublishError ? err.retryAfterMs : undefined;
            throw fail(FailureType.destinationUnavailable, `${dest.settings.name} (${code}) for SKU ${input.sku} slot ${asset.slot}: ${message}`, {
              retryable: true,
              nextRetryDelayMs: retryAfterMs,
            });
          }
          result.failed.push({
            slot: asset.slot,
            version: asset.version,
            errorType: code,
            message: permanent ? message : `gave up after ${run.attempt} tries: ${message}`,
          });
        }
      }
      return result;
    },

    /**
     * Sends events to every enabled event destination of the catalog. At least once: a retry sends
     * again what was already delivered; receivers de-duplicate by event id.
     */
    async sendEvents(input: SendEventsInput): Promise<SendEventsResult> {
      const run = attemptInfo();
      const result: SendEventsResult = { sent: 0, failed: [] };
      if (input.events.length === 0) return result;
      const { destinations } = await services.catalogDestinations(input.catalogId);
      let retryAfterMs: number | undefined;
      let retryable: string | undefined;
      for (const d of destinations.filter((x) => x.settings.enabled)) {
        const adapter = services.adapterOf(input.catalogId, d);
        if (!isEventDestination(adapter)) continue;
        for (const event of input.events) {
          try {
            await adapter.send(event, run.signal);
            result.sent += 1;
          } catch (err) {
            const message = err instanceof Error ? err.message : String(err);
            if (err instanceof PublishError && !err.retryable) {
              result.failed.push({ destination: d.settings.name, eventId: event.id, message });
            } else if (run.final) {
              result.failed.push({ destination: d.settings.name, eventId: event.id, message: `gave up after ${run.attempt} tries: ${message}` });
            } else {
              retryable = `${d.settings.name}: ${message}`;
              if (err instanceof PublishError && err.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, err.retryAfterMs);
            }
          }
        }
      }
      if (retryable) throw fail(FailureType.destinationUnavailable, `events not delivered: ${retryable}`, { retryable: true, nextRetryDelayMs: retryAfterMs });
      return result;
    },
  };
}

/** The workflow queue's part of publishing: which destinations have something to send (Postgres only). */
export function createPublishLedgerActivities(deps: ActivityDeps) {
  return {
    async destinationsToPublish(input: { catalogId: string; sku: string; slots?: string[] }): Promise<string[]> {
      const catalog = await readCatalogPlan(deps.db, input.catalogId);
      const enabled = (catalog?.publish?.destinations ?? []).filter((d) => d.enabled);
      if (enabled.length === 0) return [];
      const rows = await unpublishedCurrentAssets(deps.db, { catalogId: input.catalogId, skus: [input.sku],
        destinations: enabled.map((d) => d.name),
        slots: input.slots ?? catalog?.plan?.slots.filter((s) => s.enabled).map((s) => s.name),
      });
      const wanted = rows.filter((r) => enabled.find((d) => d.name === r.destination)?.slots?.[r.slot] !== false);
      return [...new Set(wanted.map((r) => r.destination))];
    },
  };
}
