import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CHEAP_TEST_VARIANTS, renderVariants } from '../../src/imaging';
import { BUILTIN_PROFILES, hasBorder, resolveChannels } from '../../src/imaging/channels';
import { BUILTIN_CHANNELS, type ChannelCheckSummary, type ChannelProfile } from '../../src/shared/channelProfiles';
import { DEFAULT_PLAN, planSchema } from '../../src/shared/plan';

type Rgb = { r: number; g: number; b: number };
const WHITE: Rgb = { r: 255, g: 255, b: 255 };
const RED: Rgb = { r: 200, g: 30, b: 40 };

/** A flat background with one product rectangle at a known place: PNG, so every pixel is exact. */
async function drawn(opts: { width: number; height: number; background: Rgb | 'transparent'; product?: { left: number; top: number; width: number; height: number; colour?: Rgb } }): Promise<Buffer> {
  const transparent = opts.background === 'transparent';
  const background = transparent ? { r: 0, g: 0, b: 0, alpha: 0 } : { ...(opts.background as Rgb), alpha: 1 };
  let img = sharp({ create: { width: opts.width, height: opts.height, channels: 4, background } });
  if (opts.product) {
    const p = opts.product;
    const block = await sharp({ create: { width: p.width, height: p.height, channels: 4, background: { ...(p.colour ?? RED), alpha: 1 } } }).png().toBuffer();
    img = img.composite([{ input: block, left: p.left, top: p.top }]);
  }
  return transparent ? img.png().toBuffer() : img.removeAlpha().png().toBuffer();
}

