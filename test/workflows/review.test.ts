import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAssetVersions, listCurrentAssets, listReviewDecisions } from '../../src/db/repositories/assets';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { productStatusQuery, reviewSignal, type ProductRunStatus, type ProductWorkflowResult } from '../../src/temporal/workflows';
import { startTestStack, type TestStack } from '../helpers/stack';

const PLAN = { version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Photo of {{brand}} {{name}}.' }] };

async function addProduct(stack: TestStack, catalogId: string, sku: string) {
  const attributes = { name: `Ring ${sku}`, brand: 'Aurum' };
  await upsertProducts(stack.database.db, [{ catalogId, sku, name: attributes.name, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'test' }]);
}

async function waitForReview(stack: TestStack, workflowId: string, minVersion = 1): Promise<ProductRunStatus> {
  const handle = stack.client.workflow.getHandle(workflowId);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const s = await handle.query(productStatusQuery).catch(() => undefined);
    if (s?.slots.hero?.phase === 'awaiting_review' && (s.slots.hero.pendingVersion ?? 0) >= minVersion) return s;
    await sleep(100);
  }
  throw new Error('the hero slot never reached awaiting_review');
}

describe('review before publish', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
    await upsertCatalog(stack.database.db, { id: 'strict', plan: PLAN, settings: { review: { required: true, timeoutSeconds: 3, onTimeout: 'keep', maxRejections: 1 } } });
    await upsertCatalog(stack.database.db, { id: 'lenient', plan: PLAN, settings: { review: { required: true, timeoutSeconds: 2, onTimeout: 'approve' } } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('stores the new asset for review and moves the mapping only on approval', async () => {
    await addProduct(stack, 'strict', 'R-1');
    const { workflowId } = await stack.trigger({ catalogId: 'strict', sku: 'R-1', trigger: 'manual' });
    const s = await waitForReview(stack, workflowId);
    const pending = await listAssetVersions(stack.database.db, 'strict', 'R-1', 'hero');
    expect(pending.map((a) => a.status)).toEqual(['pending_review']);
    expect(s.slots.hero?.pendingAssetId).toBe(pending[0]!.id);
    expect(await listCurrentAssets(stack.database.db, 'strict', 'R-1')).toEqual([]);

    await stack.client.workflow.getHandle(workflowId).signal(reviewSignal, { slot: 'hero', decision: 'approve', by: 'alice@example.com' });
    const result = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
    expect(result.slots[0]).toMatchObject({ slot: 'hero', outcome: 'generated', version: 1 });
    expect((await listCurrentAssets(stack.database.db, 'strict', 'R-1')).map((a) => [a.slot, a.version, a.status])).toEqual([['hero', 1, 'current']]);
    const decisions = await listReviewDecisions(stack.database.db, 'strict', 'R-1');
    expect(decisions.map((d) => [d.decision, d.actor])).toEqual([['approve', 'alice@example.com']]);
    expect(decisions[0]!.decided_at).toBeInstanceOf(Date);
  });

  it('regenerates a rejected slot with the reviewer\'s note in the prompt', async () => {
    await addProduct(stack, 'strict', 'R-2');
    const jobsBefore = stack.simulator.ledger().jobs;
    const { workflowId } = await stack.trigger({ catalogId: 'strict', sku: 'R-2', trigger: 'manual' });
    await waitForReview(stack, workflowId);
    const handle = stack.client.workflow.getHandle(workflowId);
    await handle.signal(reviewSignal, { slot: 'hero', decision: 'reject', note: 'show the ring on a darker background', by: 'bob' });
    await waitForReview(stack, workflowId, 2);
    await handle.signal(reviewSignal, { slot: 'hero', decision: 'approve', by: 'bob' });
    await handle.result();
    expect(stack.simulator.ledger().jobs - jobsBefore).toBe(2);
    const versions = await listAssetVersions(stack.database.db, 'strict', 'R-2', 'hero');
    expect(versions.map((v) => [v.version, v.status])).toEqual([
      [2, 'current'],
      [1, 'rejected'],
    ]);
    expect(versions[0]!.prompt).toContain('show the ring on a darker background');
    expect(versions[1]!.prompt).not.toContain('darker background');
    const decisions = await listReviewDecisions(stack.database.db, 'strict', 'R-2');
    expect(decisions.map((d) => [d.decision, d.note, d.actor])).toEqual([
      ['reject', 'show the ring on a darker background', 'bob'],
      ['approve', null, 'bob'],
    ]);
  });

  it('applies the catalog default when nobody decides in time: keep the previous version', async () => {
    await addProduct(stack, 'strict', 'R-3');
    const { workflowId } = await stack.trigger({ catalogId: 'strict', sku: 'R-3', trigger: 'manual' });
    const result = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
    expect(result.slots[0]).toMatchObject({ slot: 'hero', outcome: 'kept', reason: 'no review decision in time' });
    expect(await listCurrentAssets(stack.database.db, 'strict', 'R-3')).toEqual([]);
    expect((await listAssetVersions(stack.database.db, 'strict', 'R-3', 'hero')).map((v) => v.status)).toEqual(['rejected']);
    expect((await listReviewDecisions(stack.database.db, 'strict', 'R-3')).map((d) => [d.decision, d.actor])).toEqual([['timeout-keep', 'timeout']]);
  });

  it('applies the catalog default when nobody decides in time: approve', async () => {
    await addProduct(stack, 'lenient', 'L-1');
    const { workflowId } = await stack.trigger({ catalogId: 'lenient', sku: 'L-1', trigger: 'manual' });
    const result = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
    expect(result.slots[0]).toMatchObject({ slot: 'hero', outcome: 'generated' });
    expect((await listCurrentAssets(stack.database.db, 'lenient', 'L-1')).map((a) => a.status)).toEqual(['current']);
    expect((await listReviewDecisions(stack.database.db, 'lenient', 'L-1')).map((d) => d.decision)).toEqual(['timeout-approve']);
  });
});
