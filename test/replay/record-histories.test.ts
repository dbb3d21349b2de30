/**
 * Records the workflow histories the replay tests replay (test/fixtures/histories): product-*.json
 * for product.replay.test.ts, refresh-*.json for refresh.replay.test.ts. Skipped unless
 * RECORD_HISTORIES=1: run `npx tsx scripts/record-histories.ts` after a deliberate change to the
 * workflow code (see the README, "Tests"). Each scenario asserts it produced the history it is meant
 * to cover, so a recording never silently captures the wrong path.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { productWorkflowId } from '../../src/shared/ids';
import type { PlanInput } from '../../src/shared/plan';
import type { RefreshResult } from '../../src/shared/refresh';
import { refreshResult, startRefresh, type RefreshRequest } from '../../src/temporal/client/refresh';
import { productStatusQuery, reviewSignal } from '../../src/temporal/workflows';
import { activitiesOf, writeHistoryFixture, type RecordedKind } from '../helpers/histories';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = 'replay';
const record = process.env.RECORD_HISTORIES === '1';

interface Saved {
  /** Event attribute names, in order (`workflowExecutionCompletedEventAttributes`...). */
  events: string[];
  /** Regular and local activities together: the Postgres steps run as local activities. */
  activities: string[];
  /** Regular activities only. */
  remote: string[];
  /** The run this one continued as, if it continued as new. */
  nextRunId?: string;
}

/** Saves a run's history as `<kind>-<name>.json`; returns its shape for the scenario's own checks. */
async function saveRun(kind: RecordedKind, name: string, handle: WorkflowHandle): Promise<Saved> {
  const history = await handle.fetchHistory();
  writeHistoryFixture(`${kind}-${name}.json`, history);
  const all = history.events ?? [];
  const { activities, local } = activitiesOf(all);
  const nextRunId = all.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  return {
    events: all.map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes')) ?? '?'),
    activities: [...activities, ...local],
    remote: activities,
    ...(nextRunId ? { nextRunId } : {}),
  };
}

