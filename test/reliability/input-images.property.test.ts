/**
 * Hostile images, property-based: provider outputs and PIM packshots are untrusted input. A corpus
 * made with sharp (every accepted format, alpha, greyscale, CMYK, 16-bit, all eight EXIF
 * orientations, animations, decompression bombs real and forged, markup, text, nothing) is fed as is
 * and after random byte mutations (truncation, bit flips, overwrites, insertions, splices) to
 * inspectImage/renderVariants and to the materialize activity itself. They reject (ImageRejectedError;
 * an InvalidImage failure) or normalise (8-bit sRGB, oriented, no metadata, never enlarged); nothing
 * else ever escapes, and the process never goes down.
 */
import { deflateSync } from 'node:zlib';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import fc from 'fast-check';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityDeps } from '../../src/temporal/activities/deps';
import { createImagingActivities } from '../../src/temporal/activities/imaging';
import { OriginalRejected, storeOriginal } from '../../src/temporal/activities/originals';
import { ImageRejectedError, inspectImage, renderVariants, type ImageLimits, type VariantSpec } from '../../src/imaging';
import { FailureType } from '../../src/shared/failures';
import type { MaterializedOutput, MaterializeInput } from '../../src/shared/steps';
import { recordFigures } from './figures';

const RUNS = Number(process.env.RELIABILITY_RUNS ?? 1_000);
const SEED = Number(process.env.RELIABILITY_SEED ?? 4242);
const LIMITS: ImageLimits = { maxBytes: 256 * 1024, maxPixels: 1_000_000 };
const VARIANTS: VariantSpec[] = [
  { name: 'card', maxEdge: 40, format: 'jpeg', quality: 70 },
  { name: 'thumb', maxEdge: 20, format: 'webp', quality: 70 },
];
const REASONS = new Set(['not_an_image', 'unsupported_format', 'too_many_bytes', 'too_many_pixels', 'animated', 'truncated', 'corrupt']);

interface Sample {
  name: string;
  bytes: Buffer;
  /** What the unmutated sample must give: accepted (with its displayed size) or a rejection reason. */
  expect: { accept: { width: number; height: number } } | { reject: string[] };
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
/** A valid-looking PNG header declaring width x height over a tiny, wrong IDAT: a forged bomb. */
function forgedPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(64))), pngChunk('IEND', Buffer.alloc(0))]);
}
/** A real bomb: a greyscale PNG of width x height zeros, a few kB compressed, megapixels decoded. */
function realPngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const raw = Buffer.alloc((width + 1) * height);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw, { level: 9 })), pngChunk('IEND', Buffer.alloc(0))]);
}
/** A JPEG whose SOF0 claims width x height. */
function forgedJpeg(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; i++) {
    if (out[i] === 0xff && (out[i + 1] === 0xc0 || out[i + 1] === 0xc2)) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
  }
  throw new Error('no SOF marker');
}
/** A GIF whose logical screen and image descriptor claim width x height (libvips sizes a GIF by its frame). */
function forgedGif(gif: Buffer, frame: { width: number; height: number }, width: number, height: number): Buffer {
  const out = Buffer.from(gif);
  out.writeUInt16LE(width, 6);
  out.writeUInt16LE(height, 8);
  const descriptor = Buffer.from([0x2c, 0, 0, 0, 0, frame.width & 0xff, frame.width >> 8, frame.height & 0xff, frame.height >> 8]);
  const at = out.indexOf(descriptor, 13);
  if (at < 0) throw new Error('no image descriptor');
  out.writeUInt16LE(width, at + 5);
  out.writeUInt16LE(height, at + 7);
  return out;
}

