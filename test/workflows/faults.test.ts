/**
 * Faults from the provider end in a completed slot or a failed slot whose reason is recorded; no
 * workflow is left running and nothing is paid twice. Each fault class is injected deterministically
 * with the simulator's one-shot script; the last test mixes them at random over ten SKUs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getSlotAttempts, listAssetVersions, listCurrentAssets } from '../../src/db/repositories/assets';
import type { ScriptEntryInput } from '../../src/provider/simulator';
import { productWorkflowId } from '../../src/shared/ids';
import type { ProductWorkflowInput, SlotOutcome } from '../../src/shared/steps';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = `faults-${process.pid}`;
const SLOTS = ['hero', 'label', 'lifestyle'];

interface Settled {
  workflowId: string;
  /** The plan's result; for a Failed run, the result carried in the failure's details. */
  result: ProductWorkflowResult;
  error?: WorkflowFailedError;
  ms: number;
}

describe('provider faults end in a recorded outcome', () => {
  let stack: TestStack;
  let started: string[] = [];

  beforeAll(async () => {
    stack = await startTestStack();
  });
  beforeEach(() => {
    started = [];
    stack.simulator.reset();
    stack.simulator.setFaults({});
  });
  afterEach(async () => {
    stack.simulator.setFaults({});
    // No workflow of this test is left running, whatever the assertions above said.
    for (const id of started) {
      const { status } = await stack.client.workflow.getHandle(id).describe();
      expect([id, status.name]).not.toEqual([id, 'RUNNING']);
    }
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function addSku(sku: string, overrides: Record<string, unknown> = {}): Promise<void> {
    await stack.addProducts(CATALOG, [{ sku, attributes: sampleAttributes(stack, sku, overrides) }]);
  }

  /** Triggers the plan and waits for its end, Completed or Failed. */
  async function run(sku: string, extra: Partial<ProductWorkflowInput> = {}): Promise<Settled> {
    const t0 = Date.now();
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual', ...extra });
    if (!started.includes(workflowId)) started.push(workflowId);
    try {
      const result = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
      return { workflowId, result, ms: Date.now() - t0 };
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      const cause = err.cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('ProductPlanFailed');
      const result = (cause as ApplicationFailure).details?.[0] as ProductWorkflowResult;
      return { workflowId, result, error: err, ms: Date.now() - t0 };
    }
  }

  const outcomes = (r: ProductWorkflowResult) => r.slots.map((s) => [s.slot, s.outcome]);
  const failedOf = (r: ProductWorkflowResult, slot: string) =>
    r.slots.find((s): s is Extract<SlotOutcome, { outcome: 'failed' }> => s.slot === slot && s.outcome === 'failed');

  async function ledgerRows(sku: string) {
    return stack.database.db
      .selectFrom('generation_jobs')
      .select(['slot', 'status', 'error_code', 'error_message', 'provider_job_id', 'submit_attempts', 'images_billed'])
      .where('catalog_id', '=', CATALOG)
      .where('sku', '=', sku)
      .orderBy('slot')
      .orderBy('created_at')
      .execute();
  }

  async function expectAllGeneratedOnce(sku: string, settled: Settled): Promise<void> {
    expect(settled.error).toBeUndefined();
    expect(outcomes(settled.result)).toEqual(SLOTS.map((s) => [s, 'generated']));
    const ledger = stack.simulator.ledger();
    expect(ledger.duplicateSubmissions).toBe(0);
    expect(ledger.jobs).toBe(3);
    expect(ledger.billedImages).toBe(3);
    expect((await ledgerRows(sku)).map((r) => [r.slot, r.status])).toEqual(SLOTS.map((s) => [s, 'completed']));
    expect((await listCurrentAssets(stack.database.db, CATALOG, sku)).map((a) => a.slot)).toEqual(SLOTS);
  }

  /**
   * The activities that needed more than one attempt, with the attempt that ended them, from the
   * workflow's history (which records the started event of an activity's last attempt only).
   */
  async function retriedActivities(workflowId: string): Promise<Array<[string, number]>> {
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = new Map<string, string>();
    const retried: Array<[string, number]> = [];
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
      const st = e.activityTaskStartedEventAttributes;
      if (st && (st.attempt ?? 1) > 1) retried.push([scheduled.get(String(st.scheduledEventId)) ?? '?', st.attempt!]);
    }
    return retried;
  }

  async function storedFiles(): Promise<string[]> {
    const entries = await fs.readdir(stack.storageDir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
  }

  it('rides out a burst of 429s on submit and poll, honouring Retry-After', { timeout: 30_000 }, async () => {
    await addSku('F-429');
    const script: ScriptEntryInput[] = [
      { kind: 'rateLimit', on: 'submit', retryAfterSeconds: 3 },
      { kind: 'rateLimit', on: 'submit', retryAfterSeconds: 1 },
      { kind: 'rateLimit', on: 'submit', retryAfterSeconds: 1, asHttpDate: true },
      { kind: 'rateLimit', on: 'submit', retryAfterSeconds: 1 },
      { kind: 'rateLimit', on: 'poll', retryAfterSeconds: 1 },
      { kind: 'rateLimit', on: 'poll', retryAfterSeconds: 1 },
    ];
    stack.simulator.setFaults({ script });
    const settled = await run('F-429');
    expect(stack.simulator.faults().script).toEqual([]);
    await expectAllGeneratedOnce('F-429', settled);
    expect(stack.simulator.ledger().rejectedSubmissions).toBe(4);
    const rows = await ledgerRows('F-429');
    expect(rows.reduce((n, r) => n + r.submit_attempts, 0)).toBe(3 + 4);
    // The first refused submit was told to wait 3 s: retrying at the policy's 2 s would be sooner.
    expect(settled.ms).toBeGreaterThanOrEqual(3_000);
  });

  it('rides out 5xx answers on submit, poll and download', { timeout: 30_000 }, async () => {
    await addSku('F-5XX');
    stack.simulator.setFaults({
      script: [
        { kind: 'serverError', on: 'submit', status: 500 },
        { kind: 'serverError', on: 'submit', status: 503 },
        { kind: 'serverError', on: 'poll', status: 502 },
        { kind: 'serverError', on: 'poll', status: 500 },
        { kind: 'serverError', on: 'download', status: 503 },
      ],
    });
    const settled = await run('F-5XX');
    expect(stack.simulator.faults().script).toEqual([]);
    await expectAllGeneratedOnce('F-5XX', settled);
    const retried = (await retriedActivities(settled.workflowId)).map(([name]) => name);
    // A failed submit or download is retried by Temporal (generateJob is submit, await and keep);
    // polls are retried inside the activity, so the poll errors add no attempt. The download is
    // the paid step's too: rendering variants never touches the provider.
    const generateRetries = retried.filter((a) => a === 'generateJob').length;
    expect(generateRetries).toBeGreaterThanOrEqual(1);
    expect(generateRetries).toBeLessThanOrEqual(3);
    expect(retried.filter((a) => a === 'materializeOutputs')).toHaveLength(0);
  });

  it('records a failed job (content rejected) on its slot; its dependant fails with the reason', { timeout: 30_000 }, async () => {
    await addSku('F-REJ-1');
    // Only hero and lifestyle: lifestyle waits for hero, so hero's is the first (and only) job.
    stack.simulator.setFaults({ script: [{ kind: 'failJob', code: 'content_rejected' }] });
    const settled = await run('F-REJ-1', { slots: ['hero', 'lifestyle'] });
    expect(outcomes(settled.result)).toEqual([
      ['hero', 'failed'],
      ['lifestyle', 'failed'],
    ]);
    expect(failedOf(settled.result, 'hero')?.errorType).toBe('ContentRejected');
    expect(failedOf(settled.result, 'lifestyle')?.errorType).toBe('DependencyFailed');
    expect(settled.error?.cause?.message).toMatch(/^2 of 2 slots failed for SKU F-REJ-1: hero: ContentRejected: .*content_rejected.*; lifestyle: DependencyFailed: /);
    expect((await stack.client.workflow.getHandle(settled.workflowId).describe()).status.name).toBe('FAILED');

    const attempts = await getSlotAttempts(stack.database.db, CATALOG, 'F-REJ-1');
    expect(attempts.map((a) => [a.slot, a.outcome, a.error_type])).toEqual([
      ['hero', 'failed', 'ContentRejected'],
      ['lifestyle', 'failed', 'DependencyFailed'],
    ]);
    expect(attempts[0]!.error_message).toMatch(/content_rejected/);
    const rows = await ledgerRows('F-REJ-1');
    // Failed at the provider with nothing billed: `failed`, with the provider's own code.
    expect(rows.map((r) => [r.slot, r.status, r.error_code, r.images_billed])).toEqual([['hero', 'failed', 'content_rejected', 0]]);
    expect(rows[0]!.error_message).toMatch(/content_rejected/);
    expect(await listAssetVersions(stack.database.db, CATALOG, 'F-REJ-1')).toEqual([]);
    const ledger = stack.simulator.ledger();
    expect([ledger.jobs, ledger.billedImages, ledger.duplicateSubmissions]).toEqual([1, 0, 0]);
  });

  it('keeps the current asset when a regeneration job fails; the other slots are unaffected', { timeout: 30_000 }, async () => {
    await addSku('F-REJ-2');
    const first = await run('F-REJ-2');
    expect(outcomes(first.result)).toEqual(SLOTS.map((s) => [s, 'generated']));
    const before = await listCurrentAssets(stack.database.db, CATALOG, 'F-REJ-2');

    // Only the label changes, so the label's is the only job; the provider fails it.
    await addSku('F-REJ-2', { labelText: 'Night Cream 30 ml' });
    stack.simulator.setFaults({ script: [{ kind: 'failJob', code: 'content_rejected' }] });
    const settled = await run('F-REJ-2');
    expect(outcomes(settled.result)).toEqual([
      ['hero', 'skipped'],
      ['label', 'failed'],
      ['lifestyle', 'skipped'],
    ]);
    expect(settled.error?.cause?.message).toMatch(/^1 of 3 slots failed for SKU F-REJ-2: label: ContentRejected: /);
    const label = (await getSlotAttempts(stack.database.db, CATALOG, 'F-REJ-2')).find((a) => a.slot === 'label');
    expect(label).toMatchObject({ outcome: 'failed', error_type: 'ContentRejected' });
    const rows = await ledgerRows('F-REJ-2');
    expect(rows.filter((r) => r.slot === 'label').map((r) => [r.status, r.error_code])).toEqual([
      ['completed', null],
      ['failed', 'content_rejected'],
    ]);
    // Nothing half-written: no v2 of the label, and the storefront still points at v1.
    expect((await listAssetVersions(stack.database.db, CATALOG, 'F-REJ-2', 'label')).map((v) => v.version)).toEqual([1]);
    expect(await listCurrentAssets(stack.database.db, CATALOG, 'F-REJ-2')).toEqual(before);
    expect(stack.simulator.ledger().duplicateSubmissions).toBe(0);
  });

  it('retries a corrupt download without submitting again', { timeout: 30_000 }, async () => {
    await addSku('F-CORRUPT-1');
    stack.simulator.setFaults({ script: [{ kind: 'corruptImage' }] });
    const settled = await run('F-CORRUPT-1');
    expect(stack.simulator.faults().script).toEqual([]);
    await expectAllGeneratedOnce('F-CORRUPT-1', settled);
    // Downloaded again inside the paid step: no activity attempt, no second job.
    expect(await retriedActivities(settled.workflowId)).toEqual([]);
  });

  it('fails the slot as InvalidImage when every download is corrupt, writing nothing', { timeout: 30_000 }, async () => {
    await addSku('F-CORRUPT-2');
    const filesBefore = await storedFiles();
    stack.simulator.setFaults({ corruptImage: 1 });
    const settled = await run('F-CORRUPT-2', { slots: ['hero'] });
    expect(outcomes(settled.result)).toEqual([['hero', 'failed']]);
    expect(failedOf(settled.result, 'hero')).toMatchObject({ errorType: 'InvalidImage', jobId: expect.any(String) });
    expect(failedOf(settled.result, 'hero')?.message).toMatch(/not a valid image/);
    // Three downloads inside the paid step, one job: a corrupt output is not resubmitted.
    expect(failedOf(settled.result, 'hero')?.message).toMatch(/after 3 downloads/);
    expect(await retriedActivities(settled.workflowId)).toEqual([]);
    expect(stack.simulator.ledger().jobs).toBe(1);

    const attempts = await getSlotAttempts(stack.database.db, CATALOG, 'F-CORRUPT-2');
    expect(attempts.map((a) => [a.slot, a.outcome, a.error_type])).toEqual([['hero', 'failed', 'InvalidImage']]);
    // The job was paid (the provider delivered): billed but unusable, and the ledger says why.
    expect((await ledgerRows('F-CORRUPT-2')).map((r) => [r.slot, r.status, r.error_code, r.images_billed])).toEqual([['hero', 'unusable', 'invalid_image', 1]]);
    expect(await listAssetVersions(stack.database.db, CATALOG, 'F-CORRUPT-2')).toEqual([]);
    expect(await storedFiles()).toEqual(filesBefore);
  });

  it('fails the slot as ProviderOutputExpired when its output URL has expired; the next run regenerates it', { timeout: 30_000 }, async () => {
    await addSku('F-EXPIRED');
    stack.simulator.setFaults({ script: [{ kind: 'expiredUrl' }] });
    const settled = await run('F-EXPIRED', { slots: ['hero'] });
    expect(outcomes(settled.result)).toEqual([['hero', 'failed']]);
    expect(failedOf(settled.result, 'hero')?.errorType).toBe('ProviderOutputExpired');
    expect(settled.error?.cause?.message).toMatch(/hero: ProviderOutputExpired: .*expired/);
    // The job was re-read for a fresh URL first; still expired, it is lost: not retried, not resubmitted.
    expect(await retriedActivities(settled.workflowId)).toEqual([]);
    expect((await getSlotAttempts(stack.database.db, CATALOG, 'F-EXPIRED'))[0]).toMatchObject({ slot: 'hero', outcome: 'failed', error_type: 'ProviderOutputExpired' });
    // Billed and delivered but unusable: the ledger keeps the money and the reason.
    expect((await ledgerRows('F-EXPIRED')).map((r) => [r.status, r.error_code, r.images_billed])).toEqual([['unusable', 'url_expired', 1]]);
    expect(await listAssetVersions(stack.database.db, CATALOG, 'F-EXPIRED')).toEqual([]);

    // The next run (the nightly one, say) generates it under a new idempotency key: a new paid job,
    // which is not a duplicate of the lost one.
    const again = await run('F-EXPIRED', { slots: ['hero'] });
    expect(outcomes(again.result)).toEqual([['hero', 'generated']]);
    const rows = await ledgerRows('F-EXPIRED');
    expect(rows.map((r) => r.status)).toEqual(['unusable', 'completed']);
    const ledger = stack.simulator.ledger();
    expect([ledger.jobs, ledger.duplicateSubmissions]).toEqual([2, 0]);
  });

  it('ends every plan of a faulty provider within bounds, every failure with its reason, nothing paid twice', { timeout: 60_000 }, async () => {
    const skus = Array.from({ length: 10 }, (_, i) => `F-MIX-${i}`);
    await stack.addProducts(
      CATALOG,
      skus.map((sku) => ({ sku, attributes: sampleAttributes(stack, sku) })),
    );
    stack.simulator.setFaults({
      serverError: 0.1,
      rateLimit: { probability: 0.05, retryAfterSeconds: 1 },
      failJob: 0.03,
      corruptImage: 0.02,
      expiredUrl: 0.02,
      // A few certain ones on top, so every class shows up whatever the dice say.
      script: [{ kind: 'rateLimit', on: 'submit' }, { kind: 'serverError', on: 'submit' }, { kind: 'failJob' }, { kind: 'expiredUrl' }, { kind: 'corruptImage' }],
    });
    const t0 = Date.now();
    const settled = await Promise.all(skus.map((sku) => run(sku)));
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThan(50_000);

    for (const [i, s] of settled.entries()) {
      const sku = skus[i]!;
      expect(s.workflowId).toBe(productWorkflowId(CATALOG, sku));
      const { status } = await stack.client.workflow.getHandle(s.workflowId).describe();
      expect(status.name).toBe(s.error ? 'FAILED' : 'COMPLETED');
      expect(s.result.slots.map((o) => o.slot)).toEqual(SLOTS);
      const failed = s.result.slots.filter((o) => o.outcome === 'failed');
      expect(Boolean(s.error)).toBe(failed.length > 0);
      const attempts = await getSlotAttempts(stack.database.db, CATALOG, sku);
      const current = await listCurrentAssets(stack.database.db, CATALOG, sku);
      for (const o of s.result.slots) {
        const attempt = attempts.find((a) => a.slot === o.slot);
        if (o.outcome === 'failed') {
          expect(s.error?.cause?.message).toContain(`${o.slot}: ${o.errorType}: `);
          expect(attempt).toMatchObject({ outcome: 'failed', error_type: o.errorType });
          expect(attempt?.error_message?.length).toBeGreaterThan(0);
          expect(current.find((a) => a.slot === o.slot)).toBeUndefined();
        } else {
          expect(o.outcome).toBe('generated');
          expect(current.find((a) => a.slot === o.slot)?.id).toBe(o.outcome === 'generated' ? o.assetId : undefined);
        }
      }
    }

    const rows = await stack.database.db
      .selectFrom('generation_jobs')
      .select(['sku', 'slot', 'status', 'error_code', 'provider_job_id', 'images_billed'])
      .where('catalog_id', '=', CATALOG)
      .where('sku', 'in', skus)
      .execute();
    // Every paid step ended kept, failed at the provider (nothing billed) or unusable (billed, and why).
    for (const r of rows) {
      expect(['completed', 'failed', 'unusable']).toContain(r.status);
      if (r.status !== 'completed') expect(r.error_code).toBeTruthy();
      if (r.status === 'failed') expect(r.images_billed).toBe(0);
    }
    const ledger = stack.simulator.ledger();
    expect(ledger.duplicateSubmissions).toBe(0);
    // One provider job per ledger row, and the two ledgers agree on what was billed.
    expect(rows.filter((r) => r.provider_job_id).length).toBe(ledger.jobs);
    expect(rows.reduce((n, r) => n + r.images_billed, 0)).toBe(ledger.billedImages);
    expect(ledger.rejectedSubmissions).toBeGreaterThanOrEqual(2);
    const failedSlots = settled.flatMap((s) => s.result.slots.filter((o) => o.outcome === 'failed'));
    expect(failedSlots.length).toBeGreaterThanOrEqual(2);
    expect(stack.simulator.faults().script).toEqual([]);
  });
});
