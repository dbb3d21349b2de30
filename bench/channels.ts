/**
 * What channel checks and channel variants add to the render step: renderVariants with the default
 * variant set, with and without the default plan's channel profiles (hero: four, label and lifestyle:
 * two), on 2048-px outputs of two kinds: a product on white (trimmed and padded) and a textured scene
 * with no white (checked, not processed). Runs alternate so machine noise falls on both sides alike.
 * CPU seconds (all threads of the process) are the figure; wall seconds are reported too.
 *
 *   npm run bench -- --only channels [--channel-reps 6]
 */
import sharp from 'sharp';
import { configureSharp, DEFAULT_VARIANTS, renderVariants } from '../src/imaging';
import { resolveChannels } from '../src/imaging/channels';
import { DEFAULT_PLAN } from '../src/shared/plan';
import { log, round } from './harness';
import { makeProviderOutput, measure } from './imagingShared';

export interface ChannelBenchOptions {
  reps: number;
}

/** A 2048-px studio shot: a textured product on near-white, as the hero prompt asks for. */
export async function productOnWhite(seed: number): Promise<Buffer> {
  const product = await sharp(await makeProviderOutput(seed, 1400)).resize(1300, 1500, { fit: 'fill' }).png().toBuffer();
  return sharp({ create: { width: 2048, height: 2048, channels: 3, background: { r: 250, g: 250, b: 250 } } })
    .composite([{ input: product, left: 374, top: 274 }])
    .jpeg({ quality: 92 })
    .toBuffer();
}

export async function runChannels(o: ChannelBenchOptions): Promise<Record<string, unknown>> {
  configureSharp({});
  const slot = (name: string) => resolveChannels(DEFAULT_PLAN.slots.find((s) => s.name === name)!.channels, DEFAULT_PLAN.channelProfiles);
  const sets = { hero: slot('hero'), lifestyle: slot('lifestyle') };
  const inputs = { productOnWhite: await productOnWhite(11), scene: await makeProviderOutput(12) };
  const cases = [
    { name: 'hero on white, 4 channels', bytes: inputs.productOnWhite, channels: sets.hero },
    { name: 'scene, 4 channels', bytes: inputs.scene, channels: sets.hero },
    { name: 'scene, 2 channels (label, lifestyle)', bytes: inputs.scene, channels: sets.lifestyle },
  ];
  // Warm-up: libvips caches, JIT.
  for (const c of cases) await renderVariants(c.bytes, DEFAULT_VARIANTS, { channels: c.channels });

  const results = [];
  for (const c of cases) {
    const base = { cpu: 0, wall: 0 };
    const withChannels = { cpu: 0, wall: 0 };
    let passed: string[] = [];
    for (let i = 0; i < o.reps; i++) {
      const a = await measure(() => renderVariants(c.bytes, DEFAULT_VARIANTS));
      const b = await measure(() => renderVariants(c.bytes, DEFAULT_VARIANTS, { channels: c.channels }));
      base.cpu += a.cpuSeconds;
      base.wall += a.seconds;
      withChannels.cpu += b.cpuSeconds;
      withChannels.wall += b.seconds;
      passed = b.result.channels.map((x) => `${x.check.profile}:${x.check.pass ? 'pass' : x.check.failures.map((f) => f.rule).join('+')}`);
    }
    const r = {
      case: c.name,
      reps: o.reps,
      cpuSecondsPerImage: round(base.cpu / o.reps),
      cpuSecondsPerImageWithChannels: round(withChannels.cpu / o.reps),
      cpuRatio: round(withChannels.cpu / base.cpu),
      wallSecondsPerImage: round(base.wall / o.reps),
      wallSecondsPerImageWithChannels: round(withChannels.wall / o.reps),
      wallRatio: round(withChannels.wall / base.wall),
      checks: passed,
    };
    log(`channels: ${c.name}: CPU ${r.cpuSecondsPerImage} s -> ${r.cpuSecondsPerImageWithChannels} s per image (x${r.cpuRatio}), wall x${r.wallRatio}; ${passed.join(', ')}`);
    results.push(r);
  }
  return { channels: { variantSet: 'DEFAULT_VARIANTS (12)', cases: results } };
}
