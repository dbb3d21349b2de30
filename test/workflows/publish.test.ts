/**
 * The publish step on the real dev server, with a fake destination kind that records every call and
 * injects faults: refreshes publish what became current and nothing more, a changed SKU republishes
 * only itself, a rollback shows the older version again, faults retry or end failed with the reason,
 * and nothing is uploaded twice for one version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollbackSlot } from '../../src/db/repositories/assets';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { destinationSummary } from '../../src/db/repositories/publications';
import { loadResultsData } from '../../src/db/repositories/results';
import { renderResultsPage } from '../../src/results/render';
import { PublishError } from '../../src/publish/destination';
import { SA } from '../../src/shared/searchAttributes';
import { publishRunResult, startPublishRuns } from '../../src/temporal/client/publish';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { productStatusQuery, type ProductWorkflowResult } from '../../src/temporal/workflows';
import { publishPlan } from '../../src/cli/commands/publish.run';
import { runCli } from '../helpers/cli';
import { startTestStack, type TestStack } from '../helpers/stack';
import { TWO_SLOT_PLAN } from '../publish/plans';
import { fakeEventKind, fakeKind, newRecord, type FakeRecord } from '../publish/fakeKind';

const CATALOG = 'pub';
const PLAN = TWO_SLOT_PLAN;
const DESTINATIONS = [
  { name: 'shop', kind: 'fake', shop: 'eu', slots: { side: 'tiny-jpeg' } },
  { name: 'events', kind: 'fake-events', url: 'http://127.0.0.1:9/hook' },
];

function product(sku: string, brand = 'Orbit') {
  const attributes = { name: `Serum ${sku}`, brand, locale: 'de_DE' };
  return { catalogId: CATALOG, sku, name: attributes.name, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'test' };
}

async function runSku(stack: TestStack, sku: string) {
  const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
  const handle = stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId);
  const result = await handle.result();
  return { result, status: await handle.query(productStatusQuery), handle };
}

async function publications(stack: TestStack, sku?: string) {
  let q = stack.database.db
    .selectFrom('publications')
    .select(['sku', 'slot', 'version', 'destination', 'status', 'attempts', 'sends', 'error_code', 'last_error', 'alt_text', 'variant', 'remote_id'])
    .where('catalog_id', '=', CATALOG);
  if (sku) q = q.where('sku', '=', sku);
  return q.orderBy('sku').orderBy('slot').orderBy('destination').orderBy('version').execute();
}

describe('the publish step', () => {
  let stack: TestStack;
  let record: FakeRecord;
  beforeAll(async () => {
    record = newRecord();
    stack = await startTestStack({ deps: { destinationKinds: [fakeKind(record), fakeEventKind(record)] } });
    await upsertCatalog(stack.database.db, { id: CATALOG, name: 'Publish', plan: PLAN, settings: { destinations: DESTINATIONS } });
    await upsertProducts(stack.database.db, ['P-1', 'P-2', 'P-3'].map((s) => product(s)));
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a refresh publishes every current asset to every destination, with alt text and the chosen variant', async () => {
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'all', dryRun: false, trigger: 'manual' });
    const result = await refreshResult(stack.client, workflowId);
    expect(result).toMatchObject({ generated: 3, failed: 0 });
    const rows = await publications(stack);
    expect(rows).toHaveLength(12);
    expect(rows.every((r) => r.status === 'published' && r.sends === 1 && r.attempts === 1)).toBe(true);
    const shop = record.calls.filter((c) => c.destination === 'shop');
    expect(shop.map((c) => `${c.sku}/${c.slot}/${c.outcome}`).sort()).toEqual(
      ['P-1', 'P-2', 'P-3'].flatMap((s) => [`${s}/hero/uploaded`, `${s}/side/uploaded`]),
    );
    // The settings chose the side's variant; the hero got the largest.
    expect(shop.filter((c) => c.slot === 'side').every((c) => c.variant === 'tiny-jpeg')).toBe(true);
    expect(shop.find((c) => c.slot === 'hero' && c.sku === 'P-1')).toMatchObject({ variant: 'small-jpeg', altText: 'Orbit Serum P-1' });
    expect(shop.find((c) => c.slot === 'side' && c.sku === 'P-1')?.altText).toBe('Serum P-1 seen from the side');
    const published = record.events.filter((e) => e.event.type === 'asset.published');
    expect(published).toHaveLength(6);
    await expect.poll(() => record.events.filter((e) => e.event.type === 'refresh.completed').length, { timeout: 10_000 }).toBe(1);
    const done = record.events.find((e) => e.event.type === 'refresh.completed')!.event;
    expect(done.data).toMatchObject({ catalogId: CATALOG, status: 'completed' });
  });

  it('a second refresh publishes nothing new', async () => {
    const calls = record.calls.length;
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'all', dryRun: false, trigger: 'manual' });
    const result = await refreshResult(stack.client, workflowId);
    expect(result).toMatchObject({ generated: 0, failed: 0 });
    expect(record.calls.length).toBe(calls);
    const { status, result: run } = await runSku(stack, 'P-1');
    expect(run.publish).toEqual({ shop: 'unchanged', events: 'unchanged' });
    expect(status.publish?.shop?.outcome).toBe('unchanged');
    expect(record.calls.length).toBe(calls);
  });

  it('a changed SKU republishes only that SKU', async () => {
    await upsertProducts(stack.database.db, [product('P-2', 'Nova')]);
    const before = record.calls.length;
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'changed', dryRun: false, trigger: 'manual' });
    await refreshResult(stack.client, workflowId);
    const fresh = record.calls.slice(before).filter((c) => c.destination === 'shop');
    expect(fresh.map((c) => `${c.sku}/${c.slot}/v${c.version}/${c.outcome}`).sort()).toEqual(['P-2/hero/v2/uploaded', 'P-2/side/v2/uploaded']);
    expect(fresh.find((c) => c.slot === 'hero')?.altText).toBe('Nova Serum P-2');
  });

  it('a rollback shows the older version again without uploading it twice', async () => {
    await rollbackSlot(stack.database.db, CATALOG, 'P-2', 'hero', { actor: 'test' });
    const before = record.calls.length;
    const [run] = await startPublishRuns(stack.client, stack.prefix, { catalogId: CATALOG, skus: ['P-2'], destinations: ['shop', 'events'], requestedBy: 'rollback' }, 'rollback-P-2-hero-v1');
    const result = await publishRunResult(stack.client, run!.workflowId);
    expect(result.errors).toEqual([]);
    const shop = result.results.find((r) => r.destination === 'shop')!;
    expect(shop.published).toEqual([expect.objectContaining({ slot: 'hero', version: 1, republished: true, alreadyPresent: true })]);
    expect(shop.unchanged).toBe(1);
    const fresh = record.calls.slice(before).filter((c) => c.destination === 'shop');
    expect(fresh).toEqual([expect.objectContaining({ sku: 'P-2', slot: 'hero', version: 1, republish: true, outcome: 'shown-again' })]);
    expect(record.shown.get('shop|P-2|hero')).toBe(1);
    const v1 = (await publications(stack, 'P-2')).find((r) => r.slot === 'hero' && r.version === 1 && r.destination === 'shop');
    expect(v1).toMatchObject({ status: 'published', sends: 2 });
    // The same rollback asked again joins the same run: nothing more is sent.
    const again = await startPublishRuns(stack.client, stack.prefix, { catalogId: CATALOG, skus: ['P-2'], destinations: ['shop'], requestedBy: 'rollback' }, 'rollback-P-2-hero-v1');
    expect(again[0]!.workflowId).toBe(run!.workflowId);
  });

  it('a retryable fault is retried (Retry-After honoured) and then published', async () => {
    await upsertProducts(stack.database.db, [product('P-4')]);
    record.faults.push({ sku: 'P-4', destination: 'shop', error: new PublishError('429 Too Many Requests', 'rate_limited', true, 300), times: 2 });
    const { result, status } = await runSku(stack, 'P-4');
    expect(result.publish).toEqual({ shop: 'published', events: 'published' });
    expect(status.publish?.shop).toMatchObject({ outcome: 'published', published: 2 });
    const faults = record.calls.filter((c) => c.sku === 'P-4' && c.outcome === 'fault');
    expect(faults).toHaveLength(2);
    const rows = (await publications(stack, 'P-4')).filter((r) => r.destination === 'shop');
    expect(rows.every((r) => r.status === 'published')).toBe(true);
    expect(rows.map((r) => r.attempts).reduce((a, b) => a + b)).toBe(4); // two faults, two sends
  });

  it('a non-retryable fault ends that publication failed with its reason, and the run still succeeds', async () => {
    await upsertProducts(stack.database.db, [product('P-5')]);
    record.faults.push({ sku: 'P-5', destination: 'shop', error: new PublishError('no product with SKU P-5 in the shop', 'not_found', false), times: 1 });
    const { result, status, handle } = await runSku(stack, 'P-5');
    expect(result.outcome).toBe('generated');
    expect(result.publish?.shop).toBe('partial');
    expect(status.publish?.shop?.failed).toEqual([expect.objectContaining({ errorType: 'not_found', message: 'no product with SKU P-5 in the shop' })]);
    const failed = (await publications(stack, 'P-5')).filter((r) => r.status === 'failed');
    expect(failed).toEqual([expect.objectContaining({ destination: 'shop', error_code: 'not_found', last_error: 'no product with SKU P-5 in the shop', attempts: 1 })]);
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(SA.publishOutcome)).toBe('partial');
    const event = record.events.find((e) => e.event.type === 'asset.failed' && e.event.data.sku === 'P-5');
    expect(event?.event.data).toMatchObject({ stage: 'publish', destination: 'shop', errorType: 'not_found' });
    // The next run sends the failed one again (the shop may have the product by now).
    const { result: again } = await runSku(stack, 'P-5');
    expect(again.publish?.shop).toBe('published');
  });

  it('the results page and the status counts show where each image went', async () => {
    const data = await loadResultsData(stack.database.db, CATALOG);
    const p5 = data!.rows.find((r) => r.sku === 'P-5')!;
    const hero = p5.cells.find((c) => c.slot === 'hero')!;
    expect(hero.asset?.publications).toEqual([
      expect.objectContaining({ destination: 'events', status: 'published' }),
      expect.objectContaining({ destination: 'shop', kind: 'fake', status: 'published', remoteId: expect.stringContaining('P-5') }),
    ]);
    const html = renderResultsPage(data!);
    expect(html).toContain('Published to (2)');
    const summary = await destinationSummary(stack.database.db, CATALOG, ['shop', 'events']);
    const currentAssets = 5 * 2;
    expect(summary.find((s) => s.destination === 'shop')).toEqual({ destination: 'shop', published: currentAssets, pending: 0, failed: 0, skipped: 0, notSent: 0 });
  });

  it('a destination added later: `publish --dry-run` lists every current asset for it, and the command names a kind this build lacks', async () => {
    const plan = await publishPlan(stack.database.db, { catalogId: CATALOG, destinations: [{ name: 'later', slots: { side: false } }] });
    expect(plan).toHaveLength(5);
    expect(plan.every((p) => p.slot === 'hero' && p.status === null && p.destination === 'later')).toBe(true);
    const cli = await runCli(['publish', '--catalog', CATALOG, '--dry-run'], { ...process.env, DATABASE_URL: stack.database.url });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/destinations\.0\.kind: unknown destination kind "fake"/);
  });

  it('nothing was uploaded twice for one version', () => {
    expect([...record.uploads.values()].every((n) => n === 1)).toBe(true);
    // 3 SKUs x 2 slots, P-2's second versions, P-4 and P-5.
    expect(record.uploads.size).toBe(12);
  });
});
