/**
 * Publishing end to end with the REAL destination kinds against the REAL stand-ins (Akeneo's Asset
 * Manager, Shopify's Admin GraphQL API, a Standard Webhooks receiver), started the way `npm start`
 * starts them (src/local/destinations.ts), on the real dev server: refreshes publish what became
 * current and nothing more, a changed SKU republishes only itself, a rollback republishes the chosen
 * version without uploading it again, and faults at each destination end every SKU published or
 * failed with its reason, never with a second upload of one asset version.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { deliveryRecorder, listDeliveries } from '../../src/db/repositories/deliveries';
import { upsertProducts } from '../../src/db/repositories/products';
import { startLocalDestinations, type LocalDestinations } from '../../src/local/destinations';
import type { DestinationContext } from '../../src/publish/destination';
import { PUBLISH_MAX_ATTEMPTS } from '../../src/shared/publish';
import { publishRunResult } from '../../src/temporal/client/publish';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { bareEnv, runCli } from '../helpers/cli';
import { startTestStack, type TestStack } from '../helpers/stack';
import { TWO_SLOT_PLAN } from '../publish/plans';

const CATALOG = 'e2e';
const PLAN = TWO_SLOT_PLAN;
const SKUS = ['E-1', 'E-2', 'E-3', 'E-4'];
/** SKUs added later for the fault rounds; F-4 is not in the shop (a permanent failure there). */
const FAULT_SKUS = ['F-1', 'F-2', 'F-3', 'F-4', 'F-5'];
const DESTS = ['pim', 'shop', 'events'];

function product(sku: string, brand = 'Orbit') {
  const attributes = { name: `Serum ${sku}`, brand, locale: 'de-DE' };
  return { catalogId: CATALOG, sku, name: attributes.name, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'test' };
}

