/**
 * The Akeneo destination against the Akeneo stand-in, over real HTTP: settings validation, the happy
 * path, idempotent re-publishing, every injected fault (each ends published or with a clear failure,
 * and the stand-in's record proves no asset version was written twice), and the stand-in's own
 * strictness where a real PIM would refuse the request.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redact } from '../../src/config/redact';
import { DEFAULT_AKENEO_CLIENT, startAkeneoStandIn, type RunningAkeneoStandIn } from '../../src/dev/standins/akeneo';
import { makeTestImage } from '../../src/dev/testImages';
import { akeneoAssetCode, akeneoKind, parseAkeneoSettings, type AkeneoSettingsInput } from '../../src/publish/akeneo';
import { PublishError, type DestinationAdapter, type PublishFile, type PublishItem, type PublishReceipt, type ReadFile } from '../../src/publish/destination';

let akeneo: RunningAkeneoStandIn;
const stored = new Map<string, Buffer>();
const readFile: ReadFile = async (key) => {
  const bytes = stored.get(key);
  if (!bytes) throw new Error(`no stored file ${key}`);
  return bytes;
};
let jpeg: PublishFile;
let avif: PublishFile;

async function storeFile(variant: string, format: PublishFile['format'], seed: number): Promise<PublishFile> {
  const bytes = await makeTestImage({ width: 160, height: 120, format, seed, text: `v${seed}` });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const storageKey = `variants/${sha256}.${format}`;
  stored.set(storageKey, bytes);
  return { variant, format, contentType: `image/${format}`, width: 160, height: 120, bytes: bytes.length, sha256, storageKey };
}

beforeAll(async () => {
  akeneo = await startAkeneoStandIn();
  jpeg = await storeFile('zoom', 'jpeg', 1);
  avif = await storeFile('pdp', 'avif', 2);
});
afterAll(async () => {
  await akeneo?.close();
});
afterEach(() => {
  akeneo.setFaults([]);
});

let skuCounter = 0;
/** A fresh SKU per test, so each test reads its own slice of the stand-in's record. */
function item(overrides: Partial<PublishItem> = {}): PublishItem {
  skuCounter++;
  const sku = overrides.sku ?? `SKU-${skuCounter}.a`;
  return {
    catalogId: 'demo-catalog',
    sku,
    slot: 'hero',
    assetId: `asset-${skuCounter}`,
    version: 1,
    fingerprint: 'f'.repeat(64),
    altText: `Pack shot of ${sku}`,
    locale: 'en-US',
    files: [jpeg],
    publicationKey: `demo-catalog:${sku}:hero:1:akeneo`,
    ...overrides,
  };
}

function settings(overrides: Partial<AkeneoSettingsInput> = {}): AkeneoSettingsInput {
  return { name: 'akeneo', kind: 'akeneo', baseUrl: akeneo.url, assetFamily: 'packshots', altAttribute: 'alt_text', altLocalizable: true, ...overrides };
}

function adapter(overrides: Partial<AkeneoSettingsInput> = {}, env: Record<string, string> = akeneo.env(), now?: () => number): DestinationAdapter {
  return akeneoKind.create(akeneoKind.settingsSchema.parse(settings(overrides)), { env, now });
}

async function failure(p: Promise<unknown>): Promise<PublishError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PublishError);
    return err as PublishError;
  }
  throw new Error('expected a PublishError');
}

/** What the publish step does: retry retryable failures (without sleeping here), give up on the rest. */
async function publishWithRetries(a: DestinationAdapter, it: PublishItem, attempts = 8): Promise<{ receipt: PublishReceipt; failures: PublishError[] }> {
  const failures: PublishError[] = [];
  for (let i = 0; i < attempts; i++) {
    try {
      return { receipt: await a.publish(it, readFile), failures };
    } catch (err) {
      if (!(err instanceof PublishError) || !err.retryable) throw err;
      failures.push(err);
    }
  }
  throw new Error(`still failing after ${attempts} attempts: ${failures.map((f) => f.message).join(' | ')}`);
}