async function buildCorpus(): Promise<Sample[]> {
  const W = 36;
  const H = 18;
  const picture = () =>
    sharp({ create: { width: W, height: H, channels: 3, background: { r: 180, g: 40, b: 90 } } }).composite([
      { input: { create: { width: 12, height: 9, channels: 3, background: { r: 20, g: 160, b: 220 } } }, left: 3, top: 2 },
    ]);
  const withAlpha = () => sharp({ create: { width: W, height: H, channels: 4, background: { r: 30, g: 200, b: 60, alpha: 0.5 } } });
  const accept = (width = W, height = H) => ({ accept: { width, height } });
  const still = async (fmt: (s: Sharp) => Sharp, base = picture) => fmt(base()).toBuffer();
  const samples: Sample[] = [
    { name: 'jpeg', bytes: await still((s) => s.jpeg()), expect: accept() },
    { name: 'progressive jpeg', bytes: await still((s) => s.jpeg({ progressive: true })), expect: accept() },
    { name: 'png', bytes: await still((s) => s.png()), expect: accept() },
    { name: 'png with alpha', bytes: await still((s) => s.png(), withAlpha), expect: accept() },
    { name: 'webp', bytes: await still((s) => s.webp()), expect: accept() },
    { name: 'webp with alpha', bytes: await still((s) => s.webp(), withAlpha), expect: accept() },
    { name: 'avif', bytes: await still((s) => s.avif({ effort: 0 })), expect: accept() },
    { name: 'gif', bytes: await still((s) => s.gif()), expect: accept() },
    { name: 'tiff', bytes: await still((s) => s.tiff()), expect: accept() },
    { name: 'greyscale png', bytes: await still((s) => s.greyscale().png()), expect: accept() },
    { name: '16-bit png', bytes: await still((s) => s.toColourspace('rgb16').png()), expect: accept() },
    { name: '16-bit greyscale png', bytes: await still((s) => s.toColourspace('grey16').png()), expect: accept() },
    { name: 'CMYK jpeg', bytes: await still((s) => s.toColourspace('cmyk').jpeg()), expect: accept() },
    { name: 'CMYK tiff', bytes: await still((s) => s.toColourspace('cmyk').tiff()), expect: accept() },
  ];
  for (let o = 1; o <= 8; o++) {
    // A landscape image stored with orientation o: orientations 5-8 display as portrait.
    samples.push({ name: `jpeg orientation ${o}`, bytes: await picture().jpeg().withMetadata({ orientation: o }).toBuffer(), expect: o >= 5 ? accept(H, W) : accept() });
  }
  const frames = [await picture().png().toBuffer(), await withAlpha().png().toBuffer()];
  samples.push(
    { name: 'animated gif', bytes: await sharp(frames, { join: { animated: true } }).gif().toBuffer(), expect: { reject: ['animated'] } },
    { name: 'animated webp', bytes: await sharp(frames, { join: { animated: true } }).webp().toBuffer(), expect: { reject: ['animated'] } },
    { name: 'real PNG bomb 2000x2000', bytes: realPngBomb(2_000, 2_000), expect: { reject: ['too_many_pixels'] } },
    { name: 'forged PNG 60000x60000', bytes: forgedPng(60_000, 60_000), expect: { reject: ['too_many_pixels'] } },
    { name: 'forged JPEG 65000x65000', bytes: forgedJpeg(await picture().jpeg().toBuffer(), 65_000, 65_000), expect: { reject: ['too_many_pixels'] } },
    { name: 'forged GIF 65535x65535', bytes: forgedGif(await picture().gif().toBuffer(), { width: W, height: H }, 65_535, 65_535), expect: { reject: ['too_many_pixels', 'corrupt', 'truncated'] } },
    { name: 'too many bytes', bytes: Buffer.concat([await picture().jpeg().toBuffer(), Buffer.alloc(LIMITS.maxBytes)]), expect: { reject: ['too_many_bytes'] } },
    { name: 'svg', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"><rect width="10" height="10"/></svg>'), expect: { reject: ['unsupported_format'] } },
    { name: 'html', bytes: Buffer.from('<!doctype html><title>x</title>'), expect: { reject: ['unsupported_format'] } },
    { name: 'pdf', bytes: Buffer.from('%PDF-1.7\n1 0 obj << >> endobj\n'), expect: { reject: ['unsupported_format'] } },
    { name: 'text', bytes: Buffer.from('this is not an image at all'), expect: { reject: ['not_an_image'] } },
    { name: 'empty', bytes: Buffer.alloc(0), expect: { reject: ['not_an_image'] } },
    { name: 'truncated jpeg', bytes: (await picture().jpeg().toBuffer()).subarray(0, 200), expect: { reject: ['truncated', 'corrupt'] } },
    { name: 'truncated png', bytes: (await picture().png().toBuffer()).subarray(0, 60), expect: { reject: ['truncated', 'corrupt'] } },
  );
  return samples;
}

type Mutation =
  | { kind: 'none' }
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; positions: number[]; bits: number[] }
  | { kind: 'overwrite'; at: number; bytes: number[] }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'splice'; from: number; to: number; at: number }
  | { kind: 'append'; bytes: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), positions: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), bits: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 8, maxLength: 8 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 32 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 32 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), to: fc.nat(), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 64 }) }) },
);

