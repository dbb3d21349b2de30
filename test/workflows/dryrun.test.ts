/**
 * The dry run tells the truth: every SKU that cannot be prepared is listed with slot and reason, in
 * the result, refresh_runs and refresh_failures; it is counted failed, not "would generate"; the
 * estimate counts each slot's numImages, dependent slots included; and the real run that follows
 * fails exactly the slots the dry run listed, for the same reasons.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRefreshFailures } from '../../src/db/repositories/selection';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { FailureType } from '../../src/shared/failures';
import type { PlanInput } from '../../src/shared/plan';
import type { RefreshResult } from '../../src/shared/refresh';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = `dryrun-${process.pid}`;
const DOWN_HOST = 'packshots.dryrun.invalid';
/** Lifestyle buys two images and follows the hero: a hero that regenerates makes it cost two. */
const PLAN: PlanInput = {
  version: 1,
  slots: [
    { name: 'hero', kind: 'generate', promptTemplate: 'Studio photograph of {{brand}} {{name}}.', imageSize: 'square_hd' },
    { name: 'label', kind: 'edit', source: { attribute: 'packshotUrl' }, promptTemplate: 'Make the label read "{{labelText}}".', imageSize: 'square_hd' },
    {
      name: 'lifestyle',
      kind: 'compose',
      references: [{ slot: 'hero' }, { catalogSetting: 'sceneReferences' }],
      promptTemplate: '{{brand}} product in a bright kitchen.',
      imageSize: 'landscape_4_3',
      numImages: 2,
    },
  ],
};

describe('a dry run that tells the truth', () => {
  let stack: TestStack;
  const good = ['G-1', 'G-2', 'G-3'];
  let expected: Record<string, { errorType: string; reason: RegExp | string }>;

  beforeAll(async () => {
    stack = await startTestStack();
    const missingUrl = stack.packshotUrl('missing-N-1.jpg');
    await stack.addProducts(CATALOG, [
      ...good.map((sku) => ({ sku, attributes: sampleAttributes(stack, sku) })),
      ...['D-1', 'D-2'].map((sku) => ({ sku, attributes: sampleAttributes(stack, sku, { packshotUrl: `https://${DOWN_HOST}/${sku}.jpg` }) })),
      { sku: 'M-1', attributes: sampleAttributes(stack, 'M-1', { packshotUrl: undefined }) },
      { sku: 'N-1', attributes: sampleAttributes(stack, 'N-1', { packshotUrl: missingUrl }) },
    ]);
    await upsertCatalog(stack.database.db, { id: CATALOG, plan: PLAN });
    expected = {
      'D-1': { errorType: FailureType.sourceUnreachable, reason: `attribute "packshotUrl" (https://${DOWN_HOST}/D-1.jpg) could not be fetched: ENOTFOUND ${DOWN_HOST}` },
      'D-2': { errorType: FailureType.sourceUnreachable, reason: `attribute "packshotUrl" (https://${DOWN_HOST}/D-2.jpg) could not be fetched: ENOTFOUND ${DOWN_HOST}` },
      'M-1': { errorType: FailureType.invalidProductData, reason: /slot label needs a source image, but attribute "packshotUrl" is missing/ },
      'N-1': { errorType: FailureType.invalidProductData, reason: `attribute "packshotUrl" (${missingUrl}) could not be fetched: HTTP 404` },
    };
  });
  afterAll(async () => {
    await stack?.close();
  });

  function expectListed(result: Pick<RefreshResult, 'failures'>): void {
    const bySku = Object.fromEntries(result.failures.map((f) => [f.sku, f]));
    expect(Object.keys(bySku).sort()).toEqual(Object.keys(expected).sort());
    for (const [sku, e] of Object.entries(expected)) {
      expect(bySku[sku]).toMatchObject({ sku, slot: 'label', errorType: e.errorType });
      if (typeof e.reason === 'string') expect(bySku[sku]!.reason).toBe(e.reason);
      else expect(bySku[sku]!.reason).toMatch(e.reason);
    }
  }

  let dryRunReasons: Record<string, string> = {};

  it('lists every SKU that cannot be prepared, counts it failed, and estimates every slot\'s images', async () => {
    const before = stack.simulator.ledger().submissions;
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'changed', dryRun: true, trigger: 'manual' });
    const result = await refreshResult(stack.client, workflowId);
    // Good SKUs: 1 + 1 + 2 images; the failing ones still buy hero (1) and lifestyle (2) in a real run.
    expect(result).toMatchObject({ dryRun: true, planned: 7, generated: 3, skipped: 0, failed: 4, invalid: 4, estimatedImages: 24, failureCount: 4, imagesBilled: 0 });
    expect(result.estimatedCostUsd).toBeCloseTo(0.96, 6);
    expectListed(result);
    dryRunReasons = Object.fromEntries(result.failures.map((f) => [f.sku, f.reason]));
    expect(stack.simulator.ledger().submissions).toBe(before);

    const run = await stack.database.db
      .selectFrom('refresh_runs')
      .select(['status', 'dry_run', 'counts', 'failures', 'failure_count'])
      .where('workflow_id', '=', workflowId)
      .executeTakeFirstOrThrow();
    expect(run).toMatchObject({ status: 'failed', dry_run: true, failure_count: 4 });
    expect(run.counts).toMatchObject({ planned: 7, failed: 4, invalid: 4, estimatedImages: 24 });
    expectListed({ failures: run.failures });
    expectListed({ failures: await listRefreshFailures(stack.database.db, workflowId) });
  });

  it('the real run fails exactly the listed slots for the same reasons, and generates the rest', async () => {
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'changed', dryRun: false, trigger: 'manual' });
    const result = await refreshResult(stack.client, workflowId);
    expect(result).toMatchObject({ planned: 7, generated: 3, failed: 4, failureCount: 4 });
    // 3 good SKUs × 4 images + 4 failing SKUs × 3: what the dry run estimated.
    expect(result.imagesBilled).toBe(24);
    expectListed(result);
    for (const f of result.failures) expect(f.reason).toBe(dryRunReasons[f.sku]);
  });

  it('counts a dependent slot\'s own numImages when the slot it follows would regenerate', async () => {
    // G-1's name is in the hero prompt only: hero regenerates (1 image) and lifestyle follows it (2).
    await stack.addProducts(CATALOG, [{ sku: 'G-1', attributes: sampleAttributes(stack, 'G-1', { name: 'Night Cream G-1 refill' }) }]);
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'changed', dryRun: true, trigger: 'manual' });
    const result = await refreshResult(stack.client, workflowId);
    // `changed` also picks the four that never settled: their hero and lifestyle are current, so they cost nothing.
    expect(result).toMatchObject({ planned: 5, generated: 1, failed: 4, estimatedImages: 3, failureCount: 4 });
    expectListed(result);
  });
});
