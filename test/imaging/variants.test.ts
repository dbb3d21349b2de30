import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA, thumbHashToRGBA } from 'thumbhash';
import { describe, expect, it } from 'vitest';
import {
  CHEAP_TEST_VARIANTS,
  configureSharp,
  DEFAULT_IMAGE_LIMITS,
  DEFAULT_VARIANTS,
  ImageRejectedError,
  type ImageRejectionReason,
  inspectImage,
  renderVariants,
  variantSetSchema,
  type VariantSpec,
} from '../../src/imaging';
import { makeTestImage } from '../../src/dev/testImages';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function pixelAt(image: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [...data.subarray(i, i + info.channels)];
}

async function expectRejected(work: Promise<unknown>, reason: ImageRejectionReason): Promise<ImageRejectedError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageRejectedError);
  expect((err as ImageRejectedError).reason).toBe(reason);
  expect((err as ImageRejectedError).message.length).toBeGreaterThan(10);
  return err as ImageRejectedError;
}

/** Overwrites a PNG's IHDR dimensions (fixing the CRC): a header that promises far more than the data holds. */
function pngClaiming(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  // signature (8) + length (4) + 'IHDR' (4), then width and height; CRC covers type + data (17 bytes).
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

describe('variant sets', () => {
  it('DEFAULT_VARIANTS: 4 sizes x 3 formats, valid, uniquely named', () => {
    expect(DEFAULT_VARIANTS).toHaveLength(12);
    expect(() => variantSetSchema.parse(DEFAULT_VARIANTS)).not.toThrow();
    expect(DEFAULT_VARIANTS.map((v) => v.name)).toContain('zoom-avif');
    expect(DEFAULT_VARIANTS.map((v) => v.name)).toContain('thumb-jpeg');
    expect(() => variantSetSchema.parse(CHEAP_TEST_VARIANTS)).not.toThrow();
  });

  it('rejects duplicate names, bad slugs and effort outside the format range', () => {
    const v: VariantSpec = { name: 'a-jpeg', maxEdge: 100, format: 'jpeg' };
    expect(variantSetSchema.safeParse([v, v]).success).toBe(false);
    expect(variantSetSchema.safeParse([{ ...v, name: 'Bad Name' }]).success).toBe(false);
    expect(variantSetSchema.safeParse([{ ...v, name: '../x' }]).success).toBe(false);
    expect(variantSetSchema.safeParse([{ ...v, effort: 3 }]).success).toBe(false);
    expect(variantSetSchema.safeParse([{ ...v, format: 'webp', effort: 7 }]).success).toBe(false);
    expect(variantSetSchema.safeParse([{ ...v, format: 'avif', effort: 9, quality: 60 }]).success).toBe(true);
    expect(variantSetSchema.safeParse([{ ...v, quality: 0 }]).success).toBe(false);
    expect(variantSetSchema.safeParse([{ ...v, maxEdge: 1.5 }]).success).toBe(false);
  });

  it('configureSharp applies concurrency and cache settings', () => {
    const before = sharp.concurrency();
    expect(configureSharp({ concurrency: 1, cacheMemoryMb: 0 })).toEqual({ concurrency: 1, cacheMemoryMb: 0 });
    expect(sharp.concurrency()).toBe(1);
    expect(sharp.cache().memory.max).toBe(0);
    configureSharp({ concurrency: before, cacheMemoryMb: 16 });
    expect(sharp.cache().memory.max).toBe(16);
    expect(() => configureSharp({ concurrency: -1 })).toThrow(RangeError);
  });
});

describe('renderVariants', () => {
  it('renders the 12 default variants from a 2048x2048 JPEG', { timeout: 60_000 }, async () => {
    const source = await makeTestImage({ width: 2048, height: 2048, format: 'jpeg', text: 'Oat Milk 1L' });
    const started = performance.now();
    const result = await renderVariants(source, DEFAULT_VARIANTS);
    console.info(`12 default variants from 2048x2048 JPEG: ${Math.round(performance.now() - started)} ms`);

    expect(result.source).toEqual({ width: 2048, height: 2048, format: 'jpeg', sha256: sha(source) });
    expect(result.variants.map((v) => v.name)).toEqual(DEFAULT_VARIANTS.map((v) => v.name));
    for (const [i, v] of result.variants.entries()) {
      const spec = DEFAULT_VARIANTS[i]!;
      const meta = await sharp(v.data).metadata();
      const expectedFormat = spec.format === 'avif' ? 'heif' : spec.format;
      expect(meta.format, v.name).toBe(expectedFormat);
      if (spec.format === 'avif') expect(meta.compression).toBe('av1');
      expect([meta.width, meta.height], v.name).toEqual([spec.maxEdge, spec.maxEdge]);
      expect([v.width, v.height]).toEqual([spec.maxEdge, spec.maxEdge]);
      expect(v.format).toBe(spec.format);
      expect(v.bytes).toBe(v.data.length);
      expect(v.sha256).toBe(sha(v.data));
      expect(meta.exif).toBeUndefined();
      expect(meta.hasProfile).toBe(false);
      expect(meta.space).toBe('srgb');
    }
  });

  it('never enlarges a small source', async () => {
    const source = await makeTestImage({ width: 40, height: 30, format: 'png' });
    const result = await renderVariants(source, CHEAP_TEST_VARIANTS);
    const byName = Object.fromEntries(result.variants.map((v) => [v.name, v]));
    expect([byName['small-jpeg']!.width, byName['small-jpeg']!.height]).toEqual([40, 30]);
    expect([byName['tiny-jpeg']!.width, byName['tiny-jpeg']!.height]).toEqual([32, 24]);
  });

  it('keeps the aspect ratio, longest side = maxEdge', async () => {
    const source = await makeTestImage({ width: 300, height: 600, format: 'webp' });
    const result = await renderVariants(source, CHEAP_TEST_VARIANTS);
    expect(result.variants.map((v) => [v.width, v.height])).toEqual([
      [32, 64],
      [16, 32],
    ]);
  });

  it('applies EXIF orientation 6 and leaves no EXIF behind', async () => {
    // Stored 300x200: left half red, right half blue. Orientation 6 displays it rotated 90° clockwise,
    // so the viewer sees 200x300 with red on top.
    const source = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#ff0000' } })
      .composite([{ input: { create: { width: 150, height: 200, channels: 3, background: '#0000ff' } }, left: 150, top: 0 }])
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    expect(await sharp(source).metadata()).toMatchObject({ orientation: 6, width: 300, height: 200 });

    const info = await inspectImage(source, DEFAULT_IMAGE_LIMITS);
    expect(info).toMatchObject({ width: 200, height: 300, orientation: 6 });

    const result = await renderVariants(source, CHEAP_TEST_VARIANTS);
    expect(result.source).toMatchObject({ width: 200, height: 300 });
    const small = result.variants[0]!;
    expect([small.width, small.height]).toEqual([43, 64]);
    const meta = await sharp(small.data).metadata();
    expect(meta.orientation).toBeUndefined();
    expect(meta.exif).toBeUndefined();
    const [r1, , b1] = await pixelAt(small.data, 21, 5);
    const [r2, , b2] = await pixelAt(small.data, 21, 58);
    expect(r1).toBeGreaterThan(200);
    expect(b1).toBeLessThan(60);
    expect(b2).toBeGreaterThan(200);
    expect(r2).toBeLessThan(60);
  });

  it('converts CMYK JPEG input to sRGB', async () => {
    const source = await sharp({ create: { width: 80, height: 80, channels: 3, background: '#d02020' } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    expect((await inspectImage(source)).space).toBe('cmyk');
    const { variants } = await renderVariants(source, CHEAP_TEST_VARIANTS);
    const meta = await sharp(variants[0]!.data).metadata();
    expect(meta.space).toBe('srgb');
    expect(meta.channels).toBe(3);
    const [r, g, b] = await pixelAt(variants[0]!.data, 32, 32);
    expect(r).toBeGreaterThan(160);
    expect(g).toBeLessThan(90);
    expect(b).toBeLessThan(90);
  });

  it('accepts 16-bit PNG input and scales it to 8-bit correctly', async () => {
    const source = await sharp({ create: { width: 80, height: 60, channels: 3, background: '#3366cc' } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(source).metadata()).depth).toBe('ushort');
    const { variants } = await renderVariants(source, CHEAP_TEST_VARIANTS);
    const [r, g, b] = await pixelAt(variants[0]!.data, 10, 10);
    expect(Math.abs(r! - 0x33)).toBeLessThan(12);
    expect(Math.abs(g! - 0x66)).toBeLessThan(12);
    expect(Math.abs(b! - 0xcc)).toBeLessThan(12);

    // The sample packshot helper's 16-bit output goes through too.
    const packshot = await makeTestImage({ width: 120, height: 90, format: 'png', bitDepth: 16 });
    await expect(renderVariants(packshot, CHEAP_TEST_VARIANTS)).resolves.toBeDefined();
  });

  it('flattens transparency on white for JPEG and keeps it for WebP', async () => {
    const source = await makeTestImage({ width: 120, height: 120, format: 'png', transparent: true });
    expect((await inspectImage(source)).hasAlpha).toBe(true);
    const variants: VariantSpec[] = [...CHEAP_TEST_VARIANTS, { name: 'alpha-webp', maxEdge: 32, format: 'webp' }];
    const result = await renderVariants(source, variants);
    const jpeg = result.variants[0]!;
    expect((await sharp(jpeg.data).metadata()).channels).toBe(3);
    for (const c of await pixelAt(jpeg.data, 1, 1)) expect(c).toBeGreaterThan(245);
    const centre = await pixelAt(jpeg.data, 32, 20);
    expect(Math.min(...centre)).toBeLessThan(200);

    const webp = result.variants[2]!;
    const webpMeta = await sharp(webp.data).metadata();
    expect(webpMeta.hasAlpha).toBe(true);
    expect((await pixelAt(webp.data, 0, 0))[3]).toBe(0);
  });

  it('drops an alpha channel that is fully opaque', async () => {
    const source = await sharp({ create: { width: 50, height: 50, channels: 4, background: { r: 10, g: 200, b: 10, alpha: 1 } } })
      .png()
      .toBuffer();
    expect((await sharp(source).metadata()).hasAlpha).toBe(true);
    const result = await renderVariants(source, [{ name: 'w', maxEdge: 32, format: 'webp' }]);
    expect((await sharp(result.variants[0]!.data).metadata()).hasAlpha).toBe(false);
  });

  it('produces a decodable ThumbHash and a dominant colour', async () => {
    const source = await sharp({ create: { width: 300, height: 150, channels: 3, background: '#e01010' } }).jpeg().toBuffer();
    const { placeholder } = await renderVariants(source, CHEAP_TEST_VARIANTS);
    expect(placeholder.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
    const dominant = parseInt(placeholder.dominantColor.slice(1), 16);
    expect(dominant >> 16).toBeGreaterThan(180); // red channel
    expect((dominant >> 8) & 0xff).toBeLessThan(80);

    const hash = Buffer.from(placeholder.thumbhash, 'base64');
    expect(hash.length).toBeGreaterThan(4);
    const decoded = thumbHashToRGBA(hash);
    expect(decoded.rgba.length).toBe(decoded.w * decoded.h * 4);
    expect(thumbHashToApproximateAspectRatio(hash)).toBeCloseTo(2, 0);
    const avg = thumbHashToAverageRGBA(hash);
    expect(avg.r).toBeGreaterThan(0.7);
    expect(avg.g).toBeLessThan(0.3);
  });
});

describe('untrusted input', () => {
  it('inspectImage reports format, size, alpha, colour space, orientation and hash', async () => {
    const source = await makeTestImage({ width: 320, height: 240, format: 'jpeg' });
    expect(await inspectImage(source)).toEqual({
      format: 'jpeg',
      width: 320,
      height: 240,
      hasAlpha: false,
      space: 'srgb',
      orientation: 1,
      sha256: sha(source),
    });
    const avif = await makeTestImage({ width: 64, height: 48, format: 'avif' });
    expect((await inspectImage(avif)).format).toBe('avif');
    const gif = await makeTestImage({ width: 64, height: 48, format: 'gif' });
    expect((await inspectImage(gif)).format).toBe('gif');
  });

  it('rejects truncated JPEG and PNG data', async () => {
    const jpeg = await makeTestImage({ width: 400, height: 300, format: 'jpeg' });
    const cutJpeg = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    await expectRejected(inspectImage(cutJpeg), 'truncated');
    await expectRejected(renderVariants(cutJpeg, CHEAP_TEST_VARIANTS), 'truncated');
    await expectRejected(inspectImage(jpeg.subarray(0, 200)), 'truncated');

    const png = await makeTestImage({ width: 400, height: 300, format: 'png' });
    const cutPng = png.subarray(0, Math.floor(png.length / 2));
    await expectRejected(inspectImage(cutPng), 'truncated');
    await expectRejected(renderVariants(cutPng, CHEAP_TEST_VARIANTS), 'truncated');

    const webp = await makeTestImage({ width: 400, height: 300, format: 'webp' });
    await expectRejected(inspectImage(webp.subarray(0, Math.floor(webp.length / 2))), 'truncated');
  });

  it('rejects corrupt pixel data', async () => {
    const png = Buffer.from(await makeTestImage({ width: 400, height: 300, format: 'png' }));
    for (let i = 200; i < 400; i++) png[i] = (i * 37) & 0xff;
    await expectRejected(inspectImage(png), 'corrupt');
    await expectRejected(renderVariants(png, CHEAP_TEST_VARIANTS), 'corrupt');
  });

  it('rejects data that is not an image, and markup', async () => {
    await expectRejected(inspectImage(Buffer.from('sku,name\nA-1,Oat milk\n')), 'not_an_image');
    await expectRejected(renderVariants(Buffer.from('{"error":"expired"}'), CHEAP_TEST_VARIANTS), 'not_an_image');
    await expectRejected(inspectImage(Buffer.alloc(0)), 'not_an_image');
    await expectRejected(inspectImage(Buffer.from(Array.from({ length: 64 }, (_, i) => i))), 'not_an_image');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="30000" height="30000"><rect width="10" height="10"/></svg>');
    await expectRejected(inspectImage(svg), 'unsupported_format');
    await expectRejected(inspectImage(Buffer.from('<!doctype html><html><body>Access denied</body></html>')), 'unsupported_format');
  });

  it('rejects decompression bombs before decoding them', async () => {
    // A real PNG whose header claims 30000x30000 (900 MP): refused from the header alone.
    const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer();
    const bomb = pngClaiming(tiny, 30_000, 30_000);
    expect((await sharp(bomb, { limitInputPixels: false }).metadata()).width).toBe(30_000);
    const err = await expectRejected(inspectImage(bomb), 'too_many_pixels');
    expect(err.message).toContain('30000x30000');
    await expectRejected(renderVariants(bomb, CHEAP_TEST_VARIANTS), 'too_many_pixels');

    // A JPEG over a deliberately low limit.
    const jpeg = await makeTestImage({ width: 1200, height: 1000, format: 'jpeg' });
    const limits = { maxBytes: DEFAULT_IMAGE_LIMITS.maxBytes, maxPixels: 1_000_000 };
    await expectRejected(inspectImage(jpeg, limits), 'too_many_pixels');
    await expectRejected(renderVariants(jpeg, CHEAP_TEST_VARIANTS, { limits }), 'too_many_pixels');
  });

  it('rejects input over the byte limit', async () => {
    const jpeg = await makeTestImage({ width: 200, height: 200, format: 'jpeg' });
    await expectRejected(inspectImage(jpeg, { maxBytes: 1000, maxPixels: 1e6 }), 'too_many_bytes');
  });

  it('refuses animated GIF and WebP (documented choice: no silent first frame)', async () => {
    const gif = await makeTestImage({ width: 60, height: 40, format: 'gif', frames: 3 });
    const webp = await makeTestImage({ width: 60, height: 40, format: 'webp', frames: 3 });
    expect((await sharp(gif).metadata()).pages).toBe(3);
    expect((await sharp(webp).metadata()).pages).toBe(3);
    await expectRejected(inspectImage(gif), 'animated');
    await expectRejected(renderVariants(webp, CHEAP_TEST_VARIANTS), 'animated');
  });
});