/** A scene with no white anywhere: a diagonal gradient of saturated colours. */
async function scene(width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = 40 + Math.floor((150 * x) / width);
      data[i + 1] = 60 + Math.floor((120 * y) / height);
      data[i + 2] = 90;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

async function check(bytes: Buffer, profiles: readonly ChannelProfile[]) {
  const result = await renderVariants(bytes, CHEAP_TEST_VARIANTS, { channels: profiles });
  expect(result.channels).toHaveLength(profiles.length);
  return result;
}

const amazon = BUILTIN_PROFILES['amazon-main'];
const google = BUILTIN_PROFILES['google-shopping'];
const shopify = BUILTIN_PROFILES.shopify;
const square = BUILTIN_PROFILES['marketplace-square'];
const rules = (c: ChannelCheckSummary) => c.failures.map((f) => f.rule);

describe('amazon-main', () => {
  it('passes a product filling 90 % of a pure white frame, untouched but for the encode', async () => {
    const bytes = await drawn({ width: 2000, height: 2000, background: WHITE, product: { left: 100, top: 100, width: 1800, height: 1800 } });
    const [ch] = (await check(bytes, [amazon])).channels;
    expect(ch!.check).toMatchObject({ profile: 'amazon-main', pass: true, failures: [] });
    expect(ch!.check.figures).toMatchObject({ edgeMin: 255, edgeMean: 255, fill: 0.9, width: 2000, height: 2000, format: 'jpeg', colourSpace: 'srgb', border: false });
    expect(ch!.variant).toMatchObject({ name: 'amazon-main', format: 'jpeg', width: 2000, height: 2000 });
    const meta = await sharp(ch!.variant.data).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 2000, height: 2000, space: 'srgb' });
  });

  it('trims a small product on near-white and pads it on pure white to 90 % fill; too small for the size rule, with figures', async () => {
    // 248 grey-white background, a 700 px product: the fill target is met, 1000 px is not (never enlarged).
    const bytes = await drawn({ width: 2000, height: 2000, background: { r: 248, g: 248, b: 248 }, product: { left: 300, top: 500, width: 700, height: 500 } });
    const [ch] = (await check(bytes, [amazon])).channels;
    const c = ch!.check;
    expect(c.processing).toEqual(['trimmed near-white margins to 700x500', 'padded on white to 778x778']);
    expect(c.figures).toMatchObject({ edgeMin: 255, width: 778, height: 778 });
    expect(c.figures.fill).toBeCloseTo(700 / 778, 3);
    expect(c.pass).toBe(false);
    expect(rules(c)).toEqual(['minLongEdge']);
    expect(c.failures[0]!.reason).toBe('longest side 778 px (778x778); needs at least 1000 px; never enlarged past the source (2000x2000)');
    expect(c.notes).toEqual(['longest side 778 px is under 1600 px: no zoom']);
  });

  it('trims and pads a large product so it passes every rule', async () => {
    const bytes = await drawn({ width: 2048, height: 2048, background: { r: 250, g: 250, b: 250 }, product: { left: 200, top: 300, width: 1500, height: 1200 } });
    const [ch] = (await check(bytes, [amazon])).channels;
    expect(ch!.check.pass).toBe(true);
    expect(ch!.check.figures).toMatchObject({ edgeMin: 255, width: 1667, height: 1667 });
    expect(ch!.check.figures.fill).toBeCloseTo(0.9, 2);
    expect(ch!.check.notes).toEqual([]);
  });

  it('flattens a transparent PNG on white, then trims and pads', async () => {
    const bytes = await drawn({ width: 1600, height: 1600, background: 'transparent', product: { left: 400, top: 200, width: 800, height: 1200 } });
    const [ch] = (await check(bytes, [amazon])).channels;
    expect(ch!.check.processing[0]).toBe('flattened transparency on white');
    expect(ch!.check.pass).toBe(true);
    expect(ch!.check.figures).toMatchObject({ edgeMin: 255, width: 1334, height: 1334 });
    expect(ch!.check.figures.fill).toBeCloseTo(1200 / 1334, 3);
    // The transparent corners became white, not black.
    const { data } = await sharp(ch!.variant.data).raw().toBuffer({ resolveWithObject: true });
    expect([data[0], data[1], data[2]]).toEqual([255, 255, 255]);
  });

  it('fails a lifestyle scene: no white edges, and no white padding fakes them', async () => {
    const bytes = await scene(1600, 1200);
    const [ch] = (await check(bytes, [amazon])).channels;
    const c = ch!.check;
    expect(c.pass).toBe(false);
    expect(rules(c)).toEqual(['whiteEdges']);
    expect(c.processing).toEqual([]);
    expect(c.figures).toMatchObject({ width: 1600, height: 1200, fill: 1 });
    expect(c.figures.edgeMin).toBeLessThan(100);
    expect(c.failures[0]!.reason).toMatch(/^edge colour min \d+, mean [\d.]+; needs every edge pixel at least 255; the background is not white, so padding cannot fix it$/);
  });

  it('fails a light grey studio background (not white) with its edge figures', async () => {
    const bytes = await drawn({ width: 1200, height: 1200, background: { r: 200, g: 200, b: 200 }, product: { left: 100, top: 100, width: 1000, height: 1000 } });
    const [ch] = (await check(bytes, [amazon])).channels;
    expect(ch!.check.pass).toBe(false);
    expect(rules(ch!.check)).toEqual(['whiteEdges']);
    expect(ch!.check.figures).toMatchObject({ edgeMin: 200, edgeMean: 200 });
  });
});

describe('google-shopping', () => {
  it('passes a plain product image at its own size; fails a 300 px image on both sides, not enlarged', async () => {
    const ok = (await check(await drawn({ width: 1200, height: 900, background: WHITE, product: { left: 100, top: 100, width: 900, height: 700 } }), [google])).channels[0]!;
    expect(ok.check).toMatchObject({ pass: true, failures: [], processing: [] });
    expect(ok.check.figures).toMatchObject({ width: 1200, height: 900, border: false });
    expect(ok.check.notes).toEqual(['longest side 1200 px is under 1500 px: no zoom']);

    const tiny = (await check(await drawn({ width: 300, height: 240, background: WHITE, product: { left: 20, top: 20, width: 260, height: 200 } }), [google, amazon])).channels;
    expect(tiny[0]!.check.failures).toEqual([{ rule: 'minSide', reason: '300x240 px; needs at least 500 px on both sides; never enlarged past the source (300x240)' }]);
    expect(tiny[0]!.variant).toMatchObject({ width: 300, height: 240 });
    expect(rules(tiny[1]!.check)).toEqual(['minLongEdge']);
  });

  it('fails a picture inside a coloured frame; the same picture without the frame passes', async () => {
    const inner = await scene(1180, 880);
    const framed = await sharp(inner).extend({ top: 10, bottom: 10, left: 10, right: 10, background: { r: 20, g: 120, b: 220 } }).png().toBuffer();
    const [withFrame, without] = await Promise.all([check(framed, [google]), check(inner, [google])]);
    expect(withFrame.channels[0]!.check.failures).toEqual([{ rule: 'noBorder', reason: 'a uniform frame runs around the picture' }]);
    expect(withFrame.channels[0]!.check.figures.border).toBe(true);
    expect(without.channels[0]!.check.pass).toBe(true);
  });

  it('does not take a product on a plain background for a frame', async () => {
    const img = await drawn({ width: 1000, height: 1000, background: { r: 90, g: 90, b: 90 }, product: { left: 150, top: 100, width: 700, height: 800 } });
    const { data, info } = await sharp(img).raw().toBuffer({ resolveWithObject: true });
    expect(hasBorder({ data, width: info.width, height: info.height, channels: info.channels })).toBe(false);
  });
});

