/** Activities of the catalog refresh: select a page of SKUs, estimate a dry run, record the run. */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { getCurrentAsset } from '../../db/repositories/assets';
import { readCatalogPlan } from '../../db/repositories/catalogs';
import { markProductSettled, recordRefreshFailures, recordRefreshRun, selectSkuPage } from '../../db/repositories/selection';
import {
  MAX_FAILURE_REASON, MAX_LISTED_FAILURES, type PageEstimate, type RefreshCounts, type RefreshFailure, type RefreshPage, type RefreshSelection,
} from '../../shared/refresh';
import type { AssetRef } from '../../shared/steps';
import type { createCatalogActivities } from './catalog';
import type { ActivityDeps } from './deps';

/** The type and reason of a failed prepare step, as a real run would record them. */
function failureOf(err: unknown): { errorType: string; reason: string } {
  if (err instanceof ApplicationFailure) return { errorType: err.type ?? 'Error', reason: err.message.slice(0, 2_000) };
  if (err instanceof Error) return { errorType: err.name, reason: err.message.slice(0, 2_000) };
  return { errorType: 'Error', reason: String(err).slice(0, 2_000) };
}

export function createRefreshActivities(deps: ActivityDeps, catalog: ReturnType<typeof createCatalogActivities>) {
  const { db } = deps;

  async function currentAssetRef(catalogId: string, sku: string, slot: string): Promise<AssetRef | undefined> {
    const current = await getCurrentAsset(db, catalogId, sku, slot);
    return current ? { assetId: current.id, storageKey: current.storage_key, checksum: current.checksum } : undefined;
  }

  return {
    async selectRefreshPage(input: { catalogId: string; selection: RefreshSelection; afterSku: string | null; limit: number }): Promise<RefreshPage> {
      const stored = await readCatalogPlan(db, input.catalogId);
      const settings = (stored?.settings ?? {}) as { maxAgeDays?: unknown };
      const maxAgeDays = typeof settings.maxAgeDays === 'number' && settings.maxAgeDays > 0 ? settings.maxAgeDays : null;
      const slots = stored?.plan?.slots ?? [];
      const skus = await selectSkuPage(db, { catalogId: input.catalogId, selection: input.selection, afterSku: input.afterSku, limit: input.limit, maxAgeDays });
      return {
        skus: skus.map((s) => ({ sku: s.sku, name: s.name })),
        imagesPerSku: slots.filter((s) => s.enabled).reduce((n, s) => n + s.numImages, 0),
      };
    },

    /**
     * Dry run: for each SKU, which slots a real run would generate, by the same fingerprints a real
     * run computes (sources are fetched, nothing is paid, nothing is recorded but the failures).
     * A slot that depends on a slot that would regenerate would regenerate too, with its own
     * numImages; its other sources are still checked. Every slot that cannot be prepared is listed
     * with its reason (a slot whose dependency cannot be prepared too, as a real run would fail it);
     * all of them go to refresh_failures, the first `listLimit` back to the workflow.
     */
    async estimatePage(input: { catalogId: string; skus: string[]; workflowId?: string; listLimit?: number }): Promise<PageEstimate> {
      const estimate: PageEstimate = { skus: input.skus.length, wouldGenerateSkus: 0, estimatedImages: 0, invalid: 0, failures: [], failureCount: 0 };
      const stored = await readCatalogPlan(db, input.catalogId);
      const numImages = new Map((stored?.plan?.slots ?? []).map((s) => [s.name, s.numImages]));
      const found: RefreshFailure[] = [];
      for (const sku of input.skus) {
        Context.current().heartbeat(sku);
        let plan;
        try {
          plan = await catalog.loadPlan({ catalogId: input.catalogId, sku });
        } catch (err) {
          found.push({ sku, slot: '*', ...failureOf(err) });
          estimate.invalid += 1;
          continue;
        }
        const regenerating = new Set<string>();
        const failed = new Set<string>();
        const assets: Record<string, AssetRef> = {};
        let images = 0;
        for (const slot of plan.slots) {
          const failedDep = slot.dependsOn.find((d) => failed.has(d));
          if (failedDep) {
            failed.add(slot.name);
            found.push({ sku, slot: slot.name, errorType: 'DependencyFailed', reason: `slot ${slot.name} needs slot ${failedDep}, which cannot be prepared` });
            continue;
          }
          const followsRegenerating = slot.dependsOn.some((d) => regenerating.has(d));
          const dependencies: Record<string, AssetRef> = { ...assets };
          for (const d of slot.dependsOn) {
            // A dependency that would regenerate has no output yet: its current asset (or a marker)
            // stands in, so the slot's own sources and template are still checked.
            if (regenerating.has(d)) dependencies[d] = (await currentAssetRef(input.catalogId, sku, d)) ?? { assetId: 'dry-run', storageKey: `dry-run/${d}.png`, checksum: 'dry-run' };
          }
          try {
            const prepared = await catalog.prepareSlot({ catalogId: input.catalogId, sku, slot: slot.name, workflowId: 'dry-run', force: false, dryRun: true, dependencies });
            if (followsRegenerating || prepared.action === 'generate') {
              regenerating.add(slot.name);
              images += prepared.action === 'generate' ? prepared.request.numImages : (numImages.get(slot.name) ?? 1);
            } else assets[slot.name] = prepared.asset;
          } catch (err) {
            failed.add(slot.name);
            found.push({ sku, slot: slot.name, ...failureOf(err) });
          }
        }
        if (failed.size > 0) estimate.invalid += 1;
        else if (images > 0) estimate.wouldGenerateSkus += 1;
        // A real run still buys the slots that can be prepared, so their images are part of the estimate.
        estimate.estimatedImages += images;
      }
      if (input.workflowId && found.length > 0) await recordRefreshFailures(db, input.workflowId, input.catalogId, found);
      estimate.failureCount = found.length;
      estimate.failures = found.slice(0, Math.max(0, input.listLimit ?? MAX_LISTED_FAILURES)).map((f) => ({ ...f, reason: f.reason.slice(0, MAX_FAILURE_REASON) }));
      return estimate;
    },

    async markProductSettled(input: { catalogId: string; sku: string; attributesFingerprint: string }): Promise<void> {
      await markProductSettled(db, input.catalogId, input.sku, input.attributesFingerprint);
    },

    async recordRefreshRun(input: {
      workflowId: string;
      catalogId: string;
      selection: RefreshSelection;
      trigger: string;
      dryRun: boolean;
      status: string;
      counts: RefreshCounts;
      budgetExhausted: boolean;
      startedAt: string;
      finished: boolean;
      failures?: RefreshFailure[];
      failureCount?: number;
    }): Promise<void> {
      await recordRefreshRun(db, { ...input, selection: input.selection, counts: { ...input.counts }, costCents: input.counts.costCents });
    },
  };
}
