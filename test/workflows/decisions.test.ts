/**
 * Operators' decisions hold against every later trigger, on the real dev server, over real HTTP: a
 * removed product's running plan buys nothing more, a rollback survives `stale`, `all` and a coalesced
 * webhook, and a declined review is not bought again. The simulator's ledger counts every job.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productFingerprint } from '../../src/catalog/fingerprint';
import { getCurrentAsset, getSlotPin, listAssetVersions, releaseSlot, rollbackSlot } from '../../src/db/repositories/assets';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { getProduct, isProductActive, upsertProducts } from '../../src/db/repositories/products';
import type { PlanInput } from '../../src/shared/plan';
import { sendReviewDecision } from '../../src/temporal/client/product';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { productStatusQuery, type ProductRunStatus, type ProductWorkflowResult } from '../../src/temporal/workflows';
import { postSigned, productEvent, SECRET, TOKEN } from '../http/helpers';
import { serveStack } from '../helpers/service';
import { startTestStack, type TestStack } from '../helpers/stack';

const TWO_SLOTS: PlanInput = {
  version: 1,
  slots: [
    { name: 'hero', kind: 'generate', promptTemplate: 'Studio photo of {{brand}} {{name}}.' },
    { name: 'label', kind: 'generate', promptTemplate: 'Label reading {{labelText}}.' },
  ],
};
const HERO_THEN_LIFESTYLE: PlanInput = {
  version: 1,
  slots: [
    { name: 'hero', kind: 'generate', promptTemplate: 'Studio photo of {{brand}} {{name}}.' },
    { name: 'lifestyle', kind: 'compose', promptTemplate: '{{name}} on a kitchen table.', references: [{ slot: 'hero' }] },
  ],
};
const HERO_ONLY: PlanInput = { version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Studio photo of {{brand}} {{name}}.' }] };

describe('decisions that must hold', { timeout: 180_000 }, () => {
  let stack: TestStack;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    // Jobs take a second or more, so a change can land while one runs.
    stack = await startTestStack({ simulator: { latencyMs: { min: 1_200, max: 1_500 } } });
    ({ app, url } = await serveStack(stack, {
      serviceToken: TOKEN,
      webhookSecret: SECRET,
      sendReview: (catalogId, sku, decision) => sendReviewDecision(stack.client, catalogId, sku, decision),
    }));
  });
  afterAll(async () => {
    await app?.close();
    await stack?.close();
  });

  const db = () => stack.database.db;
  const jobs = () => stack.simulator.ledger().jobs;

  async function setProduct(catalogId: string, sku: string, attributes: Record<string, unknown>) {
    const name = String(attributes.name);
    await upsertProducts(db(), [{ catalogId, sku, name, attributes, attributesFingerprint: productFingerprint({ name, attributes }), source: 'test' }]);
  }

  async function run(catalogId: string, sku: string): Promise<ProductWorkflowResult> {
    const { workflowId } = await stack.trigger({ catalogId, sku, trigger: 'manual' });
    return stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const v = await probe();
      if (v !== undefined) return v;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  async function refresh(catalogId: string, selection: 'stale' | 'all') {
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId, selection, dryRun: false, trigger: 'manual' });
    return refreshResult(stack.client, workflowId);
  }

  async function webhook(catalogId: string, events: Array<Record<string, unknown>>) {
    const res = await postSigned(`${url}/webhooks/pim/${catalogId}`, { events });
    expect(res.status).toBe(202);
    return res.json as { removed: number; workflows: Array<{ sku: string; workflowId: string }> };
  }

  async function review(catalogId: string, sku: string, body: Record<string, unknown>, token = TOKEN) {
    const res = await fetch(`${url}/catalogs/${catalogId}/skus/${encodeURIComponent(sku)}/review`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  async function awaitingReview(workflowId: string, minVersion = 1): Promise<ProductRunStatus> {
    const handle = stack.client.workflow.getHandle(workflowId);
    return until('the hero slot to wait for review', async () => {
      const s = await handle.query(productStatusQuery).catch(() => undefined);
      return s?.slots.hero?.phase === 'awaiting_review' && (s.slots.hero.pendingVersion ?? 0) >= minVersion ? s : undefined;
    });
  }

  it('a product removed by a webhook while its plan runs buys nothing more, and none of its assets becomes current', async () => {
    await upsertCatalog(db(), { id: 'gone', plan: HERO_THEN_LIFESTYLE });
    await setProduct('gone', 'G-1', { name: 'Kettle G-1', brand: 'Vapor' });
    const before = jobs();
    const { workflowId } = await stack.trigger({ catalogId: 'gone', sku: 'G-1', trigger: 'manual' });
    // The hero job is at the provider: the removal lands while it runs, before lifestyle is bought.
    await until('the hero job to be submitted', async () => (jobs() - before >= 1 ? true : undefined));
    const removed = await webhook('gone', [productEvent('product.removed', 'G-1')]);
    expect(removed.removed).toBe(1);
    expect(removed.workflows).toEqual([]);
    expect(await isProductActive(db(), 'gone', 'G-1')).toBe(false);

    const outcome = await stack.client.workflow.getHandle(workflowId).result().then(
      () => 'completed',
      (err: Error) => String((err.cause as Error | undefined)?.message ?? err.message),
    );
    expect(outcome).toContain('ProductRemoved');
    expect(jobs() - before).toBe(1);
    const ledger = await db().selectFrom('generation_jobs').select(['slot']).where('catalog_id', '=', 'gone').execute();
    expect(ledger.map((j) => j.slot)).toEqual(['hero']);
    // The paid hero is kept, retired; the SKU has no current asset.
    expect((await listAssetVersions(db(), 'gone', 'G-1')).map((a) => [a.slot, a.status])).toEqual([['hero', 'retired']]);
    expect(await getCurrentAsset(db(), 'gone', 'G-1', 'hero')).toBeUndefined();
    await expect(rollbackSlot(db(), 'gone', 'G-1', 'hero')).rejects.toThrow(/removed/);
  });

  it('a rolled-back slot stays on the chosen version through stale, all and a coalesced webhook, until its inputs change or it is released', async () => {
    await upsertCatalog(db(), { id: 'pinned', plan: TWO_SLOTS });
    const attrs = { name: 'Lamp P-1', brand: 'Aurum', labelText: 'Warm white', colour: 'red' };
    await setProduct('pinned', 'P-1', attrs);
    await run('pinned', 'P-1');
    await setProduct('pinned', 'P-1', { ...attrs, brand: 'Borealis' });
    const second = await run('pinned', 'P-1');
    expect(second.slots.map((s) => [s.slot, s.outcome])).toEqual([['hero', 'generated'], ['label', 'skipped']]);

    expect(await rollbackSlot(db(), 'pinned', 'P-1', 'hero', { actor: 'alice' })).toEqual({ from: 2, to: 1 });
    const heroVersion = async () => (await getCurrentAsset(db(), 'pinned', 'P-1', 'hero'))?.version;
    const start = jobs();

    // Data the hero does not read changes: `stale` and `all` visit the SKU and leave the hero alone.
    await setProduct('pinned', 'P-1', { ...attrs, brand: 'Borealis', colour: 'blue' });
    const stale = await refresh('pinned', 'stale');
    expect(stale).toMatchObject({ planned: 1, submissions: 0, failed: 0 });
    const all = await refresh('pinned', 'all');
    expect(all).toMatchObject({ planned: 1, submissions: 0, failed: 0 });
    expect(jobs() - start).toBe(0);
    expect(await heroVersion()).toBe(1);

    // A webhook changes the label; while its job runs a second webhook is coalesced into a re-run.
    const first = await webhook('pinned', [productEvent('product.updated', 'P-1', { values: { ...attrs, brand: 'Borealis', colour: 'blue', labelText: 'Cool white' } })]);
    const workflowId = first.workflows[0]!.workflowId;
    const firstRunId = (await stack.client.workflow.getHandle(workflowId).describe()).runId;
    await until('the label job to be submitted', async () => (jobs() - start >= 1 ? true : undefined));
    await webhook('pinned', [productEvent('product.updated', 'P-1', { values: { ...attrs, brand: 'Borealis', colour: 'green', labelText: 'Cool white' } })]);
    const handle = stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId);
    const last = await handle.result();
    expect((await handle.describe()).runId).not.toBe(firstRunId);
    expect(last.slots.map((s) => [s.slot, s.outcome])).toEqual([['hero', 'skipped'], ['label', 'skipped']]);
    expect(jobs() - start).toBe(1); // the label, once
    expect(await heroVersion()).toBe(1);

    // The hero's own inputs change: the pin lets go, a new version becomes current.
    await setProduct('pinned', 'P-1', { ...attrs, brand: 'Cygnus', colour: 'green', labelText: 'Cool white' });
    await run('pinned', 'P-1');
    expect(jobs() - start).toBe(2);
    expect(await heroVersion()).toBe(3);
    expect(await getSlotPin(db(), 'pinned', 'P-1', 'hero')).toBeUndefined();

    // Rolled back again, then released: the next trigger decides by fingerprint as usual.
    await rollbackSlot(db(), 'pinned', 'P-1', 'hero');
    await run('pinned', 'P-1');
    expect(await heroVersion()).toBe(2);
    expect(jobs() - start).toBe(2);
    expect(await releaseSlot(db(), 'pinned', 'P-1', 'hero')).toEqual({ pin: true, declined: 0 });
    await run('pinned', 'P-1');
    expect(jobs() - start).toBe(3);
    expect(await heroVersion()).toBe(4);
  });

  it('a declined review is not bought again by later triggers; changed data or a note regenerates', async () => {
    await upsertCatalog(db(), { id: 'picky', plan: HERO_ONLY, settings: { review: { required: true, timeoutSeconds: 4, onTimeout: 'keep', maxRejections: 1 } } });
    const attrs = (sku: string, brand = 'Aurum') => ({ name: `Ring ${sku}`, brand });

    // Rejected without a note, through the HTTP service.
    await setProduct('picky', 'D-1', attrs('D-1'));
    const start = jobs();
    const { workflowId } = await stack.trigger({ catalogId: 'picky', sku: 'D-1', trigger: 'manual' });
    await awaitingReview(workflowId);
    expect((await review('picky', 'D-1', { slot: 'hero', decision: 'reject' }, 'wrong-token')).status).toBe(401);
    expect((await review('picky', 'D-1', { slot: 'label', decision: 'approve' })).status).toBe(409);
    const rejected = await review('picky', 'D-1', { slot: 'hero', decision: 'reject', by: 'carol' });
    expect(rejected).toMatchObject({ status: 202, json: { workflowId, decision: 'reject' } });
    const kept = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
    expect(kept.slots[0]).toMatchObject({ outcome: 'kept' });
    expect(jobs() - start).toBe(1);
    expect((await review('picky', 'D-1', { slot: 'hero', decision: 'approve' })).status).toBe(409);

    // Nobody decides in time (`keep`).
    await setProduct('picky', 'D-2', attrs('D-2'));
    const timedOut = await run('picky', 'D-2');
    expect(timedOut.slots[0]).toMatchObject({ outcome: 'kept', reason: 'no review decision in time' });
    expect(jobs() - start).toBe(2);

    // Later triggers for the same inputs: `all`, `stale`, a webhook with data the hero does not read.
    const all = await refresh('picky', 'all');
    expect(all).toMatchObject({ planned: 2, submissions: 0 });
    await refresh('picky', 'stale');
    const hook = await webhook('picky', [productEvent('product.updated', 'D-1', { values: { ...attrs('D-1'), finish: 'matte' } })]);
    const again = await stack.client.workflow.getHandle(hook.workflows[0]!.workflowId).result().then(
      () => 'completed',
      (err: Error) => String((err.cause as Error | undefined)?.message ?? err.message),
    );
    expect(again).toMatch(/declined/);
    expect(jobs() - start).toBe(2);
    expect(await getCurrentAsset(db(), 'picky', 'D-1', 'hero')).toBeUndefined();

    // Changed data regenerates (and waits for review again); approval publishes it.
    await setProduct('picky', 'D-1', { ...attrs('D-1', 'Borealis'), finish: 'matte' });
    const changed = await stack.trigger({ catalogId: 'picky', sku: 'D-1', trigger: 'manual' });
    await awaitingReview(changed.workflowId, 2);
    expect(jobs() - start).toBe(3);
    expect((await review('picky', 'D-1', { slot: 'hero', decision: 'approve', by: 'carol' })).status).toBe(202);
    await stack.client.workflow.getHandle(changed.workflowId).result();
    expect((await getCurrentAsset(db(), 'picky', 'D-1', 'hero'))?.version).toBe(2);

    // With a current version: a declined regeneration keeps it, and a later trigger skips.
    await setProduct('picky', 'D-1', { ...attrs('D-1', 'Cygnus'), finish: 'matte' });
    const third = await stack.trigger({ catalogId: 'picky', sku: 'D-1', trigger: 'manual' });
    await awaitingReview(third.workflowId, 3);
    // A note is a new request: it regenerates; the next rejection is past maxRejections and declines.
    expect((await review('picky', 'D-1', { slot: 'hero', decision: 'reject', note: 'on dark slate' })).status).toBe(202);
    await awaitingReview(third.workflowId, 4);
    expect(jobs() - start).toBe(5);
    expect((await review('picky', 'D-1', { slot: 'hero', decision: 'reject', note: 'warmer light' })).status).toBe(202);
    const declined = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(third.workflowId).result();
    expect(declined.slots[0]).toMatchObject({ outcome: 'kept' });
    const later = await run('picky', 'D-1');
    expect(later.slots[0]).toMatchObject({ outcome: 'skipped' });
    expect(jobs() - start).toBe(5);
    expect((await getCurrentAsset(db(), 'picky', 'D-1', 'hero'))?.version).toBe(2);
    expect((await getProduct(db(), 'picky', 'D-1'))?.status).toBe('active');
  });
});