describe('shared work', () => {
  it('makes one file for channels that want the same pixels and encoding', async () => {
    const bytes = await drawn({ width: 1800, height: 1800, background: WHITE, product: { left: 100, top: 100, width: 1600, height: 1600 } });
    const result = await check(bytes, [amazon, google, shopify, square]);
    const [a, g, s, m] = result.channels;
    // Google and Shopify: the image as it is, JPEG q85. Amazon and the square: trimmed and padded alike.
    expect(g!.variant.sha256).toBe(s!.variant.sha256);
    expect(a!.variant.sha256).toBe(m!.variant.sha256);
    expect(a!.variant.sha256).not.toBe(g!.variant.sha256);
    expect(result.channels.map((c) => c.check.pass)).toEqual([true, true, true, true]);
  });
});

describe('provenance', () => {
  it('marks channel files with the same XMP and sRGB profile as the other variants', async () => {
    const bytes = await drawn({ width: 1200, height: 1200, background: WHITE, product: { left: 100, top: 100, width: 1000, height: 1000 } });
    const provenance = { model: 'seedream-4.5', createdAt: '2026-12-01T10:00:00.000Z', catalogId: 'acme', sku: 'NC-1', slot: 'hero' };
    const result = await renderVariants(bytes, CHEAP_TEST_VARIANTS, { channels: [amazon, google], provenance });
    for (const ch of result.channels) {
      const meta = await sharp(ch.variant.data).metadata();
      expect(meta.xmp?.toString('utf8')).toContain('trainedAlgorithmicMedia');
      expect(meta.icc).toBeDefined();
      expect(ch.check.figures.bytes).toBe(ch.variant.data.length);
    }
  });
});

describe('shopify and custom limits', () => {
  it('downscales a huge image to 4,472 px and 20 MP; a custom 8K profile is held to its megapixels', async () => {
    const big = await drawn({ width: 5000, height: 4500, background: WHITE, product: { left: 500, top: 500, width: 4000, height: 3500 } });
    const custom = resolveChannels(['big-webp'], { 'big-webp': { maxEdge: 8192, format: 'webp', quality: 80, processing: { flatten: true, trim: false, padSquare: false, fillTarget: 0.9 }, rules: { maxMegapixels: 20, formats: ['webp'] } } });
    const result = await check(big, [shopify, ...custom]);
    const [s, c] = result.channels;
    expect(s!.check).toMatchObject({ pass: true, processing: ['downscaled to 4472x4024'] });
    expect(s!.check.figures).toMatchObject({ width: 4472, height: 4024, megapixels: 18 });
    expect(c!.check.pass).toBe(true);
    expect(c!.check.figures.format).toBe('webp');
    expect(c!.check.figures.width * c!.check.figures.height).toBeLessThanOrEqual(20_000_000);
    expect(c!.check.figures.width).toBe(4714);
    expect((await sharp(c!.variant.data).metadata()).format).toBe('webp');
    // The storefront variants still come from the same decode.
    expect(result.variants.map((v) => v.name)).toEqual(['small-jpeg', 'tiny-jpeg']);
  });
});

