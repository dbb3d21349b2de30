/** Activities that read and write the catalog in Postgres: plan, prepare (fingerprint), record. */
import { createHash } from 'node:crypto';
import { Context, log } from '@temporalio/activity';
import { readCatalogPlan } from '../../db/repositories/catalogs';
import { canonicalJson, sha256Hex } from '../../support/canonicalJson';
import { budgetSpent, reserveBudget } from '../../db/repositories/budgets';
import { getProduct } from '../../db/repositories/products';
import { decideReview, getCurrentAsset, recordGeneratedAssets, recordSlotAttempt, slotHold, type ReviewDecision } from '../../db/repositories/assets';
import { finishedAttempts, getLedgerEntry, noteLedgerError, unreleasedUnusable } from '../../db/repositories/jobs';
import { inspectImage } from '../../imaging';
import { labelExpectation } from '../../label/expectation';
import { resolveChannels } from '../../imaging/channels';
import { createSourceFetcher, DEFAULT_SOURCE_FETCH_POLICY, SourceUnavailableError, type SourceAttempt } from '../../net/sourceFetcher';
import { LIMITS } from '../../provider/contract';
import { CENTS_PER_IMAGE, FailureType, stepIdempotencyKey } from '../../shared';
import { renderTemplate, slotDependencies, TemplateError, type ImageSource, type Plan, type Slot } from '../../shared/plan';
import { publishSettingsOf } from '../../shared/publishSettings';
import type {
  LoadedPlan, PreparedSlot, PrepareSlotInput, RecordedSlot, RecordSlotInput, ReviewPolicy, SlotFailureInput, SourceRef,
} from '../../shared/steps';
import { contentKey, type AssetExtension } from '../../storage/keys';
import type { ActivityDeps } from './deps';
import { fail, toFailure } from './failures';

const EXT_BY_TYPE: Record<string, AssetExtension> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif', tiff: 'tiff' };
const TYPE_BY_EXT: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif', tiff: 'image/tiff' };

