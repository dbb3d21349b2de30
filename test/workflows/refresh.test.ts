import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import type { PlanInput } from '../../src/shared/plan';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { startTestStack, type TestStack } from '../helpers/stack';
import { productWorkflow, refreshWorkflow } from '../../src/temporal/workflows';

const CATALOG = 'bulk';
const HERO_ONLY: PlanInput = {
  version: 1,
  slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Studio photograph of {{brand}} {{name}} on white.', imageSize: 'square_hd' }],
};

function products(n: number, from = 0, brand = 'Orbit') {
  return Array.from({ length: n }, (_, i) => {
    const sku = `SKU-${String(from + i).padStart(5, '0')}`;
    const attributes = { name: `Serum ${from + i}`, brand };
    return { catalogId: CATALOG, sku, name: attributes.name, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'test' };
  });
}

/** The most product workflows of this refresh that were open at the same instant, from visibility. */
async function maxConcurrentProducts(stack: TestStack, catalogId: string, since: Date): Promise<number> {
  const events: Array<[number, number]> = [];
  for await (const wf of stack.client.workflow.list({ query: `WorkflowType = '${productWorkflow.name}' AND CatalogId = '${catalogId}'` })) {
    if (wf.startTime < since || !wf.closeTime) continue;
    events.push([wf.startTime.getTime(), 1], [wf.closeTime.getTime(), -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (open += d));
  return max;
}

describe('the catalog refresh', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ simulator: { latencyMs: { min: 20, max: 40 }, maxRunning: 32 } });
    await upsertCatalog(stack.database.db, { id: CATALOG, name: 'Bulk', plan: HERO_ONLY });
    await upsertProducts(stack.database.db, products(200));
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('refreshes a few hundred SKUs within its window, continues-as-new, and its counts match the database', async () => {
    const since = new Date(Date.now() - 1000);
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'changed', dryRun: false, trigger: 'manual', window: 8, pageSize: 50, skusPerRun: 100 });
    const result = await refreshResult(stack.client, workflowId);
    expect(result).toMatchObject({ planned: 200, generated: 200, failed: 0, skipped: 0, imagesBilled: 200, costCents: 800, costUsd: 8 });
    expect(result.runs).toBeGreaterThanOrEqual(3);

    const db = stack.database.db;
    const mapped = await db.selectFrom('current_assets').select((eb) => eb.fn.countAll<string>().as('n')).where('catalog_id', '=', CATALOG).executeTakeFirstOrThrow();
    expect(Number(mapped.n)).toBe(200);
    const jobs = await db.selectFrom('generation_jobs').select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.sum<string>('cost_cents').as('cents')]).where('catalog_id', '=', CATALOG).executeTakeFirstOrThrow();
    expect(Number(jobs.n)).toBe(200);
    expect(Number(jobs.cents)).toBe(result.costCents);
    const run = await db.selectFrom('refresh_runs').select(['status', 'counts', 'cost_cents', 'finished_at']).where('workflow_id', '=', workflowId).executeTakeFirstOrThrow();
    expect(run.status).toBe('completed');
    expect(run.counts).toMatchObject({ planned: 200, generated: 200 });
    expect(run.finished_at).not.toBeNull();
    expect(stack.simulator.ledger()).toMatchObject({ jobs: 200, duplicateSubmissions: 0 });

    // Never more product workflows in flight than the window.
    const max = await maxConcurrentProducts(stack, CATALOG, since);
    expect(max).toBeGreaterThan(1);
    expect(max).toBeLessThanOrEqual(8);
  }, 240_000);

  it('submits zero jobs for a stale refresh of an unchanged catalog, and regenerates exactly the changed SKUs', async () => {
    const before = stack.simulator.ledger().jobs;
    const first = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'stale', dryRun: false, trigger: 'manual', window: 8 });
    const unchanged = await refreshResult(stack.client, first.workflowId);
    expect(unchanged).toMatchObject({ planned: 0, generated: 0, imagesBilled: 0 });
    expect(stack.simulator.ledger().jobs).toBe(before);

    // Three products change in the PIM snapshot.
    await upsertProducts(stack.database.db, products(3, 10, 'Orbit Labs'));
    const second = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'stale', dryRun: false, trigger: 'manual', window: 8 });
    const changed = await refreshResult(stack.client, second.workflowId);
    expect(changed).toMatchObject({ planned: 3, generated: 3, imagesBilled: 3 });
    expect(stack.simulator.ledger().jobs).toBe(before + 3);
    const regenerated = await stack.database.db
      .selectFrom('assets')
      .select('sku')
      .where('catalog_id', '=', CATALOG)
      .where('version', '=', 2)
      .orderBy('sku')
      .execute();
    expect(regenerated.map((r) => r.sku)).toEqual(['SKU-00010', 'SKU-00011', 'SKU-00012']);
  }, 120_000);

  it('estimates a dry run without calling the paid API', async () => {
    await upsertProducts(stack.database.db, products(5, 300));
    const before = stack.simulator.ledger().submissions;
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'changed', dryRun: true, trigger: 'manual' });
    const result = await refreshResult(stack.client, workflowId);
    expect(result).toMatchObject({ dryRun: true, planned: 5, estimatedImages: 5, estimatedCostUsd: 0.2, imagesBilled: 0 });
    expect(stack.simulator.ledger().submissions).toBe(before);
  });

  it('stops starting products when the budget would be exceeded, and says so', async () => {
    const { workflowId } = await startRefresh(stack.client, stack.prefix, {
      catalogId: CATALOG,
      selection: 'changed',
      dryRun: false,
      trigger: 'manual',
      window: 2,
      budget: { usd: 0.12 },
    });
    const result = await refreshResult(stack.client, workflowId);
    expect(result.budgetExhausted).toBe(true);
    expect(result.imagesBilled).toBe(3);
    expect(result.costUsd).toBeLessThanOrEqual(0.12);
    const remaining = await sql<{ n: string }>`select count(*)::text as n from products where catalog_id = ${CATALOG} and settled_fingerprint is distinct from attributes_fingerprint`.execute(stack.database.db);
    expect(Number(remaining.rows[0]?.n)).toBe(2);
  });

  it('finds the runs by the custom search attributes', async () => {
    const refreshes: string[] = [];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowType = '${refreshWorkflow.name}' AND CatalogId = '${CATALOG}' AND RefreshTrigger = 'manual'` })) {
      refreshes.push(wf.workflowId);
    }
    expect(refreshes.length).toBeGreaterThanOrEqual(4);
    const forSku: string[] = [];
    for await (const wf of stack.client.workflow.list({ query: `Sku = 'SKU-00010' AND CatalogId = '${CATALOG}'` })) forSku.push(wf.runId);
    expect(forSku.length).toBeGreaterThanOrEqual(2);
  });
});
