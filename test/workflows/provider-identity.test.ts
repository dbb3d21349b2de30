/**
 * Which provider made an asset is part of its fingerprint and recorded in its ledger row: an image the
 * simulator drew never counts as current once the real API is configured.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAssetVersions } from '../../src/db/repositories/assets';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = `identity-${process.pid}`;

describe('provider identity', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
    await stack.addProducts(CATALOG, [{ sku: 'ID-1', attributes: sampleAttributes(stack, 'ID-1') }]);
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  async function heroOutcome(): Promise<string | undefined> {
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku: 'ID-1', slots: ['hero'], trigger: 'manual' });
    try {
      const result = (await stack.client.workflow.getHandle(workflowId).result()) as { slots: Array<{ slot: string; outcome: string }> };
      return result.slots.find((s) => s.slot === 'hero')?.outcome;
    } catch (err) {
      if (err instanceof WorkflowFailedError) return `failed: ${err.cause?.message}`;
      throw err;
    }
  }

  it('regenerates a simulator-made asset once the real API is configured, and records who made each', { timeout: 60_000 }, async () => {
    expect(await heroOutcome()).toBe('generated');
    expect(await heroOutcome()).toBe('skipped');
    const simulatorIdentity = stack.deps.providerIdentity;
    expect(simulatorIdentity).toMatch(/^simulator http:\/\/127\.0\.0\.1:\d+ seedream-4\.5$/);

    // The same worker, now configured for the real API (still answered by the simulator here).
    stack.deps.providerIdentity = 'real https://api.imarouter.invalid seedream-4.5';
    try {
      expect(await heroOutcome()).toBe('generated');
      expect(await heroOutcome()).toBe('skipped');
    } finally {
      stack.deps.providerIdentity = simulatorIdentity;
    }
    const versions = await listAssetVersions(stack.database.db, CATALOG, 'ID-1', 'hero');
    expect(versions.map((v) => v.version).sort()).toEqual([1, 2]);
    const made = await stack.database.db
      .selectFrom('generation_jobs')
      .select(['provider', 'status'])
      .where('catalog_id', '=', CATALOG)
      .orderBy('id')
      .execute();
    expect(made).toEqual([
      { provider: simulatorIdentity, status: 'completed' },
      { provider: 'real https://api.imarouter.invalid seedream-4.5', status: 'completed' },
    ]);
  });
});
