import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { scheduleId } from '../../src/shared/ids';
import type { RefreshResult } from '../../src/shared/refresh';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { deleteNightly, describeNightly, pauseNightly, resumeNightly, triggerNightly, upsertNightlySchedule } from '../../src/temporal/client/schedules';
import { registerSearchAttributes } from '../../src/temporal/client/setup';
import { startTestStack, type TestStack } from '../helpers/stack';
import { refreshWorkflow } from '../../src/temporal/workflows';

const HERO_ONLY = { version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Photo of {{brand}} {{name}}.' }] };

function products(catalogId: string, brand: string, skus: string[]) {
  return skus.map((sku) => {
    const attributes = { name: `Lip balm ${sku}`, brand };
    return { catalogId, sku, name: attributes.name, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'test' };
  });
}

/** Waits for the next run the schedule starts after `seen`, and returns its result. */
async function nextScheduledRun(stack: TestStack, catalogId: string, seen: Set<string>): Promise<RefreshResult> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const d = await describeNightly(stack.client, catalogId);
    const fresh = d.recentRuns.find((r) => !seen.has(r.runId));
    if (fresh) {
      seen.add(fresh.runId);
      return stack.client.workflow.getHandle(fresh.workflowId, fresh.runId).result() as Promise<RefreshResult>;
    }
    await sleep(200);
  }
  const d = await stack.client.schedule.getHandle(scheduleId(catalogId)).describe();
  throw new Error(`the schedule started no run within 30 s: ${JSON.stringify({ state: d.state, info: d.info, seen: [...seen] })}`);
}

describe('nightly regeneration on a Temporal Schedule', () => {
  let stack: TestStack;
  const catalogId = `nightly-${Math.random().toString(36).slice(2, 7)}`;
  beforeAll(async () => {
    stack = await startTestStack();
    await upsertCatalog(stack.database.db, { id: catalogId, plan: HERO_ONLY });
    await upsertProducts(stack.database.db, products(catalogId, 'Dew', ['A-1', 'A-2', 'A-3', 'A-4']));
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId, selection: 'all', dryRun: false, trigger: 'manual' });
    expect((await refreshResult(stack.client, workflowId)).generated).toBe(4);
  });
  afterAll(async () => {
    await deleteNightly(stack.client, catalogId).catch(() => undefined);
    await stack?.close();
  });

  it('is created or updated idempotently, paused, resumed and described', async () => {
    const options = { catalogId, taskQueuePrefix: stack.prefix, cron: '0 2 * * *', timezone: 'Europe/Berlin', catchupWindow: '6 hours', paused: true };
    expect(await upsertNightlySchedule(stack.client, options)).toEqual({ scheduleId: scheduleId(catalogId), created: true });
    expect(await upsertNightlySchedule(stack.client, { ...options, cron: '30 1 * * *' })).toEqual({ scheduleId: scheduleId(catalogId), created: false });
    let d = await describeNightly(stack.client, catalogId);
    expect(d.cron).toEqual(['30 1 * * *']);
    expect(d.timezone).toBe('Europe/Berlin');
    expect(d.paused).toBe(true);
    await resumeNightly(stack.client, catalogId);
    expect((await describeNightly(stack.client, catalogId)).paused).toBe(false);
    await pauseNightly(stack.client, catalogId, 'maintenance');
    d = await describeNightly(stack.client, catalogId);
    expect(d).toMatchObject({ paused: true, note: 'maintenance' });
    expect(d.nextRuns.length).toBeGreaterThan(0);
  });

  it('triggered now, runs a stale refresh that submits nothing on an unchanged catalog, then exactly the changed SKUs', async () => {
    await resumeNightly(stack.client, catalogId);
    const seen = new Set((await describeNightly(stack.client, catalogId)).recentRuns.map((r) => r.runId));
    const before = stack.simulator.ledger().jobs;
    await triggerNightly(stack.client, catalogId);
    const quiet = await nextScheduledRun(stack, catalogId, seen);
    expect(quiet).toMatchObject({ planned: 0, generated: 0, imagesBilled: 0 });
    expect(stack.simulator.ledger().jobs).toBe(before);

    await upsertProducts(stack.database.db, products(catalogId, 'Dew Beauty', ['A-2', 'A-4']));
    await triggerNightly(stack.client, catalogId);
    const busy = await nextScheduledRun(stack, catalogId, seen);
    expect(busy).toMatchObject({ planned: 2, generated: 2, imagesBilled: 2 });
    expect(stack.simulator.ledger().jobs).toBe(before + 2);
    const runs: string[] = [];
    for await (const wf of stack.client.workflow.list({ query: `CatalogId = '${catalogId}' AND RefreshTrigger = 'schedule' AND WorkflowType = '${refreshWorkflow.name}'` })) runs.push(wf.runId);
    expect(runs.length).toBe(2);
  });

  it('registers the search attributes idempotently', async () => {
    const result = await registerSearchAttributes(stack.connection, inject('temporalNamespace'));
    expect(result.added).toEqual([]);
    expect(result.present.sort()).toEqual(['AssetOutcome', 'AssetSlots', 'CatalogId', 'PublishOutcome', 'RefreshTrigger', 'Sku']);
  });
});
