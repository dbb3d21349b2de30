/**
 * Determinism under real timing: product workflows run on the test stack with jittered provider
 * latency (so slots, local activities and triggers interleave differently from run to run), then
 * every history (each continue-as-new run, and the refresh's) is replayed against the same code.
 * The committed fixtures pin known shapes; this adds fresh ones under varied timing. It is a net, not
 * a proof: with the local-activity lane removed it did not reproduce that batching hazard in two
 * tries (a committed coalesced history did); the lane guards it by construction.
 */
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { activitiesOf } from '../helpers/histories';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = 'jitter';

describe('replaying freshly recorded histories', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ simulator: { latencyMs: { min: 5, max: 120 } } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('replays every product and refresh history of a jittered three-slot refresh with coalesced triggers', { timeout: 180_000 }, async () => {
    const skus = Array.from({ length: 16 }, (_, i) => `JIT-${i}`);
    await stack.addProducts(CATALOG, skus.map((sku) => ({ sku, attributes: sampleAttributes(stack, sku) })));
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'all', dryRun: false, trigger: 'manual', window: 8, pageSize: 8, skusPerRun: 8 });
    // A second trigger while plans run: coalesced into a continue-as-new re-run of those SKUs.
    for (const sku of skus.slice(0, 4)) await stack.trigger({ catalogId: CATALOG, sku, trigger: 'webhook', force: true });
    const result = await refreshResult(stack.client, workflowId);
    expect(result.failed).toBe(0);

    const histories: Array<{ workflowId: string; history: Awaited<ReturnType<ReturnType<TestStack['client']['workflow']['getHandle']>['fetchHistory']>> }> = [];
    let localActivities = 0;
    for await (const wf of stack.client.workflow.list({ query: `CatalogId = '${CATALOG}'` })) {
      const handle = stack.client.workflow.getHandle(wf.workflowId, wf.runId);
      if (wf.status.name === 'RUNNING') await handle.result().catch(() => undefined);
      const history = await handle.fetchHistory();
      localActivities += activitiesOf(history.events ?? []).local.length;
      histories.push({ workflowId: `${wf.workflowId}/${wf.runId}`, history });
    }
    // 16 products (some twice) and the refresh's runs.
    expect(histories.length).toBeGreaterThanOrEqual(16 + 2);
    expect(localActivities).toBeGreaterThan(16 * 4);

    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