function writesFor(code: string) {
  return akeneo.record.assetWrites.filter((w) => w.code === code);
}
function uploadsFor(code: string) {
  return akeneo.record.uploads.filter((u) => u.filename.startsWith(`${code}.`));
}
/** The proof the brief asks for: one asset write for the version, and only one media file ever referenced. */
function expectPublishedOnce(code: string) {
  const writes = writesFor(code);
  expect(writes).toHaveLength(1);
  expect(writes[0]!.status).toBe(201);
  const referenced = new Set(akeneo.record.assetWrites.flatMap((w) => w.mediaFileCodes));
  const kept = uploadsFor(code).filter((u) => referenced.has(u.code));
  expect(kept).toHaveLength(1);
  const asset = akeneo.assets('packshots').find((a) => a.code === code);
  expect(asset?.values.media?.[0]?.data).toBe(kept[0]!.code);
}

describe('settings', () => {
  it('applies the defaults and normalises the base URL', () => {
    const s = parseAkeneoSettings({ name: 'pim', kind: 'akeneo', baseUrl: 'https://acme.cloud.akeneo.com/', assetFamily: 'packshots' });
    expect(s).toMatchObject({ baseUrl: 'https://acme.cloud.akeneo.com', mediaAttribute: 'media', skuAttribute: 'sku', credentialsEnvPrefix: 'AKENEO', altLocalizable: false });
    expect(s.altAttribute).toBeUndefined();
    expect(parseAkeneoSettings({ name: 'pim', kind: 'akeneo', baseUrl: 'http://127.0.0.1:8080', assetFamily: 'x' }).baseUrl).toBe('http://127.0.0.1:8080');
    expect(parseAkeneoSettings({ name: 'pim', kind: 'akeneo', baseUrl: 'http://localhost:8080/pim/', assetFamily: 'x' }).baseUrl).toBe('http://localhost:8080/pim');
  });

  it.each([
    [{ baseUrl: 'http://pim.example.com' }, /baseUrl must use https/],
    [{ baseUrl: 'not a url' }, /baseUrl is not a URL/],
    [{ baseUrl: 'https://user:pw@pim.example.com' }, /baseUrl must not carry credentials/],
    [{ assetFamily: 'pack-shots' }, /assetFamily may contain only letters, digits and underscores/],
    [{ assetFamily: '' }, /assetFamily must not be empty/],
    [{ mediaAttribute: 'media file' }, /mediaAttribute may contain only/],
    [{ skuAttribute: 'media' }, /skuAttribute must differ from mediaAttribute/],
    [{ altAttribute: undefined, altLocalizable: true }, /altLocalizable needs altAttribute/],
    [{ altLocalizable: false, defaultLocale: 'en_US' }, /defaultLocale applies only with altLocalizable/],
    [{ defaultLocale: 'english' }, /defaultLocale must be an Akeneo locale code/],
    [{ credentialsEnvPrefix: 'akeneo' }, /credentialsEnvPrefix must be upper-case/],
    [{ kind: 'shopify' }, /kind must be 'akeneo'/],
    [{ clientSecret: 'x' }, /unknown Akeneo destination setting\(s\): clientSecret/],
    [{ requestTimeoutMs: 5 }, /requestTimeoutMs must be at least 1000/],
  ] as Array<[Record<string, unknown>, RegExp]>)('rejects %j naming the field', (patch, message) => {
    const input = { name: 'pim', kind: 'akeneo', baseUrl: 'https://pim.example.com', assetFamily: 'packshots', altAttribute: 'alt_text', ...patch };
    expect(() => parseAkeneoSettings(input)).toThrow(message);
    expect(akeneoKind.settingsSchema.safeParse(input).success).toBe(false);
  });

  it('names the missing credential variable, with the configured prefix', () => {
    const s = akeneoKind.settingsSchema.parse(settings({ credentialsEnvPrefix: 'PIM_EU' }));
    const env = akeneo.env('PIM_EU');
    delete env.PIM_EU_PASSWORD;
    let err: unknown;
    try {
      akeneoKind.create(s, { env });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PublishError);
    expect((err as PublishError).code).toBe('invalid_config');
    expect((err as PublishError).message).toMatch(/PIM_EU_PASSWORD is not set/);
  });
});

