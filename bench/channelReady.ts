/**
 * Issue 17's CPU budget, in one figure: what provenance marking, channel checks and variants, and the
 * label's OCR add together to the imaging-side work of one output, against today's materialize step
 * (the same step with all three off), for each slot of the default plan:
 *   - hero: 2048-px product on white; original and variants marked; its four channels;
 *   - label: the simulator's 2048-px edit with the label printed; marked; its two channels; OCR read-back;
 *   - lifestyle: a 2048x1536 textured scene (landscape_4_3, no white); marked; its two channels.
 * Each repetition runs every slot both ways, alternating which side goes first, so machine noise falls on
 * both alike. CPU seconds (all threads of the process: libvips' and tesseract's included) are the figure;
 * the OCR reader's one-off start (traineddata, once per worker process) is warmed up and left out.
 * The target is the mean of the three slots' ratios <= 1.25.
 *
 * Marking alone and channels alone are measured as sides of their own in the same loop (where the time goes).
 *
 *   npm run bench -- --only channelReady [--ready-reps 6]
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { configureSharp, DEFAULT_VARIANTS } from '../src/imaging';
import { resolveChannels } from '../src/imaging/channels';
import { closeOcr, readText } from '../src/imaging/ocr';
import { labelSimilarity } from '../src/label/compare';
import { DEFAULT_PLAN } from '../src/shared/plan';
import type { ProvenanceStamp } from '../src/shared/steps';
import { productOnWhite } from './channels';
import { log, round } from './harness';
import { makeMaterializer, makeProviderOutput, type MaterializeExtras, measure } from './imagingShared';
import { labelOutput } from './label';
import { FACTS } from './provenance';

export interface ChannelReadyOptions {
  /** Repetitions; each runs the three slots four ways (~20 s of CPU per repetition). */
  reps: number;
}

export const READY_TARGET = 1.25;

interface SlotCase {
  slot: string;
  input: string;
  bytes: Buffer;
  extras: MaterializeExtras;
  /** The requested label text, for the slots the plan reads back. */
  label?: string;
}

