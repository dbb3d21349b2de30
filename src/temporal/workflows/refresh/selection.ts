/** What a refresh selects, page by page: the label it is known by, and a dry run's estimate of a page. */
import { MAX_LISTED_FAILURES, type RefreshSelection, type RefreshWorkflowArgs } from '../../../shared/refresh';
import type { postgresSteps } from '../proxies';
import type { RefreshTally } from './progress';

export function selectionLabel(selection: RefreshSelection): string {
  return typeof selection === 'string' ? selection : `${selection.skus.length} listed SKUs`;
}

type Page = Awaited<ReturnType<ReturnType<typeof postgresSteps>['db']['selectRefreshPage']>>;

/** A dry run's page: what a real run would generate, fail and cost, without starting any product. */
export async function estimatePage(
  estimator: ReturnType<typeof postgresSteps>['estimator'],
  input: RefreshWorkflowArgs,
  workflowId: string,
  page: Page,
  tally: RefreshTally,
): Promise<void> {
  const { counts, progress, failures } = tally;
  const estimate = await estimator.estimatePage.executeWithOptions({ summary: `estimate ${page.skus.length} SKUs` }, [
    { catalogId: input.catalogId, skus: page.skus.map((s) => s.sku), workflowId, listLimit: MAX_LISTED_FAILURES - failures.length },
  ]);
  counts.planned += estimate.skus;
  counts.estimatedImages += estimate.estimatedImages;
  // A SKU with a slot that cannot be prepared would fail in a real run: counted failed, not "would generate".
  const invalid = estimate.invalid ?? 0;
  counts.generated += estimate.wouldGenerateSkus;
  counts.skipped += estimate.skus - estimate.wouldGenerateSkus - invalid;
  counts.failed += invalid;
  counts.invalid += invalid;
  for (const f of estimate.failures ?? []) tally.noteFailure(f);
  // The page lists only as many as the result has room for; the rest are counted (and in refresh_failures).
  progress.failureCount += (estimate.failureCount ?? 0) - (estimate.failures?.length ?? 0);
  progress.cursor = page.skus[page.skus.length - 1]!.sku;
}
