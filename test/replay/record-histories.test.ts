/**
 * Records the product workflow histories the replay test replays (test/fixtures/histories). Skipped
 * unless RECORD_HISTORIES=1: run `npx tsx scripts/record-histories.ts` after a deliberate change to
 * the workflow code (see the README, "Replay histories"). Each scenario asserts it produced the
 * history it is meant to cover, so a recording never silently captures the wrong path.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { productStatusQuery, reviewSignal } from '../../src/temporal/workflows';
import { activitiesOf, historyToFixture } from '../helpers/histories';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const OUT_DIR = path.resolve(import.meta.dirname, '..', 'fixtures', 'histories');
const CATALOG = 'replay';
const record = process.env.RECORD_HISTORIES === '1';

describe.skipIf(!record)('record product workflow histories (skipped unless RECORD_HISTORIES=1: it rewrites test/fixtures/histories)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
    await fs.mkdir(OUT_DIR, { recursive: true });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /**
   * Saves a run's history, one event per line (small, and a re-recording diffs event by event).
   * Returns its event types and scheduled activities for the scenario's own checks.
   */
  async function save(name: string, handle: WorkflowHandle): Promise<{ events: string[]; activities: string[]; remote: string[] }> {
    const history = await handle.fetchHistory();
    const { events = [], ...rest } = historyToFixture(history) as { events?: unknown[] };
    expect(Object.keys(rest)).toEqual([]);
    await fs.writeFile(path.join(OUT_DIR, `product-${name}.json`), `{"events": [\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`);
    const { activities, local } = activitiesOf(history.events ?? []);
    return {
      events: (history.events ?? []).map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes')) ?? '?'),
      // Regular and local activities together: the Postgres steps run as local activities.
      activities: [...activities, ...local],
      remote: activities,
    };
  }

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
    // The Postgres steps ran as local activities; only provider and imaging work became tasks.
    expect([...new Set(generated.remote)].sort()).toEqual(['generateJob', 'materializeOutputs']);
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
