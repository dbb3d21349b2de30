/**
 * The publish step's parts, against a real Postgres and a recording fake destination: settings checks
 * that name the field, alt text, file choice, and the ledger of publications (idempotent, retried,
 * gated, failed with the reason, reopened by a rollback).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogSettingsError, readCatalogPlan, upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { unpublishedCurrentAssets } from '../../src/db/repositories/publications';
import { renderAltText } from '../../src/publish/altText';
import { PublishError, type ChannelGate } from '../../src/publish/destination';
import { chooseFile, type StoredAsset } from '../../src/publish/files';
import { validateCatalogSettings } from '../../src/publish/settings';
import { planSchema, TemplateError } from '../../src/shared/plan';
import type { PublishSkuInput, PublishSkuResult } from '../../src/shared/publish';
import { contentKey } from '../../src/storage/keys';
import { LocalDirStorage } from '../../src/storage/localDir';
import { createCatalogActivities } from '../../src/temporal/activities/catalog';
import type { ActivityDeps } from '../../src/temporal/activities/deps';
import { createPublishActivities, createPublishLedgerActivities } from '../../src/temporal/activities/publish';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { fakeEventKind, fakeKind, newRecord } from './fakeKind';

const record = newRecord();
const KINDS = [fakeKind(record), fakeEventKind(record)];
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function settingsError(settings: Record<string, unknown>): string {
  try {
    validateCatalogSettings(settings, KINDS);
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogSettingsError);
    return (err as Error).message;
  }
  throw new Error('expected the settings to be refused');
}

describe('publish settings', () => {
  it('accepts destinations of known kinds, with slots, profile and enabled', () => {
    expect(() =>
      validateCatalogSettings(
        { sceneReferences: [], publishGate: true, destinations: [{ name: 'shop', kind: 'fake', shop: 'eu', slots: { hero: 'zoom-jpeg', label: 'original', lifestyle: false }, profile: 'amazon', enabled: false }] },
        KINDS,
      ),
    ).not.toThrow();
    expect(() => validateCatalogSettings({}, KINDS)).not.toThrow();
  });

  it('refuses bad settings with an error naming the field and the reason', () => {
    expect(settingsError({ destinations: [{ name: 'shop', kind: 'nope' }] })).toMatch(/destinations\.0\.kind: unknown destination kind "nope" \(this build has: fake, fake-events\)/);
    expect(settingsError({ destinations: [{ name: 'shop', kind: 'fake' }] })).toMatch(/destinations\.0\.shop: /);
    expect(settingsError({ destinations: [{ name: 'shop', kind: 'fake', shop: 'eu', colour: 'red' }] })).toMatch(/destinations\.0/);
    expect(settingsError({ destinations: [{ name: 'shop', kind: 'fake', shop: 'eu', slots: { hero: 'Zoom JPEG' } }] })).toMatch(/destinations\.0\.slots\.hero: a variant name/);
    expect(settingsError({ destinations: [{ name: 'Shop EU', kind: 'fake', shop: 'eu' }] })).toMatch(/destinations\.0\.name: a lowercase destination name/);
    expect(
      settingsError({ destinations: [{ name: 'shop', kind: 'fake', shop: 'eu' }, { name: 'shop', kind: 'fake', shop: 'us' }] }),
    ).toMatch(/destinations\.1\.name: duplicate destination name "shop"/);
    expect(settingsError({ publishGate: 'yes' })).toMatch(/publishGate: /);
    expect(settingsError({ destinations: { name: 'shop' } })).toMatch(/destinations: /);
  });
});

describe('alt text', () => {
  it('renders the default template of each slot, in the product locale where values are localised', () => {
    const attributes = { name: { en_US: 'Night Cream', de_DE: 'Nachtcreme' }, brand: 'Lumen', colour: 'white', locale: 'de-DE' };
    expect(renderAltText({ name: 'hero' }, attributes)).toEqual({ altText: 'Lumen Nachtcreme, white', locale: 'de-DE' });
    expect(renderAltText({ name: 'label' }, { name: 'Night Cream' }).altText).toBe('Night Cream, packaging label');
    expect(renderAltText({ name: 'lifestyle' }, { name: 'Night Cream', brand: 'Lumen' }).altText).toBe('Lumen Night Cream in a home setting');
    expect(renderAltText({ name: 'other' }, { name: { fr_FR: 'Crème de nuit' }, locale: 'fr_CA' }).altText).toBe('Crème de nuit');
    expect(renderAltText({ name: 'hero', altTemplate: '{{name}} by {{brand}}' }, { name: 'Cream', brand: 'Lumen' }).altText).toBe('Cream by Lumen');
  });

  it('names the missing attribute a template requires', () => {
    expect(() => renderAltText({ name: 'hero', altTemplate: '{{name}} in {{material}}' }, { name: 'Cream' })).toThrow(TemplateError);
    expect(() => renderAltText({ name: 'hero', altTemplate: '{{name}} in {{material}}' }, { name: 'Cream' })).toThrow(/"material"/);
  });

  it('is checked with the plan, and a malformed one names its field', () => {
    const bad = planSchema.safeParse({ version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'x {{name}}', altTemplate: '{{name' }] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['slots', 0, 'altTemplate']);
  });
});

describe('file choice', () => {
  const asset: StoredAsset = {
    format: 'png',
    width: 2048,
    height: 2048,
    checksum: 'c0ffee',
    storage_key: 'originals/aa/bb.png',
    variants: [
      { name: 'zoom-avif', format: 'avif', width: 2000, height: 2000, bytes: 10, sha256: 'a', storage_key: 'v/zoom.avif' },
      { name: 'zoom-jpeg', format: 'jpeg', width: 2000, height: 2000, bytes: 30, sha256: 'j', storage_key: 'v/zoom.jpg' },
      { name: 'thumb-jpeg', format: 'jpeg', width: 200, height: 200, bytes: 3, sha256: 't', storage_key: 'v/thumb.jpg' },
    ],
  };
  const o = { field: 'destinations.0.slots.hero', bytesOfOriginal: async () => 99 };

  it('takes the largest variant by default (JPEG first among equals), the named one, or the original; with a public URL where configured', async () => {
    expect((await chooseFile(asset, undefined, o)).variant).toBe('zoom-jpeg');
    expect(await chooseFile(asset, 'thumb-jpeg', { ...o, publicBaseUrl: 'https://cdn.example.com/a/' })).toMatchObject({
      variant: 'thumb-jpeg',
      contentType: 'image/jpeg',
      publicUrl: 'https://cdn.example.com/a/v/thumb.jpg',
    });
    expect(await chooseFile(asset, 'original', o)).toMatchObject({ variant: 'original', format: 'png', bytes: 99, sha256: 'c0ffee' });
  });

  it('names the field when the variant does not exist', async () => {
    await expect(chooseFile(asset, 'hero-webp', o)).rejects.toThrow(/destinations\.0\.slots\.hero: variant "hero-webp" is not one of this asset's variants \(zoom-avif, zoom-jpeg, thumb-jpeg, or original\)/);
  });
});

describe('the ledger of publications', () => {
  const CATALOG = 'ledger';
  let database: TestDatabase;
  let storageDir: string;
  let deps: ActivityDeps;
  let gateAnswer: Awaited<ReturnType<ChannelGate>> = { pass: true };
  const gateCalls: string[] = [];

  async function addAsset(sku: string, slot: string, version: number): Promise<string> {
    const db = database.db;
    const bytes = Buffer.from(`image ${sku} ${slot} v${version}`);
    const key = contentKey(createHash('sha256').update(bytes).digest('hex'), 'jpg', 'variants');
    await deps.storage.put(key, bytes, 'image/jpeg');
    const job = await db
      .insertInto('generation_jobs')
      .values({
        idempotency_key: `k-${sku}-${slot}-${version}`, catalog_id: CATALOG, sku, slot, workflow_id: 'w', run_id: 'r', operation: 'generate', model: 'm',
        fingerprint: `fp-${version}`, status: 'completed', images_requested: 1, updated_at: new Date(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const asset = await db
      .insertInto('assets')
      .values({
        catalog_id: CATALOG, sku, slot, version, fingerprint: `fp-${version}`, generation_job_id: job.id, output_index: 0, prompt: 'p', checksum: `sum-${version}`,
        width: 64, height: 64, format: 'jpeg', storage_key: key, placeholder: '', dominant_color: '#ffffff', cost_cents: 4, status: 'current', updated_at: new Date(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db.insertInto('asset_variants').values({ asset_id: asset.id, name: 'small-jpeg', format: 'jpeg', width: 64, height: 64, bytes: bytes.length, sha256: 's', storage_key: key }).execute();
    await db
      .insertInto('current_assets')
      .values({ catalog_id: CATALOG, sku, slot, asset_id: asset.id, updated_at: new Date() })
      .onConflict((oc) => oc.columns(['catalog_id', 'sku', 'slot']).doUpdateSet({ asset_id: asset.id }))
      .execute();
    return asset.id;
  }

  const plan = {
    version: 1,
    slots: [
      { name: 'hero', kind: 'generate', promptTemplate: 'Photo of {{name}}' },
      { name: 'side', kind: 'generate', promptTemplate: 'Side of {{name}}', altTemplate: 'Side of {{name}}' },
    ],
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    storageDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-publish-'));
    deps = {
      db: database.db,
      storage: new LocalDirStorage(storageDir),
      model: 'seedream-4.5',
      providerIdentity: 'simulator test',
      maxPaidAttempts: 2,
      destinationKinds: KINDS,
      channelGate: (async (item, profile) => {
        gateCalls.push(`${item.sku}/${item.slot}/${profile}`);
        return gateAnswer;
      }) satisfies ChannelGate,
    } as unknown as ActivityDeps;
    await upsertCatalog(database.db, {
      id: CATALOG,
      plan,
      settings: { destinations: [{ name: 'shop', kind: 'fake', shop: 'eu', slots: { side: false } }, { name: 'market', kind: 'fake', shop: 'm', profile: 'marketplace' }] },
    });
    await upsertProducts(database.db, ['A', 'B'].map((sku) => ({ catalogId: CATALOG, sku, name: `Cream ${sku}`, attributes: { name: `Cream ${sku}` }, attributesFingerprint: sku, source: 'test' })));
  });
  afterAll(async () => {
    await database?.drop();
    if (storageDir) await fs.rm(storageDir, { recursive: true, force: true });
  });

  it('refuses invalid shared settings on write, and reads invalid stored settings as a problem', async () => {
    await expect(upsertCatalog(database.db, { id: 'bad', settings: { destinations: [{ kind: 'fake' }] } })).rejects.toThrow(/destinations\.0\.name/);
    await upsertCatalog(database.db, { id: 'bad' });
    await sql`update catalogs set settings = ${JSON.stringify({ destinations: 'shop' })}::jsonb where id = 'bad'`.execute(database.db);
    const read = await readCatalogPlan(database.db, 'bad');
    expect(read?.publish).toBeUndefined();
    expect(read?.publishProblem).toMatch(/invalid catalog settings at destinations: /);
    const activities = createPublishActivities(deps);
    await expect(activities.publishSku({ catalogId: 'bad', sku: 'A', destination: 'shop', requestedBy: 'test' })).rejects.toMatchObject({
      type: 'DestinationConfigInvalid',
      nonRetryable: true,
    });
  });

  it('publishes each current asset once; a second call sends nothing', async () => {
    await addAsset('A', 'hero', 1);
    await addAsset('A', 'side', 1);
    const activities = createPublishActivities(deps);
    const ledger = createPublishLedgerActivities(deps);
    expect(await ledger.destinationsToPublish({ catalogId: CATALOG, sku: 'A' })).toEqual(['market', 'shop']);
    const first = await activities.publishSku({ catalogId: CATALOG, sku: 'A', destination: 'shop', requestedBy: 'test' });
    // `side: false` keeps the side image away from the shop.
    expect(first.published.map((p) => p.slot)).toEqual(['hero']);
    expect(record.calls.filter((c) => c.destination === 'shop')).toEqual([expect.objectContaining({ sku: 'A', slot: 'hero', version: 1, altText: 'Cream A', outcome: 'uploaded' })]);
    const second = await activities.publishSku({ catalogId: CATALOG, sku: 'A', destination: 'shop', requestedBy: 'test' });
    expect(second).toMatchObject({ published: [], failed: [], unchanged: 1 });
    expect(record.calls.filter((c) => c.destination === 'shop')).toHaveLength(1);
    expect(await ledger.destinationsToPublish({ catalogId: CATALOG, sku: 'A' })).toEqual(['market']);
  });

  it('asks the channel gate when publishGate is on and the destination names a profile', async () => {
    await upsertCatalog(database.db, {
      id: CATALOG,
      settings: { publishGate: true, destinations: [{ name: 'shop', kind: 'fake', shop: 'eu', slots: { side: false } }, { name: 'market', kind: 'fake', shop: 'm', profile: 'marketplace' }] },
    });
    gateAnswer = { pass: false, reason: 'marketplace wants a white background' };
    const activities = createPublishActivities(deps);
    const r = await activities.publishSku({ catalogId: CATALOG, sku: 'A', destination: 'market', requestedBy: 'test' });
    expect(r.skipped).toEqual([
      { slot: 'hero', version: 1, reason: 'marketplace wants a white background' },
      { slot: 'side', version: 1, reason: 'marketplace wants a white background' },
    ]);
    expect(gateCalls).toEqual(['A/hero/marketplace', 'A/side/marketplace']);
    const rows = await database.db.selectFrom('publications').select(['slot', 'status', 'last_error']).where('destination', '=', 'market').orderBy('slot').execute();
    expect(rows.map((x) => x.status)).toEqual(['skipped', 'skipped']);
    gateAnswer = { pass: true };
    const again = await activities.publishSku({ catalogId: CATALOG, sku: 'A', destination: 'market', requestedBy: 'test' });
    expect(again.published.map((p) => p.slot)).toEqual(['hero', 'side']);
  });

  it('a retryable error ends the try with the destination\'s Retry-After; the retry finds its row', async () => {
    await addAsset('B', 'hero', 1);
    record.faults.push({ sku: 'B', destination: 'shop', error: new PublishError('503 Service Unavailable', 'unavailable', true, 700) });
    const env = new MockActivityEnvironment({ attempt: 1 }, { logger: quiet });
    const activities = createPublishActivities(deps);
    const err = await env.run((i: PublishSkuInput) => activities.publishSku(i), { catalogId: CATALOG, sku: 'B', destination: 'shop', requestedBy: 'test' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'DestinationUnavailable', nonRetryable: false, nextRetryDelay: 700 });
    const pending = await database.db.selectFrom('publications').select(['status', 'attempts', 'error_code', 'last_error']).where('sku', '=', 'B').where('destination', '=', 'shop').executeTakeFirstOrThrow();
    expect(pending).toEqual({ status: 'pending', attempts: 1, error_code: 'unavailable', last_error: '503 Service Unavailable' });
    const retry = new MockActivityEnvironment({ attempt: 2 }, { logger: quiet });
    const r: PublishSkuResult = await retry.run((i: PublishSkuInput) => activities.publishSku(i), { catalogId: CATALOG, sku: 'B', destination: 'shop', requestedBy: 'test' });
    expect(r.published).toEqual([expect.objectContaining({ slot: 'hero', version: 1, alreadyPresent: false })]);
    const done = await database.db.selectFrom('publications').select(['status', 'attempts', 'last_error']).where('sku', '=', 'B').where('destination', '=', 'shop').executeTakeFirstOrThrow();
    expect(done).toEqual({ status: 'published', attempts: 2, last_error: null });
  });

  it('on the last try a retryable error ends the publication failed, with the reason', async () => {
    await addAsset('B', 'hero', 2);
    record.faults.push({ sku: 'B', destination: 'shop', error: new PublishError('429 Too Many Requests', 'rate_limited', true, 1000) });
    const last = new MockActivityEnvironment({ attempt: 8 }, { logger: quiet });
    const r: PublishSkuResult = await last.run((i: PublishSkuInput) => createPublishActivities(deps).publishSku(i), { catalogId: CATALOG, sku: 'B', destination: 'shop', requestedBy: 'test' });
    expect(r.failed).toEqual([{ slot: 'hero', version: 2, errorType: 'rate_limited', message: 'gave up after 8 tries: 429 Too Many Requests' }]);
    const row = await database.db.selectFrom('publications').select(['status', 'error_code']).where('sku', '=', 'B').where('version', '=', 2).where('destination', '=', 'shop').executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'failed', error_code: 'rate_limited' });
    // The next run sends it again.
    const next = await createPublishActivities(deps).publishSku({ catalogId: CATALOG, sku: 'B', destination: 'shop', requestedBy: 'test' });
    expect(next.published.map((p) => p.version)).toEqual([2]);
  });

  it('a rollback (the current pointer back on an older version) reopens that version, sent again as a republish', async () => {
    const v1 = await database.db.selectFrom('assets').select('id').where('sku', '=', 'B').where('version', '=', 1).executeTakeFirstOrThrow();
    await database.db.updateTable('current_assets').set({ asset_id: v1.id }).where('sku', '=', 'B').where('slot', '=', 'hero').execute();
    const pending = await unpublishedCurrentAssets(database.db, { catalogId: CATALOG, destinations: ['shop'], skus: ['B'] });
    expect(pending).toEqual([expect.objectContaining({ sku: 'B', slot: 'hero', version: 1, status: 'published', shownVersion: 2 })]);
    const r = await createPublishActivities(deps).publishSku({ catalogId: CATALOG, sku: 'B', destination: 'shop', requestedBy: 'rollback' });
    expect(r.published).toEqual([expect.objectContaining({ version: 1, republished: true, alreadyPresent: true })]);
    expect(await unpublishedCurrentAssets(database.db, { catalogId: CATALOG, destinations: ['shop'], skus: ['B'] })).toEqual([]);
    expect([...record.uploads.values()].every((n) => n === 1)).toBe(true);
  });

  it('an alt text template that needs a missing attribute fails that publication with the attribute named', async () => {
    await upsertCatalog(database.db, {
      id: CATALOG,
      plan: { ...plan, slots: [{ ...plan.slots[0]!, altTemplate: '{{name}} in {{material}}' }, plan.slots[1]!] },
    });
    await addAsset('A', 'hero', 2);
    const r = await createPublishActivities(deps).publishSku({ catalogId: CATALOG, sku: 'A', destination: 'shop', requestedBy: 'test' });
    expect(r.failed).toEqual([expect.objectContaining({ slot: 'hero', version: 2, errorType: 'invalid_product_data', message: expect.stringMatching(/alt text: missing product attribute "material"/) })]);
  });

  it('the alt template is no part of the slot fingerprint', async () => {
    const catalog = createCatalogActivities(deps);
    await upsertCatalog(database.db, { id: 'fp', plan: { version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Photo of {{name}}' }] } });
    await upsertProducts(database.db, [{ catalogId: 'fp', sku: 'A', name: 'Cream', attributes: { name: 'Cream' }, attributesFingerprint: 'x', source: 'test' }]);
    const input = { catalogId: 'fp', sku: 'A', slot: 'hero', workflowId: 'w', dependencies: {}, dryRun: true, force: false };
    const before = await catalog.prepareSlot(input);
    await upsertCatalog(database.db, { id: 'fp', plan: { version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Photo of {{name}}', altTemplate: 'A jar of {{name}}' }] } });
    const after = await catalog.prepareSlot(input);
    expect(after.fingerprint).toBe(before.fingerprint);
  });
});