describe('marketplace-square', () => {
  it('pads a landscape product on white to a square at the fill target', async () => {
    const bytes = await drawn({ width: 1600, height: 1200, background: WHITE, product: { left: 200, top: 300, width: 1200, height: 600 } });
    const c = (await check(bytes, [square])).channels[0]!.check;
    expect(c.pass).toBe(true);
    expect(c.figures).toMatchObject({ width: 1334, height: 1334, edgeMin: 255 });
  });

  it('pads a scene to a square on white (no white-edge rule), and fails it when too small', async () => {
    const c = (await check(await scene(1600, 1200), [square])).channels[0]!.check;
    expect(c).toMatchObject({ pass: true, processing: ['padded on white to 1600x1600'] });
    const small = (await check(await scene(800, 600), [square])).channels[0]!.check;
    expect(small.failures).toEqual([{ rule: 'minLongEdge', reason: 'longest side 800 px (800x800); needs at least 1000 px; never enlarged past the source (800x600)' }]);
  });
});

describe('channels in the plan', () => {
  const slot = { name: 'hero', kind: 'generate', promptTemplate: 'a product' } as const;

  it('gives the default plan its channels per slot', () => {
    expect(DEFAULT_PLAN.slots.map((s) => [s.name, s.channels])).toEqual([
      ['hero', ['amazon-main', 'google-shopping', 'shopify', 'marketplace-square']],
      ['label', ['google-shopping', 'shopify']],
      ['lifestyle', ['google-shopping', 'shopify']],
    ]);
    expect(Object.keys(BUILTIN_PROFILES).sort()).toEqual([...BUILTIN_CHANNELS].sort());
  });

  it('leaves a plan without channels as it was (no new keys, so nothing downstream changes)', () => {
    const parsed = planSchema.parse({ version: 1, slots: [slot] });
    expect(parsed).not.toHaveProperty('channelProfiles');
    expect(parsed.slots[0]).not.toHaveProperty('channels');
  });

  it('rejects an unknown profile name, naming the field', () => {
    const r = planSchema.safeParse({ version: 1, slots: [{ ...slot, channels: ['amazon-main', 'ebay'] }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ['slots', 0, 'channels', 1], message: 'unknown channel profile "ebay": use a built-in one or define it in channelProfiles' });
  });

  it('accepts a custom profile with defaults and resolves it; rejects bad fields by name', () => {
    const plan = planSchema.parse({ version: 1, channelProfiles: { ebay: { maxEdge: 1600, format: 'jpeg', rules: { minLongEdge: 500 } } }, slots: [{ ...slot, channels: ['ebay', 'shopify'] }] });
    const [ebay, shop] = resolveChannels(plan.slots[0]!.channels, plan.channelProfiles);
    expect(ebay).toEqual({ name: 'ebay', maxEdge: 1600, format: 'jpeg', quality: 85, processing: { flatten: true, trim: false, padSquare: false, fillTarget: 0.9 }, rules: { minLongEdge: 500 } });
    expect(shop).toBe(BUILTIN_PROFILES.shopify);

    const bad = (channelProfiles: unknown) => planSchema.safeParse({ version: 1, channelProfiles, slots: [slot] }).error?.issues[0];
    expect(bad({ ebay: { maxEdge: 1600, format: 'gif' } })?.path).toEqual(['channelProfiles', 'ebay', 'format']);
    expect(bad({ ebay: { maxEdge: 1600, format: 'jpeg', rules: { minFill: 1.5 } } })?.path).toEqual(['channelProfiles', 'ebay', 'rules', 'minFill']);
    expect(bad({ ebay: { maxEdge: 1600, format: 'jpeg', rules: { whiteEdge: 255 } } })?.message).toMatch(/whiteEdge/);
    expect(bad({ ebay: { maxEdge: 1000, format: 'jpeg', rules: { minLongEdge: 1200 } } })).toMatchObject({
      path: ['channelProfiles', 'ebay', 'rules', 'minLongEdge'],
      message: "is 1200 px, more than the profile's maxEdge 1000: no image could pass",
    });
    expect(bad({ shopify: { maxEdge: 1000, format: 'jpeg' } })).toMatchObject({ path: ['channelProfiles', 'shopify'] });
    expect(bad({ 'Bad Name': { maxEdge: 1000, format: 'jpeg' } })?.path).toEqual(['channelProfiles', 'Bad Name']);
  });
});
