/**
 * A refresh's budget is never exceeded, whatever else spends during the run: plans it coalesces into,
 * re-runs of its own products coalesced from webhooks. The simulator's ledger counts every job, and
 * the refresh reports what the ledger says.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productFingerprint } from '../../src/catalog/fingerprint';
import { budgetSpent } from '../../src/db/repositories/budgets';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import type { PlanInput } from '../../src/shared/plan';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { postSigned, productEvent, SECRET, TOKEN } from '../http/helpers';
import { serveStack } from '../helpers/service';
import { startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = 'capped';
const HERO_ONLY: PlanInput = { version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Studio photo of {{brand}} {{name}}.' }] };
const BUDGET = 10;

const sku = (i: number) => `B-${String(i).padStart(3, '0')}`;
const attrs = (i: number, brand = 'Aurum') => ({ name: `Vase ${sku(i)}`, brand });

describe('refresh budgets', { timeout: 180_000 }, () => {
  let stack: TestStack;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    stack = await startTestStack({ simulator: { latencyMs: { min: 1_200, max: 1_500 }, maxRunning: 32 } });
    ({ app, url } = await serveStack(stack, { serviceToken: TOKEN, webhookSecret: SECRET }));
    await upsertCatalog(stack.database.db, { id: CATALOG, plan: HERO_ONLY });
    await upsertProducts(
      stack.database.db,
      Array.from({ length: 30 }, (_, i) => {
        const a = attrs(i);
        return { catalogId: CATALOG, sku: sku(i), name: a.name, attributes: a, attributesFingerprint: productFingerprint({ name: a.name, attributes: a }), source: 'test' };
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await stack?.close();
  });

  async function until(what: string, probe: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  it(`a budget of ${BUDGET} images is never exceeded with a window of 16 and coalesced triggers arriving during the run`, async () => {
    const db = stack.database.db;
    const start = stack.simulator.ledger().jobs;

    // Two products are already running (started by webhooks, outside any budget), each with a newer
    // change waiting: the refresh coalesces into them, and their re-runs are paid from its budget.
    const running = [];
    for (const i of [0, 1]) {
      running.push(await stack.trigger({ catalogId: CATALOG, sku: sku(i), trigger: 'webhook' }));
    }
    await until('the two running plans to submit', () => stack.simulator.ledger().jobs - start >= 2);
    for (const i of [0, 1]) {
      const a = attrs(i, 'Borealis');
      await upsertProducts(db, [{ catalogId: CATALOG, sku: sku(i), name: a.name, attributes: a, attributesFingerprint: productFingerprint({ name: a.name, attributes: a }), source: 'test' }]);
      await stack.trigger({ catalogId: CATALOG, sku: sku(i), trigger: 'webhook' });
    }

    const { workflowId } = await startRefresh(stack.client, stack.prefix, {
      catalogId: CATALOG,
      selection: 'all',
      dryRun: false,
      budget: { images: BUDGET },
      trigger: 'manual',
      window: 16,
    });
    // While the refresh's products run, webhooks change five of them: each is coalesced into a re-run.
    await until('the refresh to submit its first jobs', () => stack.simulator.ledger().jobs - start >= 2 + 5);
    const changed = [2, 3, 4, 5, 6];
    const delivery = await postSigned(`${url}/webhooks/pim/${CATALOG}`, {
      events: changed.map((i) => productEvent('product.updated', sku(i), { values: attrs(i, 'Cygnus') })),
    });
    expect(delivery.status).toBe(202);
    expect(delivery.json.workflows).toHaveLength(changed.length);

    const result = await refreshResult(stack.client, workflowId);
    // Every product workflow of the catalog has closed before the ledger is read.
    for (const r of running) await stack.client.workflow.getHandle(r.workflowId).result().catch(() => undefined);
    for (const i of changed) await stack.client.workflow.getHandle(`product:${CATALOG}:${sku(i)}`).result().catch(() => undefined);

    const spent = await budgetSpent(db, workflowId);
    expect(spent.images).toBeLessThanOrEqual(BUDGET);
    expect(spent.heldImages).toBeLessThanOrEqual(BUDGET);
    // Nothing was paid outside the budget but the two plans that were running before it started.
    expect(stack.simulator.ledger().jobs - start).toBe(2 + spent.jobs);
    const ledger = await db
      .selectFrom('generation_jobs')
      .select((eb) => [eb.fn.coalesce(eb.fn.sum<string>('images_billed'), eb.val('0')).as('images'), eb.fn.coalesce(eb.fn.sum<string>('cost_cents'), eb.val('0')).as('cents')])
      .where('catalog_id', '=', CATALOG)
      .executeTakeFirstOrThrow();
    expect(Number(ledger.images)).toBe(2 + spent.images);
    // The refresh reports what the ledger says, re-runs and refused products included.
    expect(result).toMatchObject({ imagesBilled: spent.images, costCents: spent.costCents, budgetExhausted: true, coalesced: 2 });
    expect(result.imagesBilled).toBe(BUDGET);
  });
});