describe('asset codes', () => {
  it('are valid Akeneo codes, stable, and distinct where the readable parts collide', () => {
    const a = akeneoAssetCode({ catalogId: 'demo', sku: 'AB-1', slot: 'hero', version: 3 });
    expect(a).toMatch(/^demo_AB_1_hero_v3_[0-9a-f]{12}$/);
    expect(akeneoAssetCode({ catalogId: 'demo', sku: 'AB-1', slot: 'hero', version: 3 })).toBe(a);
    expect(akeneoAssetCode({ catalogId: 'demo', sku: 'AB_1', slot: 'hero', version: 3 })).not.toBe(a);
    expect(akeneoAssetCode({ catalogId: 'demo', sku: 'AB-1', slot: 'hero', version: 4 })).not.toBe(a);
    const long = akeneoAssetCode({ catalogId: 'c'.repeat(300), sku: 'ü/ß '.repeat(100), slot: 'hero', version: 12 });
    expect(long.length).toBeLessThanOrEqual(255);
    expect(long).toMatch(/^[A-Za-z0-9_]+$/);
  });
});

describe('publishing', () => {
  it('uploads the file, creates the asset with media, SKU and localised alt text, and the link rule attaches it', async () => {
    const a = adapter();
    const it1 = item();
    const code = akeneoAssetCode(it1);
    const receipt = await a.publish(it1, readFile);
    expect(receipt).toMatchObject({ remoteId: code, alreadyPresent: false, details: { assetFamily: 'packshots', variant: 'zoom', status: 201 } });
    const [upload] = uploadsFor(code);
    expect(upload).toMatchObject({ filename: `${code}.jpg`, format: 'jpeg', sha256: jpeg.sha256, dropped: false });
    expect(receipt.details?.mediaFileCode).toBe(upload!.code);
    const asset = akeneo.assets('packshots').find((x) => x.code === code)!;
    expect(asset.values.sku).toEqual([{ locale: null, channel: null, data: it1.sku }]);
    expect(asset.values.alt_text).toEqual([{ locale: 'en_US', channel: null, data: it1.altText }]);
    expect(akeneo.record.productLinks.packshots?.[it1.sku]).toEqual([code]);
    expectPublishedOnce(code);
    // No secret in what the operator sees, and none that any log or message could show.
    expect(JSON.stringify(receipt)).not.toContain(DEFAULT_AKENEO_CLIENT.secret);
    expect(redact(`secret ${DEFAULT_AKENEO_CLIENT.secret} password ${DEFAULT_AKENEO_CLIENT.password}`)).toBe('secret [REDACTED] password [REDACTED]');
  });

  it("the stand-in's own destination settings validate and publish", async () => {
    const a = akeneoKind.create(parseAkeneoSettings(akeneo.destinationSettings()), { env: akeneo.env() });
    const it1 = item({ locale: undefined });
    await a.publish(it1, readFile);
    expect(akeneo.assets('packshots').find((x) => x.code === akeneoAssetCode(it1))?.values.alt_text?.[0]?.locale).toBe('en_US');
  });

  it('test() proves the credentials and the family with harmless reads', async () => {
    const before = akeneo.record.uploads.length + akeneo.record.assetWrites.length;
    await expect(adapter().test()).resolves.toMatchObject({ ok: true, detail: expect.stringContaining('packshots') });
    expect(akeneo.record.uploads.length + akeneo.record.assetWrites.length).toBe(before);
    const wrongType = await failure(adapter({ mediaAttribute: 'label', skuAttribute: 'sku' }).test());
    expect(wrongType.code).toBe('invalid_config');
    expect(wrongType.message).toMatch(/mediaAttribute: attribute "label" .* is of type text, expected media_file/);
    const notLocalized = await failure(adapter({ altAttribute: 'label', altLocalizable: false }).test());
    expect(notLocalized.code).toBe('invalid_config');
    expect(notLocalized.message).toMatch(/altLocalizable: attribute "label" has one value per locale; set altLocalizable to true/);
    const missing = await failure(adapter({ skuAttribute: 'product_sku' }).test());
    expect(missing.message).toMatch(/skuAttribute: asset family "packshots" has no attribute "product_sku"/);
  });

  it('publishing the same version again uploads nothing and writes nothing, even from a new process', async () => {
    const it1 = item();
    const code = akeneoAssetCode(it1);
    await adapter().publish(it1, readFile);
    const again = await adapter().publish(it1, readFile);
    expect(again).toMatchObject({ remoteId: code, alreadyPresent: true });
    const sameAdapter = adapter();
    await sameAdapter.publish(it1, readFile);
    expect((await sameAdapter.publish(it1, readFile)).alreadyPresent).toBe(true);
    expect(uploadsFor(code)).toHaveLength(1);
    expectPublishedOnce(code);
  });

  it('the same version published twice at once in one process is written once', async () => {
    const a = adapter();
    const it1 = item();
    const [r1, r2] = await Promise.all([a.publish(it1, readFile), a.publish(it1, readFile)]);
    expect([r1.alreadyPresent, r2.alreadyPresent]).toEqual([false, true]);
    expect(uploadsFor(akeneoAssetCode(it1))).toHaveLength(1);
    expectPublishedOnce(akeneoAssetCode(it1));
  });

  it('a new version is a new asset; the old one stays as it was', async () => {
    const a = adapter();
    const v1 = item();
    const v2 = { ...v1, version: 2, assetId: 'next', files: [await storeFile('zoom', 'png', 7)] };
    await a.publish(v1, readFile);
    const r2 = await a.publish(v2, readFile);
    expect(r2.remoteId).not.toBe(akeneoAssetCode(v1));
    expectPublishedOnce(akeneoAssetCode(v1));
    expectPublishedOnce(akeneoAssetCode(v2));
    expect(akeneo.record.productLinks.packshots?.[v1.sku]).toEqual([akeneoAssetCode(v1), akeneoAssetCode(v2)]);
  });

  it('maps product locales through localeMap, and uses defaultLocale when the product has none', async () => {
    const plain = item({ sku: 'PLAIN-1' });
    await adapter({ altAttribute: 'alt_text', altLocalizable: true, localeMap: { 'en-US': 'en_GB' } }).publish(plain, readFile);
    expect(akeneo.assets('packshots').find((x) => x.code === akeneoAssetCode(plain))?.values.alt_text?.[0]?.locale).toBe('en_GB');
    const noLocale = item({ locale: undefined });
    const err = await failure(adapter().publish(noLocale, readFile));
    expect(err).toMatchObject({ code: 'invalid_config', retryable: false });
    expect(err.message).toMatch(/no defaultLocale/);
    await adapter({ defaultLocale: 'de_DE' }).publish(noLocale, readFile);
    expect(akeneo.assets('packshots').find((x) => x.code === akeneoAssetCode(noLocale))?.values.alt_text?.[0]?.locale).toBe('de_DE');
  });

  it('a stored file that does not match its record is never sent', async () => {
    const bad = { ...jpeg, sha256: '0'.repeat(64) };
    const it1 = item({ files: [bad] });
    const err = await failure(adapter().publish(it1, readFile));
    expect(err).toMatchObject({ code: 'rejected', retryable: false });
    expect(uploadsFor(akeneoAssetCode(it1))).toHaveLength(0);
  });
});