describe('publishing to the stand-ins end to end', () => {
  let stack: TestStack;
  let local: LocalDestinations;
  let secret: string;

  const akeneo = () => local.akeneo!;
  const shopify = () => local.shopify!;
  const receiver = () => local.events!;

  async function publications(sku?: string) {
    let q = stack.database.db
      .selectFrom('publications')
      .select(['sku', 'slot', 'version', 'destination', 'status', 'attempts', 'sends', 'error_code', 'last_error', 'remote_id'])
      .where('catalog_id', '=', CATALOG);
    if (sku) q = q.where('sku', '=', sku);
    return q.orderBy('sku').orderBy('slot').orderBy('destination').orderBy('version').execute();
  }

  async function runSku(sku: string): Promise<ProductWorkflowResult> {
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
    return stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
  }

  async function refresh(selection: 'all' | 'changed') {
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection, dryRun: false, trigger: 'manual' });
    return refreshResult(stack.client, workflowId);
  }

  /** What each stand-in holds, as counts that must not move when nothing new is published. */
  function snapshot() {
    return {
      akeneoUploads: akeneo().record.uploads.length,
      akeneoWrites: akeneo().record.assetWrites.length,
      shopifyUploads: shopify().record.uploads.length,
      shopifyAttached: shopify().record.attached.length,
      published: receiver().record.accepted().filter((a) => a.event?.type === 'asset.published').length,
    };
  }

  /** The stand-ins' records: one Akeneo asset write and one Shopify attach per asset version, at most. */
  function expectNothingTwice() {
    const writes = akeneo().record.assetWrites.filter((w) => w.status === 201 || w.status === 204);
    const writesPerCode = new Map<string, number>();
    for (const w of writes) writesPerCode.set(w.code, (writesPerCode.get(w.code) ?? 0) + 1);
    expect([...writesPerCode.entries()].filter(([, n]) => n > 1)).toEqual([]);
    // Every media file an asset references was uploaded once; an upload whose answer was dropped is an orphan no asset references.
    const referenced = new Set(writes.flatMap((w) => w.mediaFileCodes));
    for (const u of akeneo().record.uploads) {
      if (u.dropped) expect(referenced.has(u.code)).toBe(false);
    }
    const shopUploads = new Map<string, number>();
    for (const u of shopify().record.uploads) shopUploads.set(u.filename, (shopUploads.get(u.filename) ?? 0) + 1);
    expect([...shopUploads.entries()].filter(([, n]) => n > 1)).toEqual([]);
    const attached = new Map<string, number>();
    for (const a of shopify().record.attached) attached.set(`${a.sku}|${a.filename}`, (attached.get(`${a.sku}|${a.filename}`) ?? 0) + 1);
    expect([...attached.entries()].filter(([, n]) => n > 1)).toEqual([]);
  }

  /** The test's own check of a delivery's signature (Standard Webhooks: HMAC-SHA256 over "id.timestamp.body"). */
  function signatureValid(headers: Record<string, string>, raw: string): boolean {
    const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret);
    const expected = createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${raw}`).digest();
    return (headers['webhook-signature'] ?? '').split(' ').some((s) => {
      const [v, sig] = s.split(',');
      const got = Buffer.from(sig ?? '', 'base64');
      return v === 'v1' && got.length === expected.length && timingSafeEqual(got, expected);
    });
  }

  beforeAll(async () => {
    local = await startLocalDestinations({ products: [...SKUS, ...FAULT_SKUS.filter((s) => s !== 'F-4')].map((sku) => ({ sku, name: `Serum ${sku}`, locale: 'de-DE' })) });
    secret = Object.entries(local.env).find(([k]) => k === 'CATALOG_EVENTS_SECRET')![1];
    const context: DestinationContext = { env: local.env };
    stack = await startTestStack({ deps: { destinationContext: context } });
    context.recordDelivery = deliveryRecorder(stack.database.db);
    await upsertCatalog(stack.database.db, { id: CATALOG, name: 'End to end', plan: PLAN, settings: { destinations: local.destinations } });
    await upsertProducts(stack.database.db, SKUS.map((s) => product(s)));
  });
  afterAll(async () => {
    await stack?.close();
    await local?.close();
  });

  it('a refresh publishes every current asset to Akeneo and Shopify and sends signed asset.published events', async () => {
    const result = await refresh('all');
    expect(result).toMatchObject({ generated: 4, failed: 0 });
    const rows = await publications();
    expect(rows).toHaveLength(SKUS.length * 2 * DESTS.length);
    expect(rows.filter((r) => r.status !== 'published')).toEqual([]);
    expect(rows.every((r) => r.sends === 1)).toBe(true);

    expect(akeneo().record.uploads).toHaveLength(8);
    expect(akeneo().record.assetWrites.filter((w) => w.status === 201)).toHaveLength(8);
    for (const sku of SKUS) expect(akeneo().record.productLinks.packshots?.[sku]).toHaveLength(2);

    expect(shopify().record.uploads).toHaveLength(8);
    for (const sku of SKUS) {
      const media = shopify().productMedia(sku);
      expect(media).toHaveLength(2);
      expect(media.map((m) => m.alt).sort()).toEqual([`Orbit Serum ${sku}`, `Serum ${sku} seen from the side`]);
    }

    const published = receiver().record.accepted().filter((a) => a.event?.type === 'asset.published');
    expect(published).toHaveLength(8);
    expect(new Set(published.map((a) => a.event!.id)).size).toBe(8);
    expect(published.every((a) => signatureValid(a.headers, a.raw))).toBe(true);
    expect(published.map((a) => `${String(a.event!.data.sku)}/${String(a.event!.data.slot)}`).sort()).toEqual(SKUS.flatMap((s) => [`${s}/hero`, `${s}/side`]));
    await expect.poll(() => receiver().record.accepted().filter((a) => a.event?.type === 'refresh.completed').length, { timeout: 10_000 }).toBe(1);
    expectNothingTwice();
  });

  it('a second refresh publishes nothing new', async () => {
    const before = snapshot();
    const result = await refresh('all');
    expect(result).toMatchObject({ generated: 0, failed: 0 });
    expect(snapshot()).toEqual(before);
    expect((await publications()).every((r) => r.sends === 1)).toBe(true);
  });

  it('a changed SKU republishes only that SKU', async () => {
    const before = snapshot();
    const akeneoUploads = akeneo().record.uploads.length;
    const shopUploads = shopify().record.uploads.length;
    await upsertProducts(stack.database.db, [product('E-2', 'Nova')]);
    await refresh('changed');
    expect(snapshot()).toEqual({ ...before, akeneoUploads: before.akeneoUploads + 2, akeneoWrites: before.akeneoWrites + 2, shopifyUploads: before.shopifyUploads + 2, shopifyAttached: before.shopifyAttached + 2, published: before.published + 2 });
    const fresh = (await publications()).filter((r) => r.version === 2);
    expect(fresh.map((r) => `${r.sku}/${r.slot}/${r.destination}/${r.status}`).sort()).toEqual(
      ['hero', 'side'].flatMap((slot) => DESTS.map((d) => `E-2/${slot}/${d}/published`)).sort(),
    );
    expect(akeneo().record.uploads.slice(akeneoUploads)).toHaveLength(2);
    expect(shopify().record.uploads.slice(shopUploads).every((u) => u.filename.length > 0)).toBe(true);
    expect(shopify().productMedia('E-2').map((m) => m.alt)).toContain('Nova Serum E-2');
    expectNothingTwice();
  });

  it('a rollback republishes the chosen version and uploads nothing twice', async () => {
    const before = snapshot();
    const attempts = receiver().record.attempts.length;
    // `catalog-assets assets rollback`, the real bin: it rolls the slot back and starts the publish run.
    const env = { TEMPORAL_ADDRESS: stack.temporalAddress, TEMPORAL_NAMESPACE: stack.namespace, TEMPORAL_TASK_QUEUE_PREFIX: stack.prefix, DATABASE_URL: stack.database.url, LOG_LEVEL: 'silent' };
    const cli = await runCli(['assets', 'rollback', '--catalog', CATALOG, '--sku', 'E-2', '--slot', 'hero', '--json'], bareEnv(env));
    expect(cli.code, cli.stderr).toBe(0);
    const out = JSON.parse(cli.stdout.trim()) as { from: number; to: number; publish?: { destinations: string[]; workflowId?: string } };
    expect(out).toMatchObject({ from: 2, to: 1, publish: { destinations: DESTS } });
    const result = await publishRunResult(stack.client, out.publish!.workflowId!);
    expect(result.errors).toEqual([]);
    for (const d of ['pim', 'shop']) {
      const r = result.results.find((x) => x.destination === d)!;
      expect(r.failed).toEqual([]);
      expect(r.published).toEqual([expect.objectContaining({ slot: 'hero', version: 1, republished: true, alreadyPresent: true })]);
    }
    const v1 = (await publications('E-2')).filter((r) => r.slot === 'hero' && r.version === 1);
    expect(v1.map((r) => `${r.destination}/${r.status}/${r.sends}`).sort()).toEqual(['events/published/2', 'pim/published/2', 'shop/published/2']);
    // Nothing uploaded or written again: both destinations still hold version 1.
    const now = snapshot();
    expect({ ...now, published: before.published }).toEqual(before);
    // The receiver hears that version 1 is published again, once, under an id it has not seen: a receiver
    // that drops duplicates by event id drops retried deliveries, never a rollback's notice.
    const again = receiver().record.attempts.slice(attempts).filter((a) => a.accepted && a.event?.type === 'asset.published');
    expect(again).toHaveLength(1);
    expect(again[0]!.event!.data).toMatchObject({ sku: 'E-2', slot: 'hero', version: 1, republish: true });
    const earlierIds = receiver().record.attempts.slice(0, attempts).map((a) => a.event?.id);
    expect(earlierIds).not.toContain(again[0]!.event!.id);
    expectNothingTwice();
  });

  it('faults at every destination: each SKU ends published or failed with its reason, nothing uploaded twice', async () => {
    await upsertProducts(stack.database.db, FAULT_SKUS.map((s) => product(s)));
    // Per round: files that reach each stand-in (Akeneo's F-2 uploads one more: the documented orphan).
    const expected: Record<string, { akeneoUploads: number; akeneoWrites: number; shopifyUploads: number }> = {
      'F-1': { akeneoUploads: 2, akeneoWrites: 2, shopifyUploads: 2 },
      'F-2': { akeneoUploads: 3, akeneoWrites: 2, shopifyUploads: 2 },
      'F-3': { akeneoUploads: 2, akeneoWrites: 2, shopifyUploads: 2 },
      'F-4': { akeneoUploads: 2, akeneoWrites: 2, shopifyUploads: 0 },
      'F-5': { akeneoUploads: 0, akeneoWrites: 0, shopifyUploads: 2 },
    };
    const rounds: Array<{ sku: string; arm(): void }> = [
      {
        // An expired token, a 429 burst with Retry-After; Shopify THROTTLED and 429; the receiver 503 then 429.
        sku: 'F-1',
        arm() {
          akeneo().setFaults([
            { kind: 'expiredToken', on: 'api', times: 1 },
            { kind: 'rateLimit', on: 'api', times: 2, retryAfterSeconds: 1 },
            { kind: 'rateLimit', on: 'upload', times: 1, retryAfterSeconds: 1, asHttpDate: true },
          ]);
          shopify().setFaults({ throttled: 2, http429: { count: 2, retryAfterSeconds: 1 } });
          receiver().setFaults([{ kind: 'status', status: 503, times: 1 }, { kind: 'rate_limit', retryAfter: '1', times: 1 }]);
        },
      },
      {
        // 5xx everywhere, and connections dropped after the upload (Akeneo, Shopify) or the delivery was accepted.
        sku: 'F-2',
        arm() {
          akeneo().setFaults([
            { kind: 'serverError', on: 'patchAsset', times: 1, status: 502 },
            { kind: 'dropAfterAccept', on: 'upload', times: 1 },
          ]);
          shopify().setFaults({ http5xx: 1, dropAfterUpload: 1 });
          receiver().setFaults([{ kind: 'drop', afterAccept: true, times: 1 }]);
        },
      },
      {
        // A write applied and then its answer lost (Akeneo's asset PATCH, Shopify's productUpdate); the receiver drops before reading.
        sku: 'F-3',
        arm() {
          akeneo().setFaults([{ kind: 'dropAfterAccept', on: 'patchAsset', times: 1 }]);
          shopify().setFaults({ dropAfterAttach: 1 });
          receiver().setFaults([{ kind: 'drop', times: 1 }]);
        },
      },
      {
        // Not a product of the shop: a permanent failure there; the PIM still gets it.
        sku: 'F-4',
        arm() {
          akeneo().setFaults([]);
          shopify().setFaults({});
          receiver().setFaults([]);
        },
      },
      {
        // The PIM answers 429 to every call (short Retry-After): the publication gives up after its last try, failed with the reason.
        sku: 'F-5',
        arm() {
          akeneo().setFaults([{ kind: 'rateLimit', on: 'api', times: 1000, retryAfterSeconds: 1 }]);
        },
      },
    ];
    for (const round of rounds) {
      round.arm();
      const before = snapshot();
      const result = await runSku(round.sku);
      const after = snapshot();
      expect({ akeneoUploads: after.akeneoUploads - before.akeneoUploads, shopifyUploads: after.shopifyUploads - before.shopifyUploads }, round.sku).toEqual({ akeneoUploads: expected[round.sku]!.akeneoUploads, shopifyUploads: expected[round.sku]!.shopifyUploads });
      expect(after.akeneoWrites - before.akeneoWrites, round.sku).toBe(expected[round.sku]!.akeneoWrites);
      expect(after.shopifyAttached - before.shopifyAttached, round.sku).toBe(expected[round.sku]!.shopifyUploads);
      expect(result.outcome, round.sku).toBe('generated');
      const rows = await publications(round.sku);
      expect(rows, round.sku).toHaveLength(2 * DESTS.length);
      for (const r of rows) {
        expect(['published', 'failed'], `${r.sku}/${r.slot}/${r.destination}`).toContain(r.status);
        if (r.status === 'failed') expect(r.last_error, `${r.sku}/${r.slot}/${r.destination}`).toBeTruthy();
      }
      if (round.sku !== 'F-4' && round.sku !== 'F-5') expect(rows.filter((r) => r.status !== 'published'), round.sku).toEqual([]);
      expectNothingTwice();
    }

    akeneo().setFaults([]);
    const f5 = (await publications('F-5')).filter((r) => r.destination === 'pim');
    expect(f5.map((r) => r.status)).toEqual(['failed', 'failed']);
    for (const r of f5) expect(r.last_error).toMatch(/429|too many/i);
    expect(f5[0]!.attempts).toBe(PUBLISH_MAX_ATTEMPTS);
    const f5Failed = receiver().record.accepted().filter((a) => a.event?.type === 'asset.failed' && a.event.data.sku === 'F-5');
    expect(f5Failed.map((a) => a.event!.data.destination)).toEqual(['pim', 'pim']);

    // The faults were met (the rounds tested what they claim).
    const answered = akeneo().record.requests.map((r) => r.status);
    expect(answered.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    expect(answered).toContain(401);
    expect(answered).toContain(502);
    expect(akeneo().record.requests.filter((r) => r.fault === 'dropAfterAccept').map((r) => r.route).sort()).toEqual(['patchAsset', 'upload']);
    expect(akeneo().record.tokens.length).toBeGreaterThan(1);
    expect(new Set(shopify().record.calls.flatMap((c) => (c.fault ? [c.fault] : [])))).toEqual(new Set(['throttled', '429', '5xx', 'dropAfterAttach']));

    // F-4 is not in the shop: failed with the reason, once; Akeneo and the events published.
    const f4 = await publications('F-4');
    expect(f4.filter((r) => r.destination === 'shop').map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(f4.find((r) => r.destination === 'shop')!.last_error).toMatch(/F-4/);
    expect(f4.filter((r) => r.destination !== 'shop').every((r) => r.status === 'published')).toBe(true);
    const failedEvents = receiver().record.accepted().filter((a) => a.event?.type === 'asset.failed' && a.event.data.sku === 'F-4');
    expect(failedEvents.length).toBeGreaterThanOrEqual(1);
    expect(failedEvents[0]!.event!.data).toMatchObject({ stage: 'publish', destination: 'shop' });

    // The one documented Akeneo orphan: the upload whose answer was dropped is referenced by no asset,
    // and its asset version was written once, with the file uploaded again.
    const orphans = akeneo().record.uploads.filter((u) => u.dropped);
    expect(orphans).toHaveLength(1);
    const f2Writes = akeneo().record.assetWrites.filter((w) => w.values.sku?.[0]?.data === 'F-2' && !w.dropped);
    expect(f2Writes).toHaveLength(2);

    // One asset per published version in the PIM, written once, linked to its product by the family's rule.
    const pimPublished = (await publications()).filter((r) => r.destination === 'pim' && r.status === 'published');
    expect(akeneo().assets('packshots')).toHaveLength(pimPublished.length);
    expect(akeneo().record.assetWrites).toHaveLength(pimPublished.length);
    for (const sku of FAULT_SKUS.slice(0, 4)) expect(akeneo().record.productLinks.packshots?.[sku], sku).toHaveLength(2);
    for (const sku of ['F-1', 'F-2', 'F-3', 'F-5']) expect(shopify().productMedia(sku), sku).toHaveLength(2);

    // Duplicate deliveries (the receiver kept one whose answer it dropped) carry the same event id.
    const accepted = receiver().record.accepted();
    const dups = accepted.filter((a) => a.duplicate);
    expect(dups.length).toBeGreaterThanOrEqual(1);
    for (const d of dups) expect(accepted.filter((a) => a.event?.id === d.event?.id).length).toBeGreaterThan(1);
    // The delivery log (`events list`) shows the lost answer and the redelivery under that same id.
    const dropped = receiver().record.attempts.find((a) => a.fault === 'drop' && a.accepted);
    expect(dropped?.event).toBeDefined();
    const log = await listDeliveries(stack.database.db, { catalogId: CATALOG, destination: 'events', eventId: dropped!.event!.id });
    expect(log.map((l) => l.outcome).reverse()).toEqual(['retryable', 'delivered']);
    expect(log[1]!.error).toMatch(/network error/);
    expect(accepted.every((a) => signatureValid(a.headers, a.raw))).toBe(true);
    // Every send of every asset version reached the receiver under one id each (a rollback's republish
    // is a send of its own; retried deliveries of one send share its id).
    const publishedIds = new Set(accepted.filter((a) => a.event?.type === 'asset.published').map((a) => a.event!.id));
    const publishedRows = (await publications()).filter((r) => r.destination === 'events' && r.status === 'published');
    expect(publishedIds.size).toBe(publishedRows.reduce((n, r) => n + r.sends, 0));
  });
});