async function sceneLandscape(seed: number): Promise<Buffer> {
  return sharp(await makeProviderOutput(seed)).resize(2048, 1536, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : 0);

export async function runChannelReady(o: ChannelReadyOptions): Promise<Record<string, unknown>> {
  configureSharp({ concurrency: os.availableParallelism() });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-ready-'));
  try {
    const materializer = makeMaterializer(dir, [...DEFAULT_VARIANTS]);
    const stampFor = (slot: string): ProvenanceStamp => ({ model: FACTS.model, createdAt: FACTS.createdAt, catalogId: FACTS.catalogId, sku: FACTS.sku, slot, provider: FACTS.provider!, jobId: FACTS.jobId! });
    const extrasFor = (slot: string): MaterializeExtras => {
      const s = DEFAULT_PLAN.slots.find((x) => x.name === slot);
      if (!s) throw new Error(`channelReady: the default plan has no slot "${slot}"`);
      return { stamp: stampFor(slot), channels: resolveChannels(s.channels, DEFAULT_PLAN.channelProfiles) };
    };
    const label = await labelOutput(0, 2048);
    const cases: SlotCase[] = [
      { slot: 'hero', input: '2048 px product on white', bytes: await productOnWhite(21), extras: extrasFor('hero') },
      { slot: 'label', input: '2048 px simulator edit, label printed', bytes: label.bytes, extras: extrasFor('label'), label: label.label },
      { slot: 'lifestyle', input: '2048x1536 scene', bytes: await sceneLandscape(22), extras: extrasFor('lifestyle') },
    ];

    // Warm-up: libvips' lazily loaded encoders and ICC transform, the JIT, and the OCR reader's start.
    for (const c of cases) {
      await materializer.run(c.bytes);
      await materializer.run(c.bytes, c.extras);
    }
    const start = await measure(() => readText(label.bytes));

    const per = new Map(cases.map((c) => [c.slot, { off: [] as number[], on: [] as number[], ocr: [] as number[], markOnly: [] as number[], channelsOnly: [] as number[], offWall: [] as number[], onWall: [] as number[], similarity: [] as number[], prepareMs: [] as number[], readMs: [] as number[], checks: [] as string[] }]));
    // Sides: off, everything on, and (where the time goes) marking alone and channels alone.
    const SIDES = ['off', 'on', 'mark', 'channels'] as const;
    for (let rep = 0; rep < o.reps; rep++) {
      for (const [i, c] of cases.entries()) {
        const r = per.get(c.slot)!;
        const k = (rep + i) % SIDES.length;
        const order = (rep + i) % 2 === 0 ? [...SIDES.slice(k), ...SIDES.slice(0, k)] : [...SIDES.slice(k), ...SIDES.slice(0, k)].reverse();
        for (const side of order) {
          if (side === 'off') {
            const m = await measure(() => materializer.run(c.bytes));
            r.off.push(m.cpuSeconds);
            r.offWall.push(m.seconds);
            continue;
          }
          if (side === 'mark' || side === 'channels') {
            const extras = side === 'mark' ? { stamp: c.extras.stamp! } : { channels: c.extras.channels! };
            const m = await measure(() => materializer.run(c.bytes, extras));
            (side === 'mark' ? r.markOnly : r.channelsOnly).push(m.cpuSeconds);
            continue;
          }
          const m = await measure(() => materializer.run(c.bytes, c.extras));
          // The label check reads the stored (marked) original: the same pixels as sent.
          const ocr = c.label !== undefined ? await measure(() => readText(c.bytes)) : undefined;
          r.on.push(m.cpuSeconds + (ocr?.cpuSeconds ?? 0));
          r.onWall.push(m.seconds + (ocr?.seconds ?? 0));
          if (ocr) {
            r.ocr.push(ocr.cpuSeconds);
            r.similarity.push(labelSimilarity(c.label!, ocr.result.text));
            r.prepareMs.push(ocr.result.prepareMs);
            r.readMs.push(ocr.result.readMs);
          }
          r.checks = (m.result[0]?.channelChecks ?? []).map((x) => `${x.profile}:${x.pass ? 'pass' : x.failures.map((f) => f.rule).join('+')}`);
        }
        log(`channelReady: rep ${rep + 1}/${o.reps} ${c.slot}: off ${round(r.off.at(-1)!, 2)} CPU-s, on ${round(r.on.at(-1)!, 2)} CPU-s`);
      }
    }

    const slots = cases.map((c) => {
      const r = per.get(c.slot)!;
      const off = mean(r.off);
      const on = mean(r.on);
      const ocr = mean(r.ocr);
      return {
        slot: c.slot,
        input: c.input,
        channels: (c.extras.channels ?? []).map((p) => p.name),
        ocr: c.label !== undefined,
        cpuSecondsOff: round(off, 3),
        cpuSecondsOn: round(on, 3),
        /** Of the added CPU: marking + channels inside the materialize step, and the OCR read-back. */
        addedCpuMs: {
          markingAndChannels: round((on - ocr - off) * 1000, 1),
          ocr: round(ocr * 1000, 1),
          total: round((on - off) * 1000, 1),
          /** Each alone on the materialize step (measured sides of their own, same run). */
          markingAlone: round((mean(r.markOnly) - off) * 1000, 1),
          channelsAlone: round((mean(r.channelsOnly) - off) * 1000, 1),
        },
        ratio: round(on / off, 3),
        wallRatio: round(sum(r.onWall) / sum(r.offWall), 3),
        offEach: r.off.map((v) => round(v, 2)),
        onEach: r.on.map((v) => round(v, 2)),
        checks: r.checks,
        ...(r.similarity.length ? { minLabelSimilarity: round(Math.min(...r.similarity), 3), ocrWallMs: { prepare: round(mean(r.prepareMs), 1), read: round(mean(r.readMs), 1) } } : {}),
      };
    });
    const meanRatio = round(mean(slots.map((s) => s.ratio)), 3);
    for (const s of slots) log(`channelReady: ${s.slot}: ${s.cpuSecondsOff} -> ${s.cpuSecondsOn} CPU-s per output (x${s.ratio})`);
    log(`channelReady: mean over the default slots x${meanRatio} (target <= ${READY_TARGET})`);
    return {
      channelReady: {
        reps: o.reps,
        variantSet: `DEFAULT_VARIANTS (${DEFAULT_VARIANTS.length})`,
        slots,
        meanRatio,
        /** Sum over the three slots, on / off: the budget weighted by each slot's own cost. */
        pooledRatio: round(sum(slots.map((s) => s.cpuSecondsOn)) / sum(slots.map((s) => s.cpuSecondsOff)), 3),
        target: READY_TARGET,
        withinTarget: meanRatio <= READY_TARGET,
        ocrReaderStart: { seconds: round(start.seconds, 3), cpuSeconds: round(start.cpuSeconds, 3), note: 'once per worker process, not counted' },
        note: 'materialize step (store original + renderVariants + puts) with marking and channels vs without, plus readText for label; interleaved, CPU seconds of all threads',
      },
    };
  } finally {
    await closeOcr();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