describe('refusals end as clear failures', () => {
  it('wrong credentials: bad_credentials naming the variables, never the secret', async () => {
    const env = { ...akeneo.env(), AKENEO_SECRET: 'not-the-secret-value' };
    const err = await failure(adapter({}, env).publish(item(), readFile));
    expect(err).toMatchObject({ code: 'bad_credentials', retryable: false });
    expect(err.message).toMatch(/AKENEO_CLIENT_ID, AKENEO_SECRET/);
    expect(err.message).not.toContain('not-the-secret-value');
    const wrongUser = await failure(adapter({}, { ...akeneo.env(), AKENEO_PASSWORD: 'nope' }).test());
    expect(wrongUser.code).toBe('bad_credentials');
  });

  it('an unknown asset family: not_found naming assetFamily, nothing uploaded', async () => {
    const before = akeneo.record.uploads.length;
    const err = await failure(adapter({ assetFamily: 'no_such_family' }).publish(item(), readFile));
    expect(err).toMatchObject({ code: 'not_found', retryable: false });
    expect(err.message).toMatch(/assetFamily: .*no_such_family/);
    expect(akeneo.record.uploads.length).toBe(before);
  });

  it('a 422 from the asset write is rejected, naming the property and attribute', async () => {
    // The media attribute allows jpg, jpeg, png, webp: an AVIF uploads but cannot go into the asset.
    const it1 = item({ files: [avif] });
    const err = await failure(adapter().publish(it1, readFile));
    expect(err).toMatchObject({ code: 'rejected', retryable: false });
    expect(err.message).toMatch(/HTTP 422 .*property "values", attribute "media": The file extension "avif" is not allowed/);
    expect(writesFor(akeneoAssetCode(it1))).toHaveLength(0);

    const spanish = item({ locale: 'es-ES' });
    const localeErr = await failure(adapter().publish(spanish, readFile));
    expect(localeErr.message).toMatch(/attribute "alt_text", locale es_ES: The locale "es_ES" is not activated/);
  });

  it("the caller's cancellation passes through as itself, not as a destination failure", async () => {
    const controller = new AbortController();
    controller.abort(new Error('activity cancelled'));
    await expect(adapter().publish(item(), readFile, controller.signal)).rejects.not.toBeInstanceOf(PublishError);
  });

  it("one caller's cancellation does not fail another publication waiting on the same token", async () => {
    const controller = new AbortController();
    const a = adapter();
    const cancelled = a.publish(item(), readFile, controller.signal);
    const other = a.publish(item(), readFile);
    controller.abort(new Error('activity cancelled'));
    await expect(cancelled).rejects.toThrow('activity cancelled');
    await expect(other).resolves.toMatchObject({ alreadyPresent: false });
  });

  it('an unreachable PIM is a retryable network failure', async () => {
    const gone = await startAkeneoStandIn();
    const url = gone.url;
    await gone.close();
    const err = await failure(adapter({ baseUrl: url }).publish(item(), readFile));
    expect(err).toMatchObject({ code: 'network', retryable: true });
  });
});

