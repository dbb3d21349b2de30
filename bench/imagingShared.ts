/** Pieces the imaging benchmark and its child process share. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MockActivityEnvironment } from '@temporalio/testing';
import sharp, { type Sharp } from 'sharp';
import type { ActivityDeps } from '../src/temporal/activities/deps';
import { createImagingActivities } from '../src/temporal/activities/imaging';
import { storeOriginal } from '../src/temporal/activities/originals';
import { DEFAULT_IMAGE_LIMITS, type VariantSpec } from '../src/imaging';
import { makeTestImage } from '../src/dev/testImages';
import type { ChannelProfile } from '../src/shared/channelProfiles';
import type { MaterializedOutput, ProvenanceStamp } from '../src/shared/steps';
import { LocalDirStorage } from '../src/storage/localDir';

/**
 * A 2048x2048 provider output with photographic-ish content: the project's packshot drawing (studio
 * backdrop, pack, label text) under a mid-frequency texture and fine grain, as a camera or a diffusion
 * model leaves it, saved as the JPEG the model delivers natively (q92). Flat synthetic drawings would
 * flatter every encoder; this compresses about like a real product photo.
 */
export async function makeProviderOutput(seed: number, edge = 2048): Promise<Buffer> {
  const drawing = await makeTestImage({ width: edge, height: edge, format: 'png', seed, text: `NIGHT CREAM ${seed} 50 ml` });
  const noise = (sigma: number) =>
    sharp({ create: { width: edge, height: edge, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma } } });
  const texture = await noise(50).blur(3).png().toBuffer();
  const grain = await noise(12).png().toBuffer();
  return sharp(drawing)
    .composite([
      { input: texture, blend: 'soft-light' },
      { input: grain, blend: 'soft-light' },
    ])
    .jpeg({ quality: 92 })
    .toBuffer();
}

/** CPU seconds (all threads of this process, libvips' included) and wall seconds of fn. */
export async function measure<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number; cpuSeconds: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { result, seconds, cpuSeconds: (c.user + c.system) / 1e6 };
}

/** What the step does on top of the plain render: none of it by default (the step as it was before #17). */
export interface MaterializeExtras {
  /** Provenance: the stored original is marked (XMP) and so is every variant (XMP + sRGB profile). */
  stamp?: ProvenanceStamp;
  /** Channel profiles: a variant and a check each, from the same decoded pixels. */
  channels?: ChannelProfile[];
}

export interface Materializer {
  /** The project's materialize step on one output whose download is instant. */
  run(bytes: Buffer, extras?: MaterializeExtras): Promise<MaterializedOutput[]>;
  /** Seconds spent in storage puts since the last call. */
  takeStorageSeconds(): number;
}

/** materializeOutputs from activities/imaging.ts, in a mock activity context, over local storage. */
export function makeMaterializer(storageDir: string, variants: VariantSpec[]): Materializer {
  const storage = new LocalDirStorage(storageDir);
  let storageSeconds = 0;
  const timedStorage = Object.assign(Object.create(storage) as LocalDirStorage, {
    async put(key: string, data: Buffer, contentType: string) {
      const t0 = performance.now();
      try {
        return await storage.put(key, data, contentType);
      } finally {
        storageSeconds += (performance.now() - t0) / 1000;
      }
    },
  });
  let current: Buffer = Buffer.alloc(0);
  const deps = {
    storage: timedStorage,
    variants,
    outputLimits: DEFAULT_IMAGE_LIMITS,
  } as unknown as ActivityDeps;
  const activities = createImagingActivities(deps);
  const materializeOutputs = (input: Parameters<typeof activities.materializeOutputs>[0]) => activities.materializeOutputs(input);
  const env = new MockActivityEnvironment();
  return {
    async run(bytes, extras = {}) {
      current = bytes;
      // The whole step an output goes through: validated (and marked) and stored by the paid step, then rendered.
      const original = await storeOriginal(deps, 0, current, extras.stamp);
      return env.run(materializeOutputs, { idempotencyKey: 'bench', outputs: [original], ...(extras.channels ? { channels: extras.channels } : {}) });
    },
    takeStorageSeconds() {
      const s = storageSeconds;
      storageSeconds = 0;
      return s;
    },
  };
}

export async function writeInputs(dir: string, images: Buffer[]): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  return Promise.all(
    images.map(async (b, i) => {
      const file = path.join(dir, `provider-output-${i}.jpg`);
      await fs.writeFile(file, b);
      return file;
    }),
  );
}

/**
 * SSIM of two same-sized images on luma (BT.601), 8x8 windows every 4 px: a plain structural-similarity
 * score, 1 = identical. Enough to rank encoder settings against each other on the same picture.
 */
export function ssim(a: { data: Buffer; width: number; height: number; channels: number }, b: { data: Buffer; width: number; height: number; channels: number }): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`ssim: sizes differ (${a.width}x${a.height} vs ${b.width}x${b.height})`);
  const { width: w, height: h } = a;
  const luma = (img: typeof a) => {
    const out = new Float32Array(w * h);
    for (let i = 0, p = 0; i < w * h; i++, p += img.channels) out[i] = 0.299 * img.data[p]! + 0.587 * img.data[p + 1]! + 0.114 * img.data[p + 2]!;
    return out;
  };
  const x = luma(a);
  const y = luma(b);
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  const win = Math.min(8, w, h);
  const step = win >= 8 ? 4 : 1;
  let total = 0;
  let count = 0;
  for (let top = 0; top + win <= h; top += step) {
    for (let left = 0; left + win <= w; left += step) {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (let r = 0; r < win; r++) {
        let i = (top + r) * w + left;
        for (let c = 0; c < win; c++, i++) {
          const xv = x[i]!;
          const yv = y[i]!;
          sx += xv;
          sy += yv;
          sxx += xv * xv;
          syy += yv * yv;
          sxy += xv * yv;
        }
      }
      const n = win * win;
      const mx = sx / n;
      const my = sy / n;
      const vx = sxx / n - mx * mx;
      const vy = syy / n - my * my;
      const cov = sxy / n - mx * my;
      total += ((2 * mx * my + C1) * (2 * cov + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      count += 1;
    }
  }
  return total / count;
}

export async function rawOf(input: Buffer | Sharp): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const pipeline = Buffer.isBuffer(input) ? sharp(input) : input;
  const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}
