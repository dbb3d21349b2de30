/**
 * End to end over the real stack: a signed PIM webhook batch → the HTTP service → product workflows
 * on the dev server → real workers and the simulator → assets and mappings in Postgres; the same
 * batch delivered again starts nothing new.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCurrentAssets } from '../../src/db/repositories/assets';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { getProduct } from '../../src/db/repositories/products';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { serveStack } from '../helpers/service';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';
import { postSigned, productEvent, SECRET, TOKEN } from './helpers';

const CATALOG = 'acme-e2e';

describe('a signed webhook batch, end to end', () => {
  let stack: TestStack;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    stack = await startTestStack();
    await upsertCatalog(stack.database.db, { id: CATALOG, settings: { sceneReferences: [stack.packshotUrl('scene-kitchen.jpg')] } });
    ({ app, url } = await serveStack(stack, {
      serviceToken: TOKEN,
      webhookSecret: SECRET,
      healthChecks: {
        temporal: async () => {
          await stack.connection.workflowService.getSystemInfo({});
        },
      },
    }));
  });
  afterAll(async () => {
    await app?.close();
    await stack?.close();
  });

  it('generates assets for every created SKU, and a redelivery starts nothing new', async () => {
    const skus = ['WH-001', 'WH-002'];
    const batch = { events: skus.map((sku) => productEvent('product.created', sku, { values: sampleAttributes(stack, sku) })) };

    const first = await postSigned(`${url}/webhooks/pim/${CATALOG}`, batch);
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({ accepted: 2, duplicates: 0 });
    const workflows = first.json.workflows as Array<{ sku: string; workflowId: string }>;
    expect(workflows.map((w) => w.sku)).toEqual(skus);

    const results = await Promise.all(workflows.map((w) => stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(w.workflowId).result()));
    for (const result of results) {
      expect(result.outcome).toBe('generated');
      expect(result.slots.map((s) => [s.slot, s.outcome])).toEqual([
        ['hero', 'generated'],
        ['label', 'generated'],
        ['lifestyle', 'generated'],
      ]);
    }
    for (const sku of skus) {
      expect(await getProduct(stack.database.db, CATALOG, sku)).toMatchObject({ status: 'active', source: 'webhook', name: `Night Cream ${sku}` });
      const current = await listCurrentAssets(stack.database.db, CATALOG, sku);
      expect(current.map((a) => [a.slot, a.status, a.version])).toEqual([
        ['hero', 'current', 1],
        ['label', 'current', 1],
        ['lifestyle', 'current', 1],
      ]);
      for (const asset of current) expect(asset.variants.length).toBeGreaterThan(0);
    }
    const ledger = stack.simulator.ledger();
    expect(ledger.jobs).toBe(6);
    const runs = await Promise.all(workflows.map(async (w) => (await stack.client.workflow.getHandle(w.workflowId).describe()).runId));

    // The PIM delivers the same batch again (a retry after a timeout, say): nothing new starts.
    const again = await postSigned(`${url}/webhooks/pim/${CATALOG}`, batch);
    expect(again.status).toBe(202);
    expect(again.json).toMatchObject({ accepted: 0, duplicates: 2, workflows: [] });
    const runsAfter = await Promise.all(workflows.map(async (w) => (await stack.client.workflow.getHandle(w.workflowId).describe()).runId));
    expect(runsAfter).toEqual(runs);
    expect(stack.simulator.ledger().submissions).toBe(ledger.submissions);
    expect(stack.simulator.ledger().jobs).toBe(6);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ checks: { postgres: { ok: true }, temporal: { ok: true } } });
  });
});
