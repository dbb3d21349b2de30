/**
 * Channel checks end to end: a real product run (simulator, workers, Postgres) records a check per
 * asset and channel with the asset; the publish gate and `status --channel --failing` read them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelChecksOf, channelGate, recordChannelChecks } from '../../src/db/repositories/channelChecks';
import type { PublishItem } from '../../src/publish/destination';
import { loadResultsData, renderResultsPage } from '../../src/results';
import type { ChannelCheckSummary } from '../../src/shared/channelProfiles';
import { runCli } from '../helpers/cli';
import { startService, TOKEN } from '../http/helpers';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = 'cli-channels';

let stack: TestStack;
const cli = (args: string[]) => runCli(args, { ...process.env, DATABASE_URL: stack.database.url, ASSET_DIR: stack.storageDir, NO_COLOR: '1' });

async function currentAsset(slot: string) {
  return stack.database.db
    .selectFrom('current_assets as c')
    .innerJoin('assets as a', 'a.id', 'c.asset_id')
    .select(['a.id', 'a.version', 'a.sku', 'a.slot'])
    .where('c.catalog_id', '=', CATALOG)
    .where('c.sku', '=', 'CH-1')
    .where('c.slot', '=', slot)
    .executeTakeFirstOrThrow();
}

function itemOf(a: { id: string; version: number; sku: string; slot: string }): PublishItem {
  return { catalogId: CATALOG, sku: a.sku, slot: a.slot, assetId: a.id, version: a.version, fingerprint: 'f', altText: '', files: [], publicationKey: 'k' };
}

describe('channel checks: recorded with the asset, gated, listed', () => {
  beforeAll(async () => {
    stack = await startTestStack();
    await stack.addProducts(CATALOG, [{ sku: 'CH-1', name: 'Night Cream', attributes: sampleAttributes(stack, 'CH-1') }]);
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku: 'CH-1', trigger: 'manual' });
    await stack.client.workflow.getHandle(workflowId).result();
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('checks each output against its slot channels and stores each channel file as a variant named after the profile', async () => {
    const [hero, label, lifestyle] = await Promise.all([currentAsset('hero'), currentAsset('label'), currentAsset('lifestyle')]);
    const checks = await channelChecksOf(stack.database.db, [hero.id, label.id, lifestyle.id]);
    expect(checks.get(hero.id)!.map((c) => c.profile)).toEqual(['amazon-main', 'google-shopping', 'marketplace-square', 'shopify']);
    expect(checks.get(label.id)!.map((c) => c.profile)).toEqual(['google-shopping', 'shopify']);
    expect(checks.get(lifestyle.id)!.map((c) => c.profile)).toEqual(['google-shopping', 'shopify']);

    // The test simulator's outputs are 256 px: Shopify has no minimum, Amazon and Google do.
    const byProfile = new Map(checks.get(hero.id)!.map((c) => [c.profile, c]));
    expect(byProfile.get('shopify')).toMatchObject({ pass: true, failures: [] });
    const amazon = byProfile.get('amazon-main')!;
    expect(amazon.pass).toBe(false);
    expect(amazon.failures.map((f) => f.rule)).toContain('minLongEdge');
    expect(amazon.failures.find((f) => f.rule === 'minLongEdge')!.reason).toMatch(/^longest side \d+ px \(\d+x\d+\); needs at least 1000 px; never enlarged past the source/);
    expect(amazon.figures).toMatchObject({ format: 'jpeg', colourSpace: 'srgb' });
    expect(amazon.figures.width).toBeLessThan(1000);

    const variants = await stack.database.db.selectFrom('asset_variants').select(['name', 'format', 'width', 'height', 'storage_key']).where('asset_id', '=', hero.id).execute();
    const names = variants.map((v) => v.name).sort();
    expect(names).toEqual(['amazon-main', 'google-shopping', 'marketplace-square', 'shopify', 'small-jpeg', 'tiny-jpeg']);
    const shopifyFile = variants.find((v) => v.name === 'shopify')!;
    expect(shopifyFile).toMatchObject({ format: 'jpeg', width: byProfile.get('shopify')!.figures.width });
    expect((await stack.storage.get(shopifyFile.storage_key)).length).toBe(byProfile.get('shopify')!.figures.bytes);
  });

  it('gates on the latest check: passes a pass, refuses a failure with its rules, refuses the never checked', async () => {
    const gate = channelGate(stack.database.db);
    const hero = itemOf(await currentAsset('hero'));
    const lifestyle = itemOf(await currentAsset('lifestyle'));
    expect(await gate(hero, 'shopify')).toEqual({ pass: true });
    const refused = await gate(hero, 'amazon-main');
    expect(refused.pass).toBe(false);
    expect(!refused.pass && refused.reason).toMatch(/^fails channel profile "amazon-main": .*minLongEdge: longest side \d+ px/);
    expect(await gate(lifestyle, 'amazon-main')).toEqual({
      pass: false,
      reason: `not checked: CH-1 lifestyle v${lifestyle.version} has no check against channel profile "amazon-main"`,
    });

    // A re-check replaces the row (idempotent per asset and profile): the gate follows the latest verdict.
    const [before] = (await channelChecksOf(stack.database.db, [hero.assetId])).get(hero.assetId)!.filter((c) => c.profile === 'amazon-main');
    const passing: ChannelCheckSummary = { ...before!, pass: true, failures: [] };
    await recordChannelChecks(stack.database.db, hero.assetId, [passing]);
    await recordChannelChecks(stack.database.db, hero.assetId, [passing]);
    expect(await gate(hero, 'amazon-main')).toEqual({ pass: true });
    await recordChannelChecks(stack.database.db, hero.assetId, [before!]);
    expect((await gate(hero, 'amazon-main')).pass).toBe(false);
  });

  it('status --channel <profile> --failing lists SKU, slot, version and the failed rules with figures', async () => {
    const hero = await currentAsset('hero');
    const [text, json, passing, noChannel, unknown] = await Promise.all([
      cli(['status', '--catalog', CATALOG, '--channel', 'amazon-main', '--failing']),
      cli(['status', '--catalog', CATALOG, '--channel', 'amazon-main', '--failing', '--json']),
      cli(['status', '--catalog', CATALOG, '--channel', 'shopify', '--failing']),
      cli(['status', '--catalog', CATALOG, '--failing']),
      cli(['status', '--catalog', CATALOG, '--channel', 'ebay']),
    ]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/catalog cli-channels · channel amazon-main: 1 live assets checked, 0 pass, 1 fail, 2 not checked/);
    expect(text.stdout).toMatch(new RegExp(`CH-1\\s+hero\\s+v${hero.version}\\s+fail\\s+\\d+x\\d+ jpeg\\s+\\d+/[\\d.]+\\s+[\\d.]+%\\s+.*minLongEdge: longest side \\d+ px`));

    const r = JSON.parse(json.stdout) as { counts: Record<string, number>; checks: Array<{ sku: string; slot: string; version: number; pass: boolean; failures: Array<{ rule: string }> }> };
    expect(r.counts).toEqual({ checked: 1, passing: 0, failing: 1, notChecked: 2 });
    expect(r.checks.map((c) => [c.sku, c.slot, c.version, c.pass])).toEqual([['CH-1', 'hero', hero.version, false]]);
    expect(r.checks[0]!.failures.map((f) => f.rule)).toContain('minLongEdge');

    expect(passing.code).toBe(0);
    expect(passing.stdout).toMatch(/3 live assets checked, 3 pass, 0 fail, 0 not checked\n {2}no live asset fails this profile/);
    expect(noChannel.code).toBe(2);
    expect(noChannel.stderr).toMatch(/--failing needs --channel <profile>/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--channel: unknown channel profile "ebay" for catalog "cli-channels"; known: amazon-main, google-shopping, shopify, marketplace-square/);
  });

  it('serves the same view over HTTP: GET /catalogs/:id/channels/:profile?failing=true', async () => {
    const service = await startService(stack.database.db);
    try {
      const get = async (path: string) => {
        const res = await fetch(`${service.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      const failing = await get(`/catalogs/${CATALOG}/channels/amazon-main?failing=true`);
      expect(failing.status).toBe(200);
      expect(failing.body).toMatchObject({ catalogId: CATALOG, profile: 'amazon-main', counts: { checked: 1, passing: 0, failing: 1, notChecked: 2 } });
      expect((failing.body.checks as Array<{ slot: string }>).map((c) => c.slot)).toEqual(['hero']);
      const all = await get(`/catalogs/${CATALOG}/channels/shopify`);
      expect((all.body.checks as Array<{ slot: string; pass: boolean }>).map((c) => [c.slot, c.pass])).toEqual([['hero', true], ['label', true], ['lifestyle', true]]);
      expect(await get(`/catalogs/${CATALOG}/channels/ebay`)).toMatchObject({ status: 400, body: { error: 'unknown_profile' } });
      expect(await get('/catalogs/nope/channels/shopify')).toMatchObject({ status: 404, body: { error: 'unknown_catalog' } });
      expect((await fetch(`${service.url}/catalogs/${CATALOG}/channels/shopify`)).status).toBe(401);
    } finally {
      await service.close();
    }
  });

  it('shows a badge per channel on the results page, the failed rules in its title', async () => {
    const data = (await loadResultsData(stack.database.db, CATALOG))!;
    const hero = data.rows[0]!.cells.find((c) => c.slot === 'hero')!;
    expect(hero.asset!.channels!.map((c) => [c.profile, c.pass])).toEqual([
      ['amazon-main', false],
      ['google-shopping', false],
      ['marketplace-square', false],
      ['shopify', true],
    ]);
    const html = renderResultsPage(data);
    expect(html).toContain('<span class="channel-badge pass" title="');
    expect(html).toMatch(/<span class="channel-badge fail" title="[^"]*minLongEdge: longest side \d+ px[^"]*">amazon-main ✗<\/span>/);
    expect(html).toMatch(/>shopify ✓<\/span>/);
    expect((html.match(/class="channel-badge /g) ?? []).length).toBe(8);
  });
});
