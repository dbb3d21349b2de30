/**
 * What provenance marking costs, against the same work unmarked in the same run:
 *   - renderVariants over the default variant set (12 variants) of a 2048-px provider output, with and
 *     without the XMP packet and the sRGB profile, alternating which goes first;
 *   - the original's lossless marking (packet, container insert, header re-read) against the inspection
 *     the paid step does anyway, for a JPEG and a PNG output.
 * CPU seconds (all threads of the process) are the figure; wall times are noisy on a shared machine.
 *
 *   npx tsx bench/provenance.ts [--reps 3] [--images 2]     (or npm run bench -- --only provenance)
 */
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { buildXmpPacket, DEFAULT_VARIANTS, embedXmp, inspectImage, readImageHeader, renderVariants, type ProvenanceFacts } from '../src/imaging';
import { log, round, stats } from './harness';
import { makeProviderOutput, measure } from './imagingShared';

export interface ProvenanceBenchOptions {
  reps: number;
  images: number;
}

export const FACTS: ProvenanceFacts = {
  model: 'bytedance/seedream-4.5',
  createdAt: '2026-11-30T09:15:00.000Z',
  catalogId: 'bench',
  sku: 'SKU-00001',
  slot: 'hero',
  provider: 'simulator http://127.0.0.1:8080 bytedance/seedream-4.5',
  jobId: 'job_bench',
  derivedFrom: '0'.repeat(64),
};

export async function runProvenance(o: ProvenanceBenchOptions): Promise<Record<string, unknown>> {
  const inputs = await Promise.all(Array.from({ length: o.images }, (_, i) => makeProviderOutput(101 + i)));
  // One warm-up each way: libvips' first AVIF/WebP encoders and the ICC transform load lazily.
  await renderVariants(inputs[0]!, DEFAULT_VARIANTS);
  await renderVariants(inputs[0]!, DEFAULT_VARIANTS, { provenance: FACTS });

  const plain: number[] = [];
  const marked: number[] = [];
  for (let rep = 0; rep < o.reps; rep++) {
    for (const [i, input] of inputs.entries()) {
      const order = (rep + i) % 2 === 0 ? (['plain', 'marked'] as const) : (['marked', 'plain'] as const);
      for (const side of order) {
        const m = await measure(() => renderVariants(input, DEFAULT_VARIANTS, side === 'marked' ? { provenance: FACTS } : {}));
        (side === 'marked' ? marked : plain).push(m.cpuSeconds);
      }
    }
    log(`provenance: rep ${rep + 1}/${o.reps}: plain ${round(plain.at(-1)!, 2)} CPU-s, marked ${round(marked.at(-1)!, 2)} CPU-s`);
  }
  const p = stats(plain);
  const m = stats(marked);

  // Originals: what the paid step adds per output on top of the inspection it already does.
  const originals: Record<string, unknown> = {};
  for (const format of ['jpeg', 'png'] as const) {
    const bytes = format === 'jpeg' ? inputs[0]! : await sharp(inputs[0]).png().toBuffer();
    const inspect: number[] = [];
    const mark: number[] = [];
    for (let k = 0; k < 5; k++) {
      inspect.push((await measure(() => inspectImage(bytes))).cpuSeconds);
      mark.push(
        (
          await measure(async () => {
            const stored = embedXmp(bytes, format, buildXmpPacket({ ...FACTS, derivedFrom: undefined }));
            return readImageHeader(stored, { maxBytes: bytes.length + 65_536, maxPixels: 36_000_000 });
          })
        ).cpuSeconds,
      );
    }
    const i = stats(inspect).mean;
    const k = stats(mark).mean;
    originals[format] = { bytes: bytes.length, inspectCpuMs: round(i * 1000, 1), markCpuMs: round(k * 1000, 1), ratioToInspect: round((i + k) / i, 3) };
  }

  return {
    provenance: {
      variants: DEFAULT_VARIANTS.length,
      edge: 2048,
      images: o.images,
      reps: o.reps,
      renderCpuSeconds: { plain: round(p.mean), marked: round(m.mean), plainEach: plain.map((v) => round(v, 2)), markedEach: marked.map((v) => round(v, 2)) },
      ratioMarkedToPlain: round(m.mean / p.mean, 3),
      addedCpuMsPerOutput: round((m.mean - p.mean) * 1000, 1),
      originals,
      note: 'renderVariants alone; marking = XMP packet + sRGB ICC profile on each of the 12 variants. Originals: embed + header re-read vs inspectImage.',
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string, dflt: number) => {
    const at = process.argv.indexOf(`--${name}`);
    const v = at >= 0 ? Number(process.argv[at + 1]) : dflt;
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be an integer >= 1`);
    return v;
  };
  runProvenance({ reps: arg('reps', 3), images: arg('images', 2) })
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
