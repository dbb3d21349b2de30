/**
 * The Shopify destination against its stand-in, over real HTTP: product media by staged upload and
 * productUpdate, idempotent re-publishing, the cost throttle, faults, image limits and settings.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../src/dev/testImages';
import { startShopifyStandIn, type ShopifyStandIn, type ShopifyStandInOptions } from '../../src/dev/standins/shopify';
import { PublishError, type DestinationAdapter, type PublishFile, type PublishItem } from '../../src/publish/destination';
import { SHOPIFY_API_VERSION, shopifyKind } from '../../src/publish/shopify';
import { checkShopifyLimits, publicationFileName, urlCarriesMarker } from '../../src/publish/shopify/limits';

let jpeg: Buffer;
const stores = new Map<string, Buffer>();
const readFile = async (key: string) => {
  const bytes = stores.get(key);
  if (!bytes) throw new Error(`no stored file ${key}`);
  return bytes;
};

beforeAll(async () => {
  jpeg = await makeTestImage({ width: 640, height: 640, format: 'jpeg', text: 'SKU' });
  stores.set('assets/zoom.jpg', jpeg);
});

const running: ShopifyStandIn[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function standIn(o: ShopifyStandInOptions = {}): Promise<ShopifyStandIn> {
  const s = await startShopifyStandIn({ products: [{ sku: 'TEA-1', title: 'Green tea' }, { sku: 'TEA-10', title: 'Black tea' }], ...o });
  running.push(s);
  return s;
}

function adapter(s: ShopifyStandIn, extra: Record<string, unknown> = {}): DestinationAdapter {
  const settings = shopifyKind.settingsSchema.parse({ name: 'shop-eu', kind: 'shopify', shop: s.url, ...extra });
  return shopifyKind.create(settings, { env: { SHOPIFY_ADMIN_TOKEN: s.token } });
}

function file(over: Partial<PublishFile> = {}): PublishFile {
  return {
    variant: 'zoom',
    format: 'jpeg',
    contentType: 'image/jpeg',
    width: 640,
    height: 640,
    bytes: jpeg.length,
    sha256: createHash('sha256').update(jpeg).digest('hex'),
    storageKey: 'assets/zoom.jpg',
    ...over,
  };
}

function item(over: Partial<PublishItem> = {}): PublishItem {
  const base = { catalogId: 'cat-1', sku: 'TEA-1', slot: 'hero', assetId: 'a-1', version: 1, ...over };
  return {
    fingerprint: 'f'.repeat(64),
    altText: 'Green tea, 100 g tin, front',
    files: [file()],
    publicationKey: `${base.catalogId}/${base.sku}/${base.slot}/v${base.version}/shop-eu`,
    ...base,
    ...over,
  };
}

async function failure(p: Promise<unknown>): Promise<PublishError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PublishError);
  return err as PublishError;
}

describe('Shopify destination: publishing', () => {
  it('stages the file, uploads it and attaches it to the product found by SKU, with the alt text', async () => {
    const s = await standIn();
    const receipt = await adapter(s).publish(item(), readFile);
    expect(receipt.alreadyPresent).toBe(false);
    expect(receipt.remoteId).toMatch(/^gid:\/\/shopify\/MediaImage\/\d+$/);
    expect(receipt.details?.productId).toMatch(/^gid:\/\/shopify\/Product\//);
    expect(s.record.uploads).toHaveLength(1);
    expect(s.record.uploads[0]?.sha256).toBe(file().sha256);
    expect(s.record.attached).toEqual([expect.objectContaining({ sku: 'TEA-1', mediaId: receipt.remoteId, alt: 'Green tea, 100 g tin, front' })]);
    // Shopify's search matches SKU prefixes; only the exact SKU's product gets the image.
    expect(s.productMedia('TEA-10')).toEqual([]);
    // Every call was a document the stand-in recognised, on the pinned version, never THROTTLED.
    expect(s.record.calls.map((c) => c.operation)).toEqual(['FindVariantBySku', 'ProductMediaPage', 'StagedUploadsCreate', 'ProductAttachMedia']);
    expect(s.record.calls.every((c) => c.status === 200)).toBe(true);
  });

  it('a second publish of the same version finds the media by its file name and uploads nothing', async () => {
    const s = await standIn();
    const first = await adapter(s).publish(item(), readFile);
    // A fresh adapter (another worker, a restart): nothing remembered but what Shopify holds.
    const second = await adapter(s).publish(item(), readFile);
    expect(second).toMatchObject({ alreadyPresent: true, remoteId: first.remoteId });
    expect(s.record.uploads).toHaveLength(1);
    expect(s.record.attached).toHaveLength(1);
    // A new version is a new image.
    const next = await adapter(s).publish(item({ version: 2 }), readFile);
    expect(next.alreadyPresent).toBe(false);
    expect(s.productMedia('TEA-1')).toHaveLength(2);
  });

  it('while the product has media still processing it asks to come back instead of guessing', async () => {
    const s = await standIn({ processingMs: 1_500 });
    const dest = adapter(s);
    await dest.publish(item(), readFile);
    const err = await failure(dest.publish(item(), readFile));
    expect(err).toMatchObject({ code: 'unavailable', retryable: true });
    expect(err.retryAfterMs).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1_600));
    expect(await dest.publish(item(), readFile)).toMatchObject({ alreadyPresent: true });
    expect(s.record.attached).toHaveLength(1);
  });

  it('answers test() with the shop name', async () => {
    const s = await standIn({ shopName: 'Tea House' });
    expect(await adapter(s).test()).toEqual({ ok: true, detail: `shop "Tea House" (standin.myshopify.com), Admin API ${SHOPIFY_API_VERSION}` });
  });

  it('a SKU the shop does not have ends not_found, naming the SKU', async () => {
    const s = await standIn();
    const err = await failure(adapter(s).publish(item({ sku: 'TEA-2' }), readFile));
    expect(err).toMatchObject({ code: 'not_found', retryable: false });
    expect(err.message).toContain('"TEA-2"');
  });
});

describe('Shopify destination: the cost throttle', () => {
  it('waits for the bucket instead of being THROTTLED, and the bucket never goes below zero', async () => {
    const s = await standIn({
      bucket: { maximumAvailable: 400, restoreRate: 200 },
      products: Array.from({ length: 6 }, (_, i) => ({ sku: `SKU-${i}`, title: `Product ${i}` })),
    });
    const dest = adapter(s);
    const receipts = await Promise.all(Array.from({ length: 6 }, (_, i) => dest.publish(item({ sku: `SKU-${i}` }), readFile)));
    expect(receipts.every((r) => !r.alreadyPresent)).toBe(true);
    expect(s.record.throttled).toBe(0);
    expect(s.record.minAvailable).toBeGreaterThanOrEqual(0);
    const waited = receipts.reduce((sum, r) => sum + Number(r.details?.throttleWaitMs ?? 0), 0);
    expect(waited).toBeGreaterThan(0);
    expect(s.record.attached).toHaveLength(6);
  });

  it('a THROTTLED burst is waited out by restore rate and the publish completes', async () => {
    const s = await standIn({ faults: { throttled: 2 } });
    const receipt = await adapter(s).publish(item(), readFile);
    expect(receipt.alreadyPresent).toBe(false);
    expect(s.record.throttled).toBe(2);
    expect(s.record.attached).toHaveLength(1);
  });

  it('THROTTLED beyond what the call waits out is retryable with a retryAfterMs from the restore rate', async () => {
    const s = await standIn({ faults: { throttled: 100 } });
    const err = await failure(adapter(s).publish(item(), readFile));
    expect(err).toMatchObject({ code: 'rate_limited', retryable: true });
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(s.record.uploads).toHaveLength(0);
  });
});

describe('Shopify destination: faults end published or with a clear reason', () => {
  it('429 with Retry-After is honoured', async () => {
    const s = await standIn({ faults: { http429: { count: 1, retryAfterSeconds: 1 }, operations: ['stagedUploadsCreate'] } });
    const started = Date.now();
    await adapter(s).publish(item(), readFile);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(s.record.calls.filter((c) => c.status === 429)).toHaveLength(1);
    expect(s.record.attached).toHaveLength(1);
  });

  it('5xx on reads is retried in the call', async () => {
    const s = await standIn({ faults: { http5xx: 2, operations: ['productVariants'] } });
    await adapter(s).publish(item(), readFile);
    expect(s.record.attached).toHaveLength(1);
  });

  it('5xx on the attach is not repeated blindly: the next attempt attaches the staged file once', async () => {
    const s = await standIn({ faults: { http5xx: 1, operations: ['productUpdate'] } });
    const dest = adapter(s);
    const err = await failure(dest.publish(item(), readFile));
    expect(err).toMatchObject({ code: 'unavailable', retryable: true });
    expect(await dest.publish(item(), readFile)).toMatchObject({ alreadyPresent: false });
    expect(s.record.uploads).toHaveLength(1);
    expect(s.record.attached).toHaveLength(1);
  });

  it('after a restart (no staged file remembered) the retry uploads again but attaches once', async () => {
    const s = await standIn({ faults: { http5xx: 1, operations: ['productUpdate'] } });
    await failure(adapter(s).publish(item(), readFile));
    expect(await adapter(s).publish(item(), readFile)).toMatchObject({ alreadyPresent: false });
    expect(s.record.uploads).toHaveLength(2);
    expect(s.record.attached).toHaveLength(1);
  });

  it('a connection dropped after the staged upload was accepted: attached without a second upload', async () => {
    const s = await standIn({ faults: { dropAfterUpload: 1 } });
    const receipt = await adapter(s).publish(item(), readFile);
    expect(receipt.alreadyPresent).toBe(false);
    expect(s.record.uploads).toHaveLength(1);
    expect(s.record.attached).toHaveLength(1);
  });

  it('a connection dropped after the media was attached: the retry finds it, nothing is sent twice', async () => {
    const s = await standIn({ faults: { dropAfterAttach: 1 } });
    const dest = adapter(s);
    const err = await failure(dest.publish(item(), readFile));
    expect(err).toMatchObject({ code: 'network', retryable: true });
    expect(await dest.publish(item(), readFile)).toMatchObject({ alreadyPresent: true });
    expect(s.record.uploads).toHaveLength(1);
    expect(s.record.attached).toHaveLength(1);
  });

  it('a refused token is bad_credentials, not retried', async () => {
    const s = await standIn({ faults: { badToken: true } });
    const err = await failure(adapter(s).publish(item(), readFile));
    expect(err).toMatchObject({ code: 'bad_credentials', retryable: false });
    expect(await failure(adapter(s).test())).toMatchObject({ code: 'bad_credentials' });
    expect(s.record.calls).toHaveLength(2);
  });

  it('a missing token variable names the variable', async () => {
    const s = await standIn();
    const settings = shopifyKind.settingsSchema.parse({ name: 'shop-eu', kind: 'shopify', shop: s.url, tokenEnv: 'SHOP_EU_TOKEN' });
    const err = await failure(shopifyKind.create(settings, { env: {} }).publish(item(), readFile));
    expect(err).toMatchObject({ code: 'invalid_config', retryable: false });
    expect(err.message).toContain('SHOP_EU_TOKEN');
  });

  it('an API version the shop does not serve is invalid_config', async () => {
    const s = await standIn();
    const err = await failure(adapter(s, { apiVersion: '2023-01' }).test());
    expect(err).toMatchObject({ code: 'invalid_config', retryable: false });
    expect(err.message).toContain('apiVersion');
  });
});

describe("Shopify destination: Shopify's image limits", () => {
  it.each([
    { width: 4473, height: 1000, reason: '4472 px a side' },
    { width: 1000, height: 4600, reason: '4472 px a side' },
  ])('refuses $width x $height before any call ($reason)', async ({ width, height, reason }) => {
    const s = await standIn();
    const err = await failure(adapter(s).publish(item({ files: [file({ width, height })] }), readFile));
    expect(err).toMatchObject({ code: 'rejected', retryable: false });
    expect(err.message).toContain(`${width}x${height}`);
    expect(err.message).toContain(reason);
    expect(s.record.calls).toHaveLength(0);
  });

  it('takes the largest image Shopify does (4472 x 4472 is just under 20 MP)', () => {
    expect(checkShopifyLimits(file({ width: 4472, height: 4472 }))).toEqual({ mime: 'image/jpeg', ext: 'jpg' });
  });

  it('refuses a file over 20 MB and a format Shopify is not sent', async () => {
    const s = await standIn();
    expect((await failure(adapter(s).publish(item({ files: [file({ bytes: 21 * 1024 * 1024 })] }), readFile))).message).toContain('20 MB');
    expect((await failure(adapter(s).publish(item({ files: [file({ format: 'avif' })] }), readFile))).message).toMatch(/format: avif/);
    expect(s.record.calls).toHaveLength(0);
  });

  it('refuses a stored file that does not match its recorded checksum', async () => {
    const s = await standIn();
    const err = await failure(adapter(s).publish(item({ files: [file({ sha256: '0'.repeat(64) })] }), readFile));
    expect(err.message).toContain('sha256');
    expect(s.record.uploads).toHaveLength(0);
  });
});

describe('Shopify destination: the publication marker', () => {
  it('is found in the CDN URL, also when Shopify appended a uuid to a taken name, and nowhere else', () => {
    const { fileName, marker } = publicationFileName(item(), 'jpg');
    expect(fileName).toMatch(/^tea-1-hero-v1-ca[0-9a-f]{20}\.jpg$/);
    const cdn = 'https://cdn.shopify.com/s/files/1/0001/files';
    expect(urlCarriesMarker(`${cdn}/${fileName}?v=1700000000`, marker)).toBe(true);
    expect(urlCarriesMarker(`${cdn}/${fileName.replace('.jpg', '_0f9c6a52-1b2c-4d5e-8f90-123456789abc.jpg')}?v=1`, marker)).toBe(true);
    expect(urlCarriesMarker(`${cdn}/${publicationFileName(item({ version: 2 }), 'jpg').fileName}`, marker)).toBe(false);
    expect(urlCarriesMarker(null, marker)).toBe(false);
  });
});

describe('Shopify destination: settings', () => {
  const parse = (v: unknown) => shopifyKind.settingsSchema.safeParse(v);
  const messages = (v: unknown) => {
    const r = parse(v);
    expect(r.success).toBe(false);
    return r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
  };

  it('defaults the pinned API version and the token variable', () => {
    const r = parse({ name: 'shop-eu', kind: 'shopify', shop: 'Acme.myshopify.com' });
    expect(r.success && r.data).toEqual({ name: 'shop-eu', kind: 'shopify', shop: 'acme.myshopify.com', apiVersion: SHOPIFY_API_VERSION, tokenEnv: 'SHOPIFY_ADMIN_TOKEN' });
  });

  it.each([
    [{ name: 'shop-eu', kind: 'shopify' }, /shop: the shop domain is required/],
    [{ name: 'shop-eu', kind: 'shopify', shop: 'https://acme.myshopify.com' }, /shop: must be the permanent/],
    [{ name: 'shop-eu', kind: 'shopify', shop: 'shop.acme.com' }, /shop: must be the permanent/],
    [{ name: 'shop-eu', kind: 'shopify', shop: 'acme.myshopify.com', apiVersion: '2025-11' }, /apiVersion: must be a quarterly/],
    [{ name: 'shop-eu', kind: 'shopify', shop: 'acme.myshopify.com', tokenEnv: 'shpat_123' }, /tokenEnv: must be the NAME/],
    [{ name: 'Shop EU', kind: 'shopify', shop: 'acme.myshopify.com' }, /name: use 1-63/],
    [{ name: 'shop-eu', kind: 'akeneo', shop: 'acme.myshopify.com' }, /kind: must be "shopify"/],
    [{ name: 'shop-eu', kind: 'shopify', shop: 'acme.myshopify.com', token: 'shpat_x' }, /token/],
  ])('refuses %j naming the field', (value, pattern) => {
    expect(messages(value)).toMatch(pattern);
  });
});

describe('Shopify stand-in: stricter than Shopify', () => {
  async function gql(s: ShopifyStandIn, query: string, variables: Record<string, unknown> = {}, version = SHOPIFY_API_VERSION) {
    const res = await fetch(`${s.url}/admin/api/${version}/graphql.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-shopify-access-token': s.token },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[]; extensions?: { cost?: unknown } } };
  }

  it('refuses unknown fields, wrong variable types, invalid input fields and unknown versions', async () => {
    const s = await standIn();
    expect((await gql(s, '{ shop { name plan } }')).body.errors?.[0]?.message).toContain("Field 'plan' doesn't exist on type 'Shop'");
    expect((await gql(s, 'query($id: String!) { product(id: $id) { id } }', { id: 'x' })).body.errors?.[0]?.message).toContain('Type mismatch on variable $id');
    const bad = await gql(s, 'mutation M($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) { userErrors { message } } }', {
      input: [{ filename: 'a.jpg', mimeType: 'image/jpeg', resource: 'IMAGE', size: 3 }],
    });
    expect(bad.body.errors?.[0]).toMatchObject({ extensions: { code: 'INVALID_VARIABLE' } });
    expect(bad.body.errors?.[0]?.message).toContain('Field is not defined on StagedUploadInput');
    expect((await gql(s, '{ products(first: 1) { nodes { id } } }')).body.errors?.[0]?.message).toContain("Field 'products' doesn't exist");
    expect((await gql(s, '{ shop { name } }', {}, '2023-01')).status).toBe(404);
    const ok = await gql(s, '{ shop { name } }');
    expect(ok.body.extensions?.cost).toMatchObject({ requestedQueryCost: 1, throttleStatus: { maximumAvailable: 2000, restoreRate: 100 } });
  });

  it('enforces the cost bucket: THROTTLED with HTTP 200 once the requested cost is not available', async () => {
    const s = await standIn({ bucket: { maximumAvailable: 25, restoreRate: 1 } });
    const stage = () =>
      gql(s, 'mutation M($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) { userErrors { message } } }', {
        input: [{ filename: 'a.jpg', mimeType: 'image/jpeg', resource: 'IMAGE', httpMethod: 'POST', fileSize: '10' }],
      });
    expect((await stage()).body.extensions?.cost).toMatchObject({ requestedQueryCost: 10, actualQueryCost: 10, throttleStatus: { currentlyAvailable: 15 } });
    await stage();
    const third = await stage();
    expect(third.status).toBe(200);
    expect(third.body.errors?.[0]).toMatchObject({ message: 'Throttled', extensions: { code: 'THROTTLED' } });
    expect(third.body.extensions?.cost).toMatchObject({ requestedQueryCost: 10, actualQueryCost: null, throttleStatus: { maximumAvailable: 25, restoreRate: 1 } });
    expect(s.record.minAvailable).toBeGreaterThanOrEqual(0);
  });

  it('refuses a staged upload with a parameter missing and media whose source was never staged', async () => {
    const s = await standIn();
    const staged = await gql(
      s,
      'mutation M($input: [StagedUploadInput!]!) { stagedUploadsCreate(input: $input) { stagedTargets { url resourceUrl parameters { name value } } userErrors { field message } } }',
      { input: [{ filename: 'a.jpg', mimeType: 'image/jpeg', resource: 'IMAGE', httpMethod: 'POST', fileSize: String(jpeg.length) }] },
    );
    const target = (staged.body.data as { stagedUploadsCreate: { stagedTargets: { url: string; resourceUrl: string; parameters: { name: string; value: string }[] }[] } }).stagedUploadsCreate.stagedTargets[0]!;
    const form = new FormData();
    for (const p of target.parameters.filter((p) => p.name !== 'policy')) form.append(p.name, p.value);
    form.append('file', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'a.jpg');
    const up = await fetch(target.url, { method: 'POST', body: form });
    expect(up.status).toBe(400);
    expect(await up.text()).toContain('InvalidPolicyDocument');
    const attach = await gql(
      s,
      'mutation A($product: ProductUpdateInput!, $media: [CreateMediaInput!]) { productUpdate(product: $product, media: $media) { userErrors { field message } } }',
      { product: { id: 'gid://shopify/Product/1000' }, media: [{ originalSource: target.resourceUrl, alt: 'x', mediaContentType: 'IMAGE' }] },
    );
    expect(attach.body.data).toEqual({ productUpdate: { userErrors: [{ field: ['media', '0', 'originalSource'], message: expect.stringContaining('nothing was uploaded') }] } });
    expect(s.record.uploads).toHaveLength(0);
  });
});