describe('faults end published, with one asset write per version', () => {
  it('an expired token: one refresh, the call retried once', async () => {
    const a = adapter();
    await a.test();
    const tokensBefore = akeneo.record.tokens.length;
    akeneo.setFaults([{ kind: 'expiredToken', on: 'upload' }]);
    const it1 = item();
    const { receipt, failures } = await publishWithRetries(a, it1);
    expect(failures).toHaveLength(0);
    expect(receipt.alreadyPresent).toBe(false);
    expect(akeneo.record.tokens.slice(tokensBefore).map((t) => t.grantType)).toEqual(['refresh_token']);
    expect(akeneo.record.requests.some((r) => r.route === 'upload' && r.status === 401)).toBe(true);
    expectPublishedOnce(akeneoAssetCode(it1));
  });

  it('tokens are refreshed before they expire, without a 401', async () => {
    let offset = 0;
    const a = adapter({}, akeneo.env(), () => Date.now() + offset);
    await a.publish(item(), readFile);
    const tokensBefore = akeneo.record.tokens.length;
    const requestsBefore = akeneo.record.requests.length;
    offset = 3_590_000; // 59 min 50 s later, inside the renewal margin of a one-hour token
    const it2 = item();
    await a.publish(it2, readFile);
    expect(akeneo.record.tokens.slice(tokensBefore).map((t) => t.grantType)).toEqual(['refresh_token']);
    expect(akeneo.record.requests.slice(requestsBefore).some((r) => r.status === 401)).toBe(false);
    expectPublishedOnce(akeneoAssetCode(it2));
  });

  it('a refused refresh token falls back to the password grant', async () => {
    const short = await startAkeneoStandIn({ tokenTtlSeconds: 1, refreshTtlSeconds: 0 });
    try {
      const a = akeneoKind.create(akeneoKind.settingsSchema.parse({ ...settings(), baseUrl: short.url }), { env: short.env() });
      await a.publish(item(), readFile);
      await new Promise((r) => setTimeout(r, 1_100));
      const it2 = item();
      await a.publish(it2, readFile);
      expect(short.record.tokens.map((t) => t.grantType)).toEqual(['password', 'password']);
      expect(short.record.requests.filter((r) => r.route === 'token').map((r) => r.status)).toEqual([200, 422, 200]);
      expect(short.record.assetWrites.filter((w) => w.code === akeneoAssetCode(it2))).toHaveLength(1);
    } finally {
      await short.close();
    }
  });

  it('a 429 burst with Retry-After: rate_limited with the delay, then published', async () => {
    akeneo.setFaults([{ kind: 'rateLimit', on: 'upload', times: 3, retryAfterSeconds: 7 }]);
    const it1 = item();
    const { failures } = await publishWithRetries(adapter(), it1);
    expect(failures.map((f) => [f.code, f.retryAfterMs])).toEqual([
      ['rate_limited', 7000],
      ['rate_limited', 7000],
      ['rate_limited', 7000],
    ]);
    expectPublishedOnce(akeneoAssetCode(it1));
    expect(uploadsFor(akeneoAssetCode(it1))).toHaveLength(1);
  });

  it('Retry-After as an HTTP date is honoured too', async () => {
    akeneo.setFaults([{ kind: 'rateLimit', on: 'getAsset', retryAfterSeconds: 30, asHttpDate: true }]);
    const { failures } = await publishWithRetries(adapter(), item());
    expect(failures[0]?.code).toBe('rate_limited');
    expect(failures[0]?.retryAfterMs).toBeGreaterThan(25_000);
    expect(failures[0]?.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('5xx on the asset write: retried, and the uploaded media file is reused, not uploaded again', async () => {
    akeneo.setFaults([{ kind: 'serverError', on: 'patchAsset', times: 2, status: 502 }]);
    const it1 = item();
    const { failures } = await publishWithRetries(adapter(), it1);
    expect(failures.map((f) => f.code)).toEqual(['unavailable', 'unavailable']);
    expect(uploadsFor(akeneoAssetCode(it1))).toHaveLength(1);
    expectPublishedOnce(akeneoAssetCode(it1));
  });

  it('5xx on the token endpoint is retryable, not a credentials failure', async () => {
    akeneo.setFaults([{ kind: 'serverError', on: 'token', status: 503 }]);
    const { failures } = await publishWithRetries(adapter(), item());
    expect(failures.map((f) => [f.code, f.retryable])).toEqual([['unavailable', true]]);
  });

  it('a connection dropped after the upload was accepted: one orphan media file at most, never a second asset', async () => {
    akeneo.setFaults([{ kind: 'dropAfterAccept', on: 'upload' }]);
    const it1 = item();
    const code = akeneoAssetCode(it1);
    const { failures } = await publishWithRetries(adapter(), it1);
    expect(failures.map((f) => f.code)).toEqual(['network']);
    const uploads = uploadsFor(code);
    expect(uploads.map((u) => u.dropped)).toEqual([true, false]);
    // The orphan (whose code never reached the client) is referenced by no asset.
    expect(akeneo.record.assetWrites.some((w) => w.mediaFileCodes.includes(uploads[0]!.code))).toBe(false);
    expectPublishedOnce(code);
  });

  it('a connection dropped after the asset write was accepted: the retry finds the asset and sends nothing', async () => {
    akeneo.setFaults([{ kind: 'dropAfterAccept', on: 'patchAsset' }]);
    const it1 = item();
    const code = akeneoAssetCode(it1);
    const { receipt, failures } = await publishWithRetries(adapter(), it1);
    expect(failures.map((f) => f.code)).toEqual(['network']);
    expect(receipt.alreadyPresent).toBe(true);
    expect(uploadsFor(code)).toHaveLength(1);
    expectPublishedOnce(code);
  });

  it('a connection dropped before the upload was read: retried, one upload', async () => {
    akeneo.setFaults([{ kind: 'dropBeforeAccept', on: 'upload', times: 2 }]);
    const it1 = item();
    const { failures } = await publishWithRetries(adapter(), it1);
    expect(failures.map((f) => f.code)).toEqual(['network', 'network']);
    expect(uploadsFor(akeneoAssetCode(it1))).toHaveLength(1);
    expectPublishedOnce(akeneoAssetCode(it1));
  });

  it('many SKUs at once under mixed faults share one token and each ends published once', async () => {
    const a = adapter();
    const tokensBefore = akeneo.record.tokens.length;
    akeneo.setFaults([
      { kind: 'rateLimit', on: 'upload', times: 4, retryAfterSeconds: 1 },
      { kind: 'serverError', on: 'patchAsset', times: 3 },
      { kind: 'dropAfterAccept', on: 'patchAsset', times: 2 },
      { kind: 'expiredToken', on: 'getAsset', times: 1 },
    ]);
    const items = Array.from({ length: 12 }, () => item());
    await Promise.all(items.map((x) => publishWithRetries(a, x, 12)));
    for (const x of items) expectPublishedOnce(akeneoAssetCode(x));
    // One password grant for the lot, one refresh after the expired token.
    expect(akeneo.record.tokens.slice(tokensBefore).map((t) => t.grantType)).toEqual(['password', 'refresh_token']);
  });
});

describe('concurrency', () => {
  it('the stand-in answers 429 beyond 4 calls at once per connection; the adapter never exceeds them', async () => {
    const slow = await startAkeneoStandIn({ latencyMs: 60 });
    try {
      const a = akeneoKind.create(akeneoKind.settingsSchema.parse({ ...settings(), baseUrl: slow.url }), { env: slow.env() });
      await a.test();
      const items = Array.from({ length: 10 }, () => item());
      const results = await Promise.all(items.map((x) => a.publish(x, readFile)));
      expect(results.every((r) => !r.alreadyPresent)).toBe(true);
      expect(slow.record.requests.filter((r) => r.status === 429)).toHaveLength(0);
      expect(slow.record.assetWrites).toHaveLength(10);
      // One family lookup and one token for the whole burst.
      expect(slow.record.requests.filter((r) => r.route === 'family')).toHaveLength(1);
      expect(slow.record.tokens).toHaveLength(1);

      const { access_token } = (await (
        await fetch(`${slow.url}/api/oauth/v1/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${DEFAULT_AKENEO_CLIENT.clientId}:${DEFAULT_AKENEO_CLIENT.secret}`).toString('base64')}` },
          body: JSON.stringify({ grant_type: 'password', username: DEFAULT_AKENEO_CLIENT.username, password: DEFAULT_AKENEO_CLIENT.password }),
        })
      ).json()) as { access_token: string };
      const statuses = await Promise.all(
        Array.from({ length: 6 }, async () => (await fetch(`${slow.url}/api/rest/v1/asset-families/packshots`, { headers: { authorization: `Bearer ${access_token}` } })).status),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(4);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    } finally {
      await slow.close();
    }
  });
});

describe('the stand-in is stricter than Akeneo', () => {
  let token = '';
  beforeAll(async () => {
    const res = await fetch(`${akeneo.url}/api/oauth/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${DEFAULT_AKENEO_CLIENT.clientId}:${DEFAULT_AKENEO_CLIENT.secret}`).toString('base64')}` },
      body: JSON.stringify({ grant_type: 'password', username: DEFAULT_AKENEO_CLIENT.username, password: DEFAULT_AKENEO_CLIENT.password }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
    expect(body.expires_in).toBe(3600);
    token = body.access_token;
  });
  const auth = () => ({ authorization: `Bearer ${token}` });

  it('refuses requests without a valid bearer token with Akeneo 401 bodies', async () => {
    const none = await fetch(`${akeneo.url}/api/rest/v1/asset-families/packshots`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ code: 401, message: 'Authentication is required' });
    const bogus = await fetch(`${akeneo.url}/api/rest/v1/asset-families/packshots`, { headers: { authorization: 'Bearer nope' } });
    expect(((await bogus.json()) as { message: string }).message).toBe('The access token provided is invalid.');
  });

  it('refuses a bad client, an unknown grant and a reused refresh token', async () => {
    const basic = `Basic ${Buffer.from(`${DEFAULT_AKENEO_CLIENT.clientId}:${DEFAULT_AKENEO_CLIENT.secret}`).toString('base64')}`;
    const post = (body: unknown, authorization = basic) =>
      fetch(`${akeneo.url}/api/oauth/v1/token`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify(body) });
    expect((await post({ grant_type: 'password', username: 'x', password: 'y' }, 'Basic Zm9vOmJhcg==')).status).toBe(422);
    expect((await post({ grant_type: 'client_credentials' })).status).toBe(422);
    const first = (await (await post({ grant_type: 'password', username: DEFAULT_AKENEO_CLIENT.username, password: DEFAULT_AKENEO_CLIENT.password })).json()) as { refresh_token: string };
    expect((await post({ grant_type: 'refresh_token', refresh_token: first.refresh_token })).status).toBe(200);
    expect((await post({ grant_type: 'refresh_token', refresh_token: first.refresh_token })).status).toBe(422);
  });

  it('checks the multipart field, the image and its extension', async () => {
    const upload = async (field: string, bytes: Buffer, filename: string) => {
      const form = new FormData();
      form.append(field, new Blob([new Uint8Array(bytes)]), filename);
      return fetch(`${akeneo.url}/api/rest/v1/asset-media-files`, { method: 'POST', headers: auth(), body: form });
    };
    const png = stored.get(jpeg.storageKey)!;
    const wrongField = await upload('media', png, 'a.jpg');
    expect(wrongField.status).toBe(422);
    expect(((await wrongField.json()) as { message: string }).message).toMatch(/Property "file" is required/);
    const notImage = await upload('file', Buffer.from('%PDF-1.7 not an image'), 'a.jpg');
    expect(notImage.status).toBe(422);
    const wrongExt = await upload('file', png, 'a.png');
    expect(((await wrongExt.json()) as { message: string }).message).toMatch(/does not match its content/);
    const json = await fetch(`${akeneo.url}/api/rest/v1/asset-media-files`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    const ok = await upload('file', png, 'a.jpg');
    expect(ok.status).toBe(201);
    expect(ok.headers.get('asset-media-file-code')).toMatch(/^[0-9a-f]\/[0-9a-f]\/[0-9a-f]\/[0-9a-f]\/[0-9a-f]{40}_a\.jpg$/);
    expect(ok.headers.get('location')).toContain('/api/rest/v1/asset-media-files/');
  });

  it('validates the asset write: code, family, attributes and value shape', async () => {
    const patch = (family: string, code: string, body: unknown, type = 'application/json') =>
      fetch(`${akeneo.url}/api/rest/v1/asset-families/${family}/assets/${code}`, { method: 'PATCH', headers: { ...auth(), 'content-type': type }, body: JSON.stringify(body) });
    expect((await patch('nope', 'a1', { code: 'a1' })).status).toBe(404);
    const badCode = await patch('packshots', 'a-1', { code: 'a-1' });
    expect(badCode.status).toBe(422);
    expect(((await badCode.json()) as { errors: Array<{ property: string }> }).errors[0]?.property).toBe('code');
    const mismatch = (await (await patch('packshots', 'a1', { code: 'a2' })).json()) as { errors: Array<{ property: string }> };
    expect(mismatch.errors[0]?.property).toBe('code');
    const shape = await patch('packshots', 'a1', { code: 'a1', values: { sku: [{ locale: 'en_US', channel: null, data: 'X' }], unknown_attr: [{ locale: null, channel: null, data: 'y' }], alt_text: [{ data: 'z' }] } });
    expect(shape.status).toBe(422);
    const errors = ((await shape.json()) as { errors: Array<{ property: string; attribute: string }> }).errors;
    expect(errors.map((e) => e.attribute)).toEqual(expect.arrayContaining(['sku', 'unknown_attr', 'alt_text']));
    expect(errors.every((e) => e.property === 'values')).toBe(true);
    expect((await patch('packshots', 'a1', { code: 'a1', values: { media: [{ locale: null, channel: null, data: 'no/such/file.jpg' }] } })).status).toBe(422);
    expect((await patch('packshots', 'a1', { code: 'a1' }, 'text/plain')).status).toBe(415);
    expect((await patch('packshots', 'a1', { code: 'a1', created: 'now' })).status).toBe(422);
    expect((await patch('packshots', 'a1', { code: 'a1', values: { sku: [{ locale: null, channel: null, data: 'X' }] } })).status).toBe(201);
    expect((await patch('packshots', 'a1', { code: 'a1', values: { sku: [{ locale: null, channel: null, data: 'Y' }] } })).status).toBe(204);
  });
});