describe.skipIf(!record)('record product workflow histories (skipped unless RECORD_HISTORIES=1: it rewrites test/fixtures/histories)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const save = (name: string, handle: WorkflowHandle) => saveRun('product', name, handle);

  async function settle(workflowId: string, runId?: string): Promise<WorkflowHandle> {
    const handle = stack.client.workflow.getHandle(workflowId, runId);
    await handle.result().catch(() => undefined);
    return handle;
  }

  const count = (names: string[], name: string) => names.filter((n) => n === name).length;

  it('a full generate of three slots, then an unchanged re-run', { timeout: 30_000 }, async () => {
    await stack.addProducts(CATALOG, [{ sku: 'RP-GEN', attributes: sampleAttributes(stack, 'RP-GEN') }]);
    const first = await stack.trigger({ catalogId: CATALOG, sku: 'RP-GEN', trigger: 'manual' });
    const generated = await save('generate', await settle(first.workflowId, first.runId));
    expect(['generateJob', 'materializeOutputs', 'recordSlot'].map((a) => count(generated.activities, a))).toEqual([3, 3, 3]);
    // The Postgres steps ran as local activities; only provider and imaging work (the label slot's
    // OCR reading included) became tasks.
    expect([...new Set(generated.remote)].sort()).toEqual(['generateJob', 'materializeOutputs', 'readLabel']);
    expect(generated.events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');

    const second = await stack.trigger({ catalogId: CATALOG, sku: 'RP-GEN', trigger: 'schedule' });
    const unchanged = await save('unchanged', await settle(second.workflowId, second.runId));
    expect(count(unchanged.activities, 'prepareSlot')).toBe(3);
    expect(count(unchanged.activities, 'generateJob')).toBe(0);
    expect(unchanged.events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');
  });

  it('a run with a slot rejected at submit (the others recorded)', { timeout: 30_000 }, async () => {
    await stack.addProducts(CATALOG, [{ sku: 'RP-FAIL', attributes: sampleAttributes(stack, 'RP-FAIL', { labelText: 'blocked-content 50 ml' }) }]);
    const run = await stack.trigger({ catalogId: CATALOG, sku: 'RP-FAIL', trigger: 'webhook' });
    const { events, activities } = await save('failed-slot', await settle(run.workflowId, run.runId));
    expect([count(activities, 'generateJob'), count(activities, 'recordSlot'), count(activities, 'recordSlotFailure')]).toEqual([3, 2, 1]);
    expect(events.at(-1)).toBe('workflowExecutionFailedEventAttributes');
  });

  it('a failed job whose dependant slot fails with it', { timeout: 30_000 }, async () => {
    await stack.addProducts(CATALOG, [{ sku: 'RP-DEP', attributes: sampleAttributes(stack, 'RP-DEP') }]);
    stack.simulator.setFaults({ script: [{ kind: 'failJob', code: 'content_rejected' }] });
    const run = await stack.trigger({ catalogId: CATALOG, sku: 'RP-DEP', trigger: 'manual', slots: ['hero', 'lifestyle'] });
    const { events, activities } = await save('dependency-failed', await settle(run.workflowId, run.runId));
    expect(stack.simulator.faults().script).toEqual([]);
    expect([count(activities, 'generateJob'), count(activities, 'recordSlotFailure')]).toEqual([1, 2]);
    expect(events.at(-1)).toBe('workflowExecutionFailedEventAttributes');
  });

  it('a run through retried faults (ambiguous submit, 429, corrupt download)', { timeout: 30_000 }, async () => {
    await stack.addProducts(CATALOG, [{ sku: 'RP-FAULTS', attributes: sampleAttributes(stack, 'RP-FAULTS') }]);
    stack.simulator.setFaults({ script: [{ kind: 'dropAfterAccept' }, { kind: 'rateLimit', on: 'submit', retryAfterSeconds: 1 }, { kind: 'corruptImage' }] });
    const run = await stack.trigger({ catalogId: CATALOG, sku: 'RP-FAULTS', trigger: 'manual' });
    const { events } = await save('retried-faults', await settle(run.workflowId, run.runId));
    expect(stack.simulator.faults().script).toEqual([]);
    expect(events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');
  });

  it('a coalesced trigger that continues as new, and the run after it', { timeout: 30_000 }, async () => {
    await stack.addProducts(CATALOG, [{ sku: 'RP-CO', attributes: sampleAttributes(stack, 'RP-CO') }]);
    const first = await stack.trigger({ catalogId: CATALOG, sku: 'RP-CO', trigger: 'webhook' });
    const handle = stack.client.workflow.getHandle(first.workflowId, first.runId);
    // The second trigger must arrive after the plan started, or it is part of the first run's data.
    for (let i = 0; i < 200; i++) {
      const status = await handle.query(productStatusQuery);
      if (Object.values(status.slots).some((s) => s.phase !== 'waiting')) break;
      await sleep(20);
    }
    await stack.addProducts(CATALOG, [{ sku: 'RP-CO', attributes: sampleAttributes(stack, 'RP-CO', { labelText: 'Coalesced 30 ml' }) }]);
    const second = await stack.trigger({ catalogId: CATALOG, sku: 'RP-CO', trigger: 'webhook' });
    expect(second.runId).toBe(first.runId);
    await stack.client.workflow.getHandle(first.workflowId).result();
    const { events } = await save('coalesced-run1', handle);
    expect(events).toContain('workflowExecutionSignaledEventAttributes');
    expect(events.at(-1)).toBe('workflowExecutionContinuedAsNewEventAttributes');
    const { runId: lastRunId } = await stack.client.workflow.getHandle(first.workflowId).describe();
    expect(lastRunId).not.toBe(first.runId);
    const rerun = await save('coalesced-run2', stack.client.workflow.getHandle(first.workflowId, lastRunId));
    expect(rerun.events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');
  });

  it('review before publish: rejected with a note, regenerated, approved; and a review that times out', { timeout: 30_000 }, async () => {
    const plan = { version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Photo of {{brand}} {{name}}.' }] };
    await upsertCatalog(stack.database.db, { id: 'replay-review', plan, settings: { review: { required: true, timeoutSeconds: 60, onTimeout: 'keep', maxRejections: 2 } } });
    await upsertCatalog(stack.database.db, { id: 'replay-review-timeout', plan, settings: { review: { required: true, timeoutSeconds: 1, onTimeout: 'approve' } } });
    const attributes = { name: 'Ring RP-REV', brand: 'Aurum' };
    for (const catalogId of ['replay-review', 'replay-review-timeout']) {
      await upsertProducts(stack.database.db, [{ catalogId, sku: 'RP-REV', name: attributes.name, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'test' }]);
    }

    const run = await stack.trigger({ catalogId: 'replay-review', sku: 'RP-REV', trigger: 'manual' });
    const handle = stack.client.workflow.getHandle(run.workflowId, run.runId);
    const awaitingVersion = async (version: number) => {
      for (let i = 0; i < 300; i++) {
        const s = await handle.query(productStatusQuery);
        if (s.slots.hero?.phase === 'awaiting_review' && s.slots.hero.pendingVersion === version) return;
        await sleep(50);
      }
      throw new Error(`hero never awaited review of v${version}`);
    };
    await awaitingVersion(1);
    await handle.signal(reviewSignal, { slot: 'hero', decision: 'reject', note: 'warmer light', by: 'replay@example.com' });
    await awaitingVersion(2);
    await handle.signal(reviewSignal, { slot: 'hero', decision: 'approve', by: 'replay@example.com' });
    const reviewed = await save('review-reject-approve', await settle(run.workflowId, run.runId));
    expect(count(reviewed.activities, 'generateJob')).toBe(2);
    expect(count(reviewed.events, 'workflowExecutionSignaledEventAttributes')).toBeGreaterThanOrEqual(3);
    expect(reviewed.events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');

    const timed = await stack.trigger({ catalogId: 'replay-review-timeout', sku: 'RP-REV', trigger: 'manual' });
    const timedOut = await save('review-timeout', await settle(timed.workflowId, timed.runId));
    expect(timedOut.events).toContain('timerFiredEventAttributes');
    expect(timedOut.events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');
  });
});

/** One generated image per SKU: the refresh's shapes, without the cost of a three-slot plan. */
const HERO_ONLY: PlanInput = {
  version: 1,
  slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Studio photograph of {{brand}} {{name}} on white.', imageSize: 'square_hd' }],
};

describe.skipIf(!record)('record refresh workflow histories (skipped unless RECORD_HISTORIES=1: it rewrites test/fixtures/histories)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const count = (names: string[], name: string) => names.filter((n) => n === name).length;

  async function catalogOf(catalogId: string, skus: string[], plan?: PlanInput, attributes: (sku: string) => Record<string, unknown> = (sku) => sampleAttributes(stack, sku)): Promise<void> {
    await stack.addProducts(catalogId, skus.map((sku) => ({ sku, attributes: attributes(sku) })));
    if (plan) await upsertCatalog(stack.database.db, { id: catalogId, plan });
  }

  /** Runs a refresh to its end; a fixed run key keeps the recorded workflow id stable between recordings. */
  async function refresh(req: Omit<RefreshRequest, 'trigger' | 'runKey'>): Promise<{ workflowId: string; runId: string; result: RefreshResult }> {
    const started = await startRefresh(stack.client, stack.prefix, { trigger: 'manual', runKey: 'replay', ...req });
    return { ...started, result: await refreshResult(stack.client, started.workflowId) };
  }

  it('a refresh that continues as new twice, one SKU coalesced into a run already going', { timeout: 60_000 }, async () => {
    const catalogId = 'replay-refresh-can';
    const skus = Array.from({ length: 5 }, (_, i) => `RF-CAN-${i}`);
    await catalogOf(catalogId, skus, HERO_ONLY);
    // A webhook's run of RF-CAN-1 is still generating (a slow job) when the refresh reaches that SKU.
    stack.simulator.setFaults({ script: [{ kind: 'slowJob', extraMs: 8_000 }] });
    const webhook = await stack.trigger({ catalogId, sku: 'RF-CAN-1', trigger: 'webhook' });
    for (let i = 0; i < 250 && stack.simulator.faults().script.length > 0; i++) await sleep(20);
    expect(stack.simulator.faults().script).toEqual([]);

    const { workflowId, runId, result } = await refresh({ catalogId, selection: 'changed', dryRun: false, window: 2, pageSize: 2, skusPerRun: 2 });
    expect(result).toMatchObject({ planned: 5, generated: 4, coalesced: 1, failed: 0, runs: 3 });

    const run1 = await saveRun('refresh', 'continued-run1', stack.client.workflow.getHandle(workflowId, runId));
    expect(run1.events).toContain('startChildWorkflowExecutionFailedEventAttributes');
    expect(run1.events).toContain('signalExternalWorkflowExecutionInitiatedEventAttributes');
    expect(count(run1.events, 'childWorkflowExecutionCompletedEventAttributes')).toBe(1);
    expect(run1.events.at(-1)).toBe('workflowExecutionContinuedAsNewEventAttributes');
    const run2 = await saveRun('refresh', 'continued-run2', stack.client.workflow.getHandle(workflowId, run1.nextRunId));
    expect(count(run2.events, 'childWorkflowExecutionCompletedEventAttributes')).toBe(2);
    expect(run2.events.at(-1)).toBe('workflowExecutionContinuedAsNewEventAttributes');
    const run3 = await saveRun('refresh', 'continued-run3', stack.client.workflow.getHandle(workflowId, run2.nextRunId));
    expect(count(run3.activities, 'recordRefreshRun')).toBe(1);
    expect(run3.events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');

    // The coalesced product re-runs on its own; let it end before the stack closes.
    await stack.client.workflow.getHandle(productWorkflowId(catalogId, 'RF-CAN-1')).result();
    expect(webhook.workflowId).toBe(productWorkflowId(catalogId, 'RF-CAN-1'));
  });

  it('a dry run of a catalog with a SKU that cannot be prepared', { timeout: 30_000 }, async () => {
    const catalogId = 'replay-refresh-dry';
    // The default plan's label slot edits the packshot: a SKU without one is invalid.
    await catalogOf(catalogId, ['RF-DRY-1', 'RF-DRY-2', 'RF-DRY-BAD'], undefined, (sku) => sampleAttributes(stack, sku, sku.endsWith('BAD') ? { packshotUrl: undefined } : {}));
    const before = stack.simulator.ledger().submissions;
    const { workflowId, runId, result } = await refresh({ catalogId, selection: 'changed', dryRun: true });
    expect(result).toMatchObject({ dryRun: true, planned: 3, generated: 2, failed: 1, invalid: 1, imagesBilled: 0 });
    expect(result.failures).toMatchObject([{ sku: 'RF-DRY-BAD', slot: 'label' }]);
    expect(stack.simulator.ledger().submissions).toBe(before);
    const { events, activities } = await saveRun('refresh', 'dry-run-invalid', stack.client.workflow.getHandle(workflowId, runId));
    expect(count(activities, 'estimatePage')).toBe(1);
    expect(events).not.toContain('startChildWorkflowExecutionInitiatedEventAttributes');
    expect(events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');
  });

  it('a budget that runs out mid-refresh', { timeout: 30_000 }, async () => {
    const catalogId = 'replay-refresh-budget';
    await catalogOf(catalogId, ['RF-BUD-1', 'RF-BUD-2', 'RF-BUD-3', 'RF-BUD-4'], HERO_ONLY);
    const { workflowId, runId, result } = await refresh({ catalogId, selection: 'changed', dryRun: false, window: 1, budget: { images: 2 } });
    expect(result).toMatchObject({ budgetExhausted: true, planned: 2, generated: 2, imagesBilled: 2, failed: 0 });
    const { events, activities } = await saveRun('refresh', 'budget', stack.client.workflow.getHandle(workflowId, runId));
    expect(count(events, 'startChildWorkflowExecutionInitiatedEventAttributes')).toBe(2);
    expect(count(activities, 'budgetSpent')).toBeGreaterThanOrEqual(1);
    expect(events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');
  });

  it('a plain refresh of the changed SKUs of a small catalog', { timeout: 30_000 }, async () => {
    const catalogId = 'replay-refresh-changed';
    await catalogOf(catalogId, ['RF-CHG-1', 'RF-CHG-2'], HERO_ONLY);
    const { workflowId, runId, result } = await refresh({ catalogId, selection: 'changed', dryRun: false });
    expect(result).toMatchObject({ planned: 2, generated: 2, imagesBilled: 2, failed: 0, runs: 1, budgetExhausted: false });
    const { events } = await saveRun('refresh', 'changed', stack.client.workflow.getHandle(workflowId, runId));
    expect(count(events, 'childWorkflowExecutionCompletedEventAttributes')).toBe(2);
    expect(events.at(-1)).toBe('workflowExecutionCompletedEventAttributes');
  });
});