export function contentTypeOfKey(key: string): string {
  return TYPE_BY_EXT[key.slice(key.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

/** A stable hash of a JSON value: keys sorted, so the same inputs always give the same fingerprint. */
export function fingerprintOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** A catalog's `review` setting: `{ required: true, timeoutHours?, onTimeout?, maxRejections? }`. */
export function reviewPolicy(settings: Record<string, unknown>): ReviewPolicy | null {
  const r = settings.review as { required?: unknown; timeoutHours?: unknown; timeoutSeconds?: unknown; onTimeout?: unknown; maxRejections?: unknown } | undefined;
  if (!r || r.required !== true) return null;
  const seconds =
    typeof r.timeoutSeconds === 'number' && r.timeoutSeconds > 0
      ? r.timeoutSeconds
      : typeof r.timeoutHours === 'number' && r.timeoutHours > 0
        ? r.timeoutHours * 3600
        : 48 * 3600;
  return {
    timeoutSeconds: Math.round(seconds),
    onTimeout: r.onTimeout === 'approve' ? 'approve' : 'keep',
    maxRejections: typeof r.maxRejections === 'number' && r.maxRejections >= 0 ? Math.floor(r.maxRejections) : 2,
  };
}

/** This step's place in its retries; a dry run (or a call outside an activity) gets one try. */
function sourceAttempt(final: boolean): SourceAttempt {
  try {
    const info = Context.current().info;
    return { attempt: info.attempt, firstAttemptAtMs: info.scheduledTimestampMs, final };
  } catch {
    return { attempt: 1, final };
  }
}

export function createCatalogActivities(deps: ActivityDeps) {
  const { db } = deps;

  async function planFor(catalogId: string): Promise<{ plan: Plan; settings: Record<string, unknown> }> {
    const catalog = await readCatalogPlan(db, catalogId);
    if (!catalog) throw fail(FailureType.invalidProductData, `catalog ${JSON.stringify(catalogId)} does not exist`);
    if (!catalog.plan) throw fail(FailureType.invalidPlan, `catalog ${JSON.stringify(catalogId)} has an ${catalog.problem}`);
    return { plan: catalog.plan, settings: catalog.settings };
  }

  const sources = createSourceFetcher((url) => deps.fetchSource(url), () => deps.sourceFetch ?? DEFAULT_SOURCE_FETCH_POLICY);

  /**
   * Fetches, validates and stores one PIM-supplied image, returning its content-addressed key. A
   * fetch is tried a bounded number of times through this step's own retries (see sourceFetcher):
   * then the slot fails with the attribute, the URL and the cause, and the other slots go on.
   */
  async function storeSource(url: string, what: string, final: boolean): Promise<SourceRef> {
    let fetched;
    try {
      fetched = await sources.fetch(url, sourceAttempt(final));
    } catch (err) {
      if (!(err instanceof SourceUnavailableError)) throw toFailure(err, `${what} could not be fetched`);
      const message = `${what} could not be fetched: ${err.reason}`;
      if (err.retryDelayMs !== undefined) throw fail(FailureType.sourceUnavailable, message, { retryable: true, nextRetryDelayMs: err.retryDelayMs });
      throw fail(err.badData ? FailureType.invalidProductData : FailureType.sourceUnreachable, message);
    }
    let info;
    try {
      info = await inspectImage(fetched.bytes, { maxBytes: LIMITS.maxReferenceBytes, maxPixels: LIMITS.maxReferencePixels });
    } catch (err) {
      throw fail(FailureType.invalidProductData, `${what} is not a usable image: ${(err as Error).message}`);
    }
    const aspect = info.width / info.height;
    if (aspect < LIMITS.minAspect || aspect > LIMITS.maxAspect) {
      throw fail(FailureType.invalidProductData, `${what} has an aspect ratio of ${aspect.toFixed(3)}; the model accepts 1:16 to 16:1`);
    }
    const ext = EXT_BY_TYPE[info.format];
    if (!ext || !['jpg', 'png', 'webp'].includes(ext)) {
      throw fail(FailureType.invalidProductData, `${what} is ${info.format}; the model accepts JPEG, PNG or WebP references`);
    }
    const key = contentKey(info.sha256, ext, 'sources');
    try {
      await deps.storage.put(key, fetched.bytes, TYPE_BY_EXT[ext]!);
    } catch (err) {
      throw toFailure(err, `storing ${what}`);
    }
    return { storageKey: key, sha256: info.sha256, contentType: TYPE_BY_EXT[ext]! };
  }

  async function resolveSources(
    slot: Slot,
    input: PrepareSlotInput,
    attributes: Record<string, unknown>,
    settings: Record<string, unknown>,
  ): Promise<SourceRef[]> {
    const sources: ImageSource[] = slot.kind === 'edit' ? [slot.source] : slot.kind === 'compose' ? slot.references : [];
    const refs: SourceRef[] = [];
    for (const source of sources) {
      if ('slot' in source) {
        let dep = input.dependencies[source.slot];
        if (!dep) {
          // The referenced slot kept its published asset this run (e.g. a review kept the previous version).
          const current = await getCurrentAsset(db, input.catalogId, input.sku, source.slot);
          if (current) dep = { assetId: current.id, storageKey: current.storage_key, checksum: current.checksum };
        }
        if (!dep) throw fail(FailureType.invalidProductData, `slot ${slot.name} needs the output of slot ${source.slot}, which has none`);
        refs.push({ storageKey: dep.storageKey, sha256: dep.checksum, contentType: contentTypeOfKey(dep.storageKey) });
      } else if ('attribute' in source) {
        const url = attributes[source.attribute];
        if (typeof url !== 'string' || url.trim() === '') {
          throw fail(
            FailureType.invalidProductData,
            `SKU ${JSON.stringify(input.sku)}: slot ${slot.name} needs a source image, but attribute "${source.attribute}" is missing`,
          );
        }
        refs.push(await storeSource(url.trim(), `attribute "${source.attribute}" (${url.trim().slice(0, 200)})`, input.dryRun === true));
      } else if ('catalogSetting' in source) {
        const urls = settings[source.catalogSetting];
        if (urls !== undefined && (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string'))) {
          throw fail(FailureType.invalidPlan, `catalog setting ${source.catalogSetting} must be a list of URLs`);
        }
        for (const [i, url] of ((urls as string[] | undefined) ?? []).entries()) {
          refs.push(await storeSource(url, `catalog setting ${source.catalogSetting}[${i}] (${url.slice(0, 200)})`, input.dryRun === true));
        }
      } else {
        refs.push(await storeSource(source.url, `plan reference ${source.url.slice(0, 200)}`, input.dryRun === true));
      }
    }
    if (refs.length > LIMITS.maxReferences) {
      throw fail(FailureType.invalidPlan, `slot ${slot.name} has ${refs.length} references; the model accepts at most ${LIMITS.maxReferences}`);
    }
    if (slot.kind === 'compose' && refs.length + slot.numImages > LIMITS.maxReferencesPlusOutputs) {
      throw fail(FailureType.invalidPlan, `slot ${slot.name}: references plus outputs must be at most ${LIMITS.maxReferencesPlusOutputs}`);
    }
    return refs;
  }

  /**
   * A step whose ledger row is still open (delivered, or a job the provider has) is reused at no cost.
   * A new purchase is refused once MAX_PAID_ATTEMPTS jobs for this fingerprint bought nothing kept,
   * until an operator releases them (`catalog-assets retry`) or the data changes the fingerprint.
   */
  async function refuseRebuyPastCap(input: PrepareSlotInput, fingerprint: string, idempotencyKey: string): Promise<void> {
    const open = await getLedgerEntry(db, idempotencyKey);
    if (open) return;
    const spent = await unreleasedUnusable(db, { catalogId: input.catalogId, sku: input.sku, slot: input.slot, fingerprint });
    if (spent.length < deps.maxPaidAttempts) return;
    const reasons = spent.map((j) => `${j.unusable_reason ?? 'unusable'}${j.provider_job_id ? ` (job ${j.provider_job_id})` : ''}`).join(', ');
    throw fail(
      FailureType.needsAttention,
      `slot ${input.slot} of SKU ${input.sku} needs attention: ${spent.length} paid jobs for this fingerprint could not be kept (${reasons}); ` +
        `not buying again without an operator: catalog-assets retry --catalog ${input.catalogId} --sku ${input.sku} --slot ${input.slot}`,
    );
  }

  return {
    async loadPlan(input: { catalogId: string; sku: string }): Promise<LoadedPlan> {
      const [{ plan, settings }, product] = await Promise.all([planFor(input.catalogId), getProduct(db, input.catalogId, input.sku)]);
      const publishing = publishSettingsOf(settings);
      const publishTo = publishing.publish?.destinations.filter((d) => d.enabled).map((d) => d.name) ?? [];
      return {
        // Only where the catalog publishes: a plan without destinations has no publish step at all.
        ...(publishTo.length > 0 ? { publishTo } : {}),
        ...(publishing.problem ? { publishProblem: publishing.problem } : {}),
        review: reviewPolicy(settings),
        planVersion: plan.version,
        productName: product?.name ?? input.sku,
        attributesFingerprint: product?.attributes_fingerprint ?? '',
        productStatus: product ? product.status : 'missing',
        slots: plan.slots
          .filter((s) => s.enabled)
          .map((s) => ({ name: s.name, kind: s.kind, dependsOn: slotDependencies(s), ...(s.channels?.length ? { channels: resolveChannels(s.channels, plan.channelProfiles) } : {}) })),
      };
    },

    /**
     * Renders the slot's prompt, resolves its sources and computes its fingerprint. A slot whose
     * fingerprint matches the current asset is skipped here, with no provider call.
     */
    async prepareSlot(input: PrepareSlotInput): Promise<PreparedSlot> {
      const [{ plan, settings }, product] = await Promise.all([planFor(input.catalogId), getProduct(db, input.catalogId, input.sku)]);
      if (!product) throw fail(FailureType.invalidProductData, `SKU ${JSON.stringify(input.sku)} is not in catalog ${JSON.stringify(input.catalogId)}`);
      if (product.status !== 'active') throw fail(FailureType.productRemoved, `SKU ${JSON.stringify(input.sku)} was removed from catalog ${JSON.stringify(input.catalogId)}: nothing more is bought for it`);
      const slot = plan.slots.find((s) => s.name === input.slot);
      if (!slot) throw fail(FailureType.invalidPlan, `the plan of catalog ${JSON.stringify(input.catalogId)} has no slot ${JSON.stringify(input.slot)}`);
      const attributes = { ...product.attributes, name: product.attributes.name ?? product.name };
      let prompt: string;
      try {
        prompt = renderTemplate(slot.promptTemplate, attributes);
      } catch (err) {
        if (err instanceof TemplateError) {
          throw fail(FailureType.invalidProductData, `SKU ${JSON.stringify(input.sku)}, slot ${slot.name}: ${err.message}`, { details: [{ missing: err.missing }] });
        }
        throw err;
      }
      const sources = await resolveSources(slot, input, attributes, settings);
      const request = {
        operation: slot.kind,
        prompt: input.reviewNote ? `${prompt} Reviewer's note, to apply: ${input.reviewNote.trim().slice(0, 500)}` : prompt,
        imageSize: slot.imageSize,
        quality: slot.quality,
        outputFormat: slot.outputFormat,
        numImages: slot.numImages,
        sources,
      };
      const fingerprint = fingerprintOf({
        planVersion: plan.version,
        model: deps.model,
        provider: deps.providerIdentity,
        operation: request.operation,
        prompt,
        imageSize: request.imageSize,
        quality: request.quality,
        outputFormat: request.outputFormat,
        numImages: request.numImages,
        sources: sources.map((s) => s.sha256),
      });
      const current = await getCurrentAsset(db, input.catalogId, input.sku, input.slot);
      if (current && current.fingerprint === fingerprint && !input.force && !input.reviewNote) {
        if (!input.dryRun) await recordSlotAttempt(db, { ...input, outcome: 'skipped', fingerprint });
        log.info('slot unchanged: skipped', { sku: input.sku, slot: input.slot });
        return { action: 'skip', fingerprint, asset: { assetId: current.id, storageKey: current.storage_key, checksum: current.checksum } };
      }
      // An operator's rollback or a declined review holds whatever triggered this run (force included).
      const held = await slotHold(db, { ...input, fingerprint, currentAssetId: current?.id });
      if (held && current) {
        if (!input.dryRun) await recordSlotAttempt(db, { ...input, outcome: 'skipped', fingerprint });
        log.info(`slot held: ${held.kind}, skipped`, { sku: input.sku, slot: input.slot });
        return { action: 'skip', fingerprint, asset: { assetId: current.id, storageKey: current.storage_key, checksum: current.checksum } };
      }
      if (held) throw fail(FailureType.needsAttention, `SKU ${JSON.stringify(input.sku)}, slot ${input.slot}: ${held.reason}`);
      const attempt = await finishedAttempts(db, { ...input, fingerprint });
      const idempotencyKey = stepIdempotencyKey({ catalogId: input.catalogId, sku: input.sku, slot: input.slot, fingerprint, attempt }, (text) =>
        createHash('sha256').update(text).digest('hex'),
      );
      await refuseRebuyPastCap(input, fingerprint, idempotencyKey);
      if (input.budget && !input.dryRun) {
        // Reserved before anything is paid, atomically in Postgres: concurrent steps never pass the limit.
        const r = await reserveBudget(db, { budget: input.budget, catalogId: input.catalogId, sku: input.sku, slot: input.slot, idempotencyKey, images: request.numImages });
        if (!r.ok) {
          throw fail(
            FailureType.budgetExhausted,
            `budget ${input.budget.id} has ${r.limitImages - r.usedImages} of ${r.limitImages} images left; slot ${input.slot} of SKU ${JSON.stringify(input.sku)} needs ${request.numImages}`,
          );
        }
      }
      const label = labelExpectation(slot, attributes);
      return { action: 'generate', fingerprint, idempotencyKey, request, ...(label ? { label } : {}) };
    },

    /** What a refresh's budget paid for, from the ledger rows of its reservations. */
    async budgetSpent(input: { budgetId: string }): Promise<{ images: number; costCents: number; jobs: number; unsettled: number }> {
      const spent = await budgetSpent(db, input.budgetId);
      return { images: spent.images, costCents: spent.costCents, jobs: spent.jobs, unsettled: spent.unsettled };
    },

    async recordSlot(input: RecordSlotInput): Promise<RecordedSlot> {
      const recorded = await recordGeneratedAssets(db, { ...input, centsPerImage: CENTS_PER_IMAGE });
      return { assetId: recorded.assetId, version: recorded.version, storageKey: recorded.storageKey, checksum: recorded.checksum };
    },

    async decideReview(input: { catalogId: string; sku: string; slot: string; assetId: string; decision: ReviewDecision; note?: string; actor: string }) {
      const catalog = await readCatalogPlan(db, input.catalogId);
      return decideReview(db, { ...input, maxRejections: reviewPolicy(catalog?.settings ?? {})?.maxRejections });
    },

    async recordSlotFailure(input: SlotFailureInput): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await recordSlotAttempt(trx, {
          catalogId: input.catalogId,
          sku: input.sku,
          slot: input.slot,
          outcome: 'failed',
          fingerprint: input.fingerprint ?? null,
          errorType: input.errorType,
          errorMessage: input.message.slice(0, 2_000),
          workflowId: input.workflowId,
        });
        // The paid step closed its own ledger row where the money is settled (failed at the provider,
        // unusable); any other row stays open so the next run polls or reuses the job instead of buying again.
        if (input.idempotencyKey) await noteLedgerError(trx, input.idempotencyKey, input.errorType, input.message.slice(0, 2_000));
      });
    },
  };
}