function mutate(input: Buffer, m: Mutation): Buffer {
  const len = input.length;
  const pos = (n: number) => (len === 0 ? 0 : n % len);
  switch (m.kind) {
    case 'none':
      return input;
    case 'truncate':
      return input.subarray(0, pos(m.at));
    case 'flip': {
      const out = Buffer.from(input);
      m.positions.forEach((p, i) => {
        if (len) out[pos(p)]! ^= 1 << m.bits[i % m.bits.length]!;
      });
      return out;
    }
    case 'overwrite': {
      const out = Buffer.from(input);
      m.bytes.forEach((b, i) => {
        if (len) out[pos(m.at + i)] = b;
      });
      return out;
    }
    case 'insert':
      return Buffer.concat([input.subarray(0, pos(m.at)), Buffer.from(m.bytes), input.subarray(pos(m.at))]);
    case 'splice': {
      const [a, b] = [pos(m.from), pos(m.to)].sort((x, y) => x - y);
      return Buffer.concat([input.subarray(0, pos(m.at)), input.subarray(a, b), input.subarray(pos(m.at))]);
    }
    case 'append':
      return Buffer.concat([input, Buffer.from(m.bytes)]);
  }
}

describe('hostile images', () => {
  let corpus: Sample[];
  const tally = { accepted: 0, rejected: new Map<string, number>() };
  const activityTally = { generated: 0, failed: new Map<string, number>() };
  const passed = new Set<string>();

  beforeAll(async () => {
    corpus = await buildCorpus();
  }, 60_000);

  afterAll(async () => {
    if (passed.size < 2) return;
    const reasons = (m: Map<string, number>) => [...m].map(([r, n]) => `${r} ${n}`).join(', ');
    recordFigures('input-images', [
      {
        fault: 'hostile images through inspectImage/renderVariants (not-an-image, truncated, bombs real and forged, animated, CMYK, 16-bit, 8 orientations, markup; random byte mutations)',
        tried: `${RUNS} generated cases over a ${corpus?.length ?? 0}-image corpus`,
        lost: '0 crashes; 0 errors other than ImageRejectedError',
        notes: `${tally.accepted} accepted and normalised; rejected: ${reasons(tally.rejected)}`,
      },
      {
        fault: 'the same through the materialize activity (download, validate, variants, store)',
        tried: `${RUNS} generated cases`,
        lost: '0 crashes; 0 failures other than InvalidImage; 0 files stored for a rejected image',
        notes: `${activityTally.generated} stored; failed: ${reasons(activityTally.failed)}`,
      },
    ]);
  });

  it('gives the expected outcome for every unmutated sample: normalised or rejected with its reason', { timeout: 60_000 }, async () => {
    for (const s of corpus) {
      const outcome = await inspectImage(s.bytes, LIMITS).then(
        (info) => ({ accepted: info }),
        (err: unknown) => ({ rejected: err }),
      );
      if ('accept' in s.expect) {
        expect(outcome, s.name).toHaveProperty('accepted');
        const info = (outcome as { accepted: { width: number; height: number } }).accepted;
        expect([s.name, info.width, info.height]).toEqual([s.name, s.expect.accept.width, s.expect.accept.height]);
        const rendered = await renderVariants(s.bytes, VARIANTS, { limits: LIMITS });
        for (const v of rendered.variants) {
          const meta = await sharp(v.data).metadata();
          // Oriented like the displayed image, 8-bit sRGB, no EXIF, never enlarged.
          expect([s.name, v.width >= v.height]).toEqual([s.name, s.expect.accept.width >= s.expect.accept.height]);
          expect([s.name, meta.space, meta.depth, meta.orientation, meta.exif]).toEqual([s.name, 'srgb', 'uchar', undefined, undefined]);
        }
      } else {
        const err = (outcome as { rejected?: unknown }).rejected;
        expect(err, s.name).toBeInstanceOf(ImageRejectedError);
        expect([s.name, s.expect.reject.includes((err as ImageRejectedError).reason)]).toEqual([s.name, true]);
      }
    }
  });

  it('never lets anything but a rejection escape inspectImage or renderVariants, and normalises what it accepts', { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), mutation, async (pick, m) => {
        const sample = corpus[pick % corpus.length]!;
        const bytes = mutate(sample.bytes, m);
        let info;
        try {
          info = await inspectImage(bytes, LIMITS);
        } catch (err) {
          if (!(err instanceof ImageRejectedError) || !REASONS.has(err.reason)) throw err;
          tally.rejected.set(err.reason, (tally.rejected.get(err.reason) ?? 0) + 1);
          return;
        }
        expect(info.width * info.height).toBeLessThanOrEqual(LIMITS.maxPixels);
        expect(['jpeg', 'png', 'webp', 'avif', 'gif', 'tiff']).toContain(info.format);
        let rendered;
        try {
          rendered = await renderVariants(bytes, VARIANTS, { limits: LIMITS });
        } catch (err) {
          // A header that passes but pixel data that does not decode.
          if (!(err instanceof ImageRejectedError) || !REASONS.has(err.reason)) throw err;
          tally.rejected.set(err.reason, (tally.rejected.get(err.reason) ?? 0) + 1);
          return;
        }
        tally.accepted += 1;
        for (const [i, v] of rendered.variants.entries()) {
          const spec = VARIANTS[i]!;
          expect(Math.max(v.width, v.height)).toBeLessThanOrEqual(spec.maxEdge);
          const meta = await sharp(v.data).metadata();
          expect([meta.format, meta.width, meta.height, meta.space, meta.depth, meta.orientation]).toEqual([spec.format, v.width, v.height, 'srgb', 'uchar', undefined]);
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    passed.add('inspect');
  });

  it('keeps only outputs that validate (storing nothing it rejects), and renders every kept one or fails with InvalidImage', { timeout: 240_000 }, async () => {
    let current: Buffer = Buffer.alloc(0);
    // In memory: the property is about what the activity lets through and stores, not about disks.
    const stored = new Map<string, Buffer>();
    const storage = {
      kind: 'local' as const,
      put: async (key: string, data: Buffer) => (stored.set(key, data), { key, bytes: data.length }),
      get: async (key: string) => stored.get(key) ?? Buffer.alloc(0),
      exists: async (key: string) => stored.has(key),
      delete: async (key: string) => void stored.delete(key),
    };
    const deps = {
      storage,
      variants: VARIANTS,
      outputLimits: LIMITS,
    } as unknown as ActivityDeps;
    const activities = createImagingActivities(deps);
    const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    const env = new MockActivityEnvironment(undefined, { logger: quiet });
    await fc.assert(
      fc.asyncProperty(fc.nat(), mutation, async (pick, m) => {
        current = mutate(corpus[pick % corpus.length]!.bytes, m);
        const before = [...stored.keys()];
        let original;
        try {
          original = await storeOriginal(deps, 0, current);
        } catch (err) {
          // Refused at the door: named, and nothing stored.
          if (!(err instanceof OriginalRejected)) throw err;
          activityTally.failed.set(`rejected:${err.reason}`, (activityTally.failed.get(`rejected:${err.reason}`) ?? 0) + 1);
          expect(err.message).toMatch(/^output 0 /);
          expect([...stored.keys()]).toEqual(before);
          return;
        }
        expect(stored.get(original.storageKey)?.length).toBe(current.length);
        const withOriginal = [...stored.keys()];
        try {
          const [out] = await env.run<[MaterializeInput], MaterializedOutput[], typeof activities.materializeOutputs>(
            (input) => activities.materializeOutputs(input),
            { idempotencyKey: 'prop', outputs: [original] },
          );
          activityTally.generated += 1;
          expect(out!.storageKey).toBe(original.storageKey);
          for (const v of out!.variants) expect([v.storageKey, stored.get(v.storageKey)?.length]).toEqual([v.storageKey, v.bytes]);
        } catch (err) {
          if (!(err instanceof ApplicationFailure) || err.type !== FailureType.invalidImage) throw err;
          activityTally.failed.set(err.type, (activityTally.failed.get(err.type) ?? 0) + 1);
          expect(err.message).toMatch(/^output 0 /);
          expect([...stored.keys()]).toEqual(withOriginal);
        }
      }),
      { numRuns: RUNS, seed: SEED + 1, endOnFailure: true },
    );
    passed.add('activity');
  });
});
