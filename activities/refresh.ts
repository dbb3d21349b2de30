/** Activities of the catalog refresh: select a page of SKUs, estimate a dry run, record the run. */
import { Context } from '@temporalio/activity';
import { getCatalog } from '../src/db/repositories/catalogs';
import { markProductSettled, recordRefreshRun, selectSkuPage } from '../src/db/repositories/selection';
import { DEFAULT_PLAN, planSchema } from '../src/shared/plan';
import type { PageEstimate, RefreshCounts, RefreshPage, RefreshSelection } from '../src/shared/refresh';
import type { AssetRef } from '../src/shared/steps';
import type { createCatalogActivities } from './catalog';
import type { ActivityDeps } from './deps';

export function createRefreshActivities(deps: ActivityDeps, catalog: ReturnType<typeof createCatalogActivities>) {
  const { db } = deps;
  return {
    async selectRefreshPage(input: { catalogId: string; selection: RefreshSelection; afterSku: string | null; limit: number }): Promise<RefreshPage> {
      const row = await getCatalog(db, input.catalogId);
      const settings = (row?.settings ?? {}) as { maxAgeDays?: unknown };
      const maxAgeDays = typeof settings.maxAgeDays === 'number' && settings.maxAgeDays > 0 ? settings.maxAgeDays : null;
      const parsedPlan = row?.plan ? planSchema.safeParse(row.plan) : undefined;
      const plan = parsedPlan?.success ? parsedPlan.data : DEFAULT_PLAN;
      const skus = await selectSkuPage(db, { catalogId: input.catalogId, selection: input.selection, afterSku: input.afterSku, limit: input.limit, maxAgeDays });
      return {
        skus: skus.map((s) => ({ sku: s.sku, name: s.name })),
        imagesPerSku: plan.slots.filter((s) => s.enabled).reduce((n, s) => n + s.numImages, 0),
      };
    },

    /**
     * Dry run: for each SKU, which slots a real run would generate, by the same fingerprints a real
     * run computes (sources are fetched, nothing is paid, nothing is recorded). A slot that depends on
     * a slot that would regenerate would regenerate too.
     */
    async estimatePage(input: { catalogId: string; skus: string[] }): Promise<PageEstimate> {
      const estimate: PageEstimate = { skus: input.skus.length, wouldGenerateSkus: 0, estimatedImages: 0, invalid: 0 };
      for (const sku of input.skus) {
        Context.current().heartbeat(sku);
        let plan;
        try {
          plan = await catalog.loadPlan({ catalogId: input.catalogId, sku });
        } catch {
          estimate.invalid += 1;
          continue;
        }
        const regenerating = new Set<string>();
        const assets: Record<string, AssetRef> = {};
        let images = 0;
        let invalid = false;
        for (const slot of plan.slots) {
          if (slot.dependsOn.some((d) => regenerating.has(d))) {
            regenerating.add(slot.name);
            images += 1;
            continue;
          }
          try {
            const prepared = await catalog.prepareSlot({ catalogId: input.catalogId, sku, slot: slot.name, workflowId: 'dry-run', force: false, dryRun: true, dependencies: assets });
            if (prepared.action === 'skip') assets[slot.name] = prepared.asset;
            else {
              regenerating.add(slot.name);
              images += prepared.request.numImages;
            }
          } catch {
            invalid = true;
          }
        }
        if (invalid) estimate.invalid += 1;
        if (images > 0) estimate.wouldGenerateSkus += 1;
        estimate.estimatedImages += images;
      }
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
    }): Promise<void> {
      await recordRefreshRun(db, { ...input, selection: input.selection, counts: { ...input.counts }, costCents: input.counts.costCents });
    },
  };
}
