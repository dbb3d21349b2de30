import { WorkflowFailedError } from '@temporalio/client';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSlotAttempts, listAssetVersions, listCurrentAssets, rollbackSlot } from '../../src/db/repositories/assets';
import { DEFAULT_VARIANTS } from '../../src/imaging';
import { DEFAULT_PLAN } from '../../src/shared/plan';
import { productWorkflowId } from '../../src/shared/ids';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = 'acme';

async function runPlan(stack: TestStack, sku: string, extra: { force?: boolean } = {}): Promise<ProductWorkflowResult> {
  const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual', ...extra });
  return stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
}

async function expectPlanFailure(stack: TestStack, sku: string): Promise<WorkflowFailedError> {
  const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
  const err = await stack.client.workflow.getHandle(workflowId).result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

describe('the product asset plan, end to end', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ variants: [...DEFAULT_VARIANTS] });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('generates hero, label and lifestyle with 12 variants each (plus their channel files), and records them', async () => {
    await stack.addProducts(CATALOG, [{ sku: 'NC-001', attributes: sampleAttributes(stack, 'NC-001') }]);
    const result = await runPlan(stack, 'NC-001');
    expect(result.slots.map((s) => [s.slot, s.outcome])).toEqual([
      ['hero', 'generated'],
      ['label', 'generated'],
      ['lifestyle', 'generated'],
    ]);
    expect(result.submissions).toBe(3);
    expect(result.imagesBilled).toBe(3);

    const current = await listCurrentAssets(stack.database.db, CATALOG, 'NC-001');
    expect(current.map((a) => a.slot)).toEqual(['hero', 'label', 'lifestyle']);
    for (const asset of current) {
      expect(asset.status).toBe('current');
      expect(asset.version).toBe(1);
      expect(asset.placeholder.length).toBeGreaterThan(10);
      expect(asset.dominant_color).toMatch(/^#[0-9a-f]{6}$/);
      // The 12 storefront variants plus one file per channel profile of the slot (named after it).
      const channels = DEFAULT_PLAN.slots.find((s) => s.name === asset.slot)!.channels!;
      expect(asset.variants.filter((v) => !channels.includes(v.name))).toHaveLength(12);
      expect(asset.variants.filter((v) => channels.includes(v.name)).map((v) => v.name).sort()).toEqual([...channels].sort());
      for (const v of asset.variants) {
        const bytes = await stack.storage.get(v.storage_key);
        const meta = await sharp(bytes).metadata();
        expect(meta.format === 'heif' ? 'avif' : meta.format).toBe(v.format);
        expect([meta.width, meta.height]).toEqual([v.width, v.height]);
        expect(bytes.length).toBe(v.bytes);
        // Never enlarged: the small test outputs stay at their own size.
        expect(Math.max(v.width, v.height)).toBeLessThanOrEqual(Math.max(asset.width, asset.height));
      }
    }
    const ledger = stack.simulator.ledger();
    expect(ledger.jobs).toBe(3);
    expect(ledger.duplicateSubmissions).toBe(0);
  });

  it('submits zero jobs when the SKU runs again with unchanged data', async () => {
    const before = stack.simulator.ledger();
    const result = await runPlan(stack, 'NC-001');
    expect(result.outcome).toBe('unchanged');
    expect(result.slots.every((s) => s.outcome === 'skipped')).toBe(true);
    expect(stack.simulator.ledger().submissions).toBe(before.submissions);
    expect(stack.simulator.ledger().jobs).toBe(before.jobs);
  });

  it('regenerates only the label when only the label text changes, keeping the old version', async () => {
    const before = stack.simulator.ledger();
    await stack.addProducts(CATALOG, [{ sku: 'NC-001', attributes: sampleAttributes(stack, 'NC-001', { labelText: 'Night Cream 75 ml' }) }]);
    const result = await runPlan(stack, 'NC-001');
    expect(result.slots.map((s) => [s.slot, s.outcome])).toEqual([
      ['hero', 'skipped'],
      ['label', 'generated'],
      ['lifestyle', 'skipped'],
    ]);
    expect(stack.simulator.ledger().jobs - before.jobs).toBe(1);
    const versions = await listAssetVersions(stack.database.db, CATALOG, 'NC-001', 'label');
    expect(versions.map((v) => [v.version, v.status])).toEqual([
      [2, 'current'],
      [1, 'superseded'],
    ]);
    expect(versions[0]!.prompt).toContain('Night Cream 75 ml');

    // An operator rolls the label back: the mapping points at v1 again, v2 is kept.
    expect(await rollbackSlot(stack.database.db, CATALOG, 'NC-001', 'label')).toEqual({ from: 2, to: 1 });
    const label = (await listCurrentAssets(stack.database.db, CATALOG, 'NC-001')).find((a) => a.slot === 'label');
    expect(label?.version).toBe(1);
    await expect(rollbackSlot(stack.database.db, CATALOG, 'NC-001', 'label')).rejects.toThrow(/no label version older than v1/);
  });

  it('fails a slot with missing attributes as invalid product data, without calling the provider for it', async () => {
    const before = stack.simulator.ledger();
    const attrs = sampleAttributes(stack, 'BAD-1');
    delete attrs.labelText;
    await stack.addProducts(CATALOG, [{ sku: 'BAD-1', attributes: attrs }]);
    const err = await expectPlanFailure(stack, 'BAD-1');
    expect(err.cause?.message).toMatch(/label: InvalidProductData: .*"labelText"/);
    // hero and lifestyle still generated and recorded; the label was never sent.
    expect(stack.simulator.ledger().jobs - before.jobs).toBe(2);
    const attempts = await getSlotAttempts(stack.database.db, CATALOG, 'BAD-1');
    const label = attempts.find((a) => a.slot === 'label');
    expect(label).toMatchObject({ outcome: 'failed', error_type: 'InvalidProductData' });
    expect(label?.error_message).toContain('labelText');
    expect((await listCurrentAssets(stack.database.db, CATALOG, 'BAD-1')).map((a) => a.slot)).toEqual(['hero', 'lifestyle']);
  });

  it('fails the label slot when the packshot is missing or not an image', async () => {
    await stack.addProducts(CATALOG, [
      { sku: 'BAD-2', attributes: sampleAttributes(stack, 'BAD-2', { packshotUrl: stack.packshotUrl('missing/packshot.jpg') }) },
      { sku: 'BAD-3', attributes: sampleAttributes(stack, 'BAD-3', { packshotUrl: stack.packshotUrl('not-an-image.jpg') }) },
    ]);
    const e2 = await expectPlanFailure(stack, 'BAD-2');
    expect(e2.cause?.message).toMatch(/label: InvalidProductData: .*HTTP 404/);
    const e3 = await expectPlanFailure(stack, 'BAD-3');
    expect(e3.cause?.message).toMatch(/label: InvalidProductData: .*not an image/);
  });

  it('records a content-rejected prompt as a failed slot and ends the run Failed', async () => {
    await stack.addProducts(CATALOG, [{ sku: 'REJ-1', attributes: sampleAttributes(stack, 'REJ-1', { labelText: 'blocked-content here' }) }]);
    const err = await expectPlanFailure(stack, 'REJ-1');
    expect(err.cause?.message).toMatch(/label: ContentRejected/);
    const handle = stack.client.workflow.getHandle(productWorkflowId(CATALOG, 'REJ-1'));
    expect((await handle.describe()).status.name).toBe('FAILED');
    const attempts = await getSlotAttempts(stack.database.db, CATALOG, 'REJ-1');
    expect(attempts.find((a) => a.slot === 'label')).toMatchObject({ outcome: 'failed', error_type: 'ContentRejected' });
  });

  it('coalesces a second trigger into one re-run with the newest data, never two plans at once', async () => {
    await stack.addProducts(CATALOG, [{ sku: 'CO-1', attributes: sampleAttributes(stack, 'CO-1') }]);
    const first = await stack.trigger({ catalogId: CATALOG, sku: 'CO-1', trigger: 'webhook' });
    await stack.addProducts(CATALOG, [{ sku: 'CO-1', attributes: sampleAttributes(stack, 'CO-1', { labelText: 'Coalesced 30 ml' }) }]);
    const second = await stack.trigger({ catalogId: CATALOG, sku: 'CO-1', trigger: 'webhook' });
    expect(second.workflowId).toBe(first.workflowId);
    expect(second.runId).toBe(first.runId);
    const result = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(first.workflowId).result();
    // The final run read the newest label text.
    const label = (await listCurrentAssets(stack.database.db, CATALOG, 'CO-1')).find((a) => a.slot === 'label');
    const versions = await listAssetVersions(stack.database.db, CATALOG, 'CO-1', 'label');
    expect(versions[0]!.prompt).toContain('Coalesced 30 ml');
    expect(label?.id).toBe(versions[0]!.id);
    expect(result.slots.find((s) => s.slot === 'hero')?.outcome).toBeDefined();
    expect(stack.simulator.ledger().duplicateSubmissions).toBe(0);
  });
});
