/**
 * What the label check costs per label output, against the materialize step of the same output: the
 * simulator's edit with the requested label printed (2048 px, as the provider returns square_hd at
 * full scale), materialized with the default variant set (activities/imaging.ts), then read back
 * the way readLabel does (grey, at most 1,200 px, flattened, one tesseract worker reused) and compared.
 * CPU seconds count every thread of the process (libvips' and tesseract's worker thread included).
 * The reader's one-off start (loading the traineddata) is reported apart: once per worker process.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { configureSharp, DEFAULT_VARIANTS } from '../src/imaging';
import { closeOcr, readText } from '../src/imaging/ocr';
import { labelSimilarity } from '../src/label/compare';
import { renderOutputs } from '../src/provider/simulator/render';
import { DEFAULT_PLAN, renderTemplate } from '../src/shared/plan';
import { log, round, stats } from './harness';
import { makeMaterializer, measure } from './imagingShared';

export interface LabelBenchOptions {
  /** Label outputs measured (each ~1-3 s of CPU for both steps together). */
  reps: number;
  edge: number;
}

const LABELS = ['Night Cream 50 ml', 'Organic Green Tea, 20 bags', 'Vitamin C Serum 30 ml', 'Dark Chocolate 70% 100 g', 'Volume Noir Mascara · 10 ml'];

export async function labelOutput(i: number, edge: number): Promise<{ bytes: Buffer; label: string }> {
  const label = LABELS[i % LABELS.length]!;
  const source = await sharp({ create: { width: 512, height: 512, channels: 3, background: { r: 40 + ((i * 37) % 180), g: 120, b: 90 } } }).jpeg().toBuffer();
  const template = DEFAULT_PLAN.slots.find((s) => s.name === 'label')!.promptTemplate;
  const prompt = renderTemplate(template, { labelText: label, locale: 'en-GB' });
  const out = await renderOutputs(
    { operation: 'edit', seed: `bench-label-${i}`, prompt, width: edge, height: edge, format: 'jpeg', quality: 'high', watermark: false },
    [{ field: 'imageUrl', bytes: source, width: 512, height: 512 }],
    [0],
  );
  return { bytes: out.get(0)!.bytes, label };
}

export async function runLabel(o: LabelBenchOptions): Promise<Record<string, unknown>> {
  configureSharp({ concurrency: os.availableParallelism() });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-label-'));
  try {
    const materializer = makeMaterializer(dir, [...DEFAULT_VARIANTS]);
    const inputs = await Promise.all(Array.from({ length: o.reps }, (_, i) => labelOutput(i, o.edge)));
    // The reader's start: traineddata loaded from the package, once per process.
    const start = await measure(() => readText(inputs[0]!.bytes));
    const mat: number[] = [];
    const matCpu: number[] = [];
    const ocr: number[] = [];
    const ocrCpu: number[] = [];
    const similarities: number[] = [];
    for (const input of inputs) {
      const m = await measure(() => materializer.run(input.bytes));
      const r = await measure(() => readText(input.bytes));
      mat.push(m.seconds);
      matCpu.push(m.cpuSeconds);
      ocr.push(r.seconds);
      ocrCpu.push(r.cpuSeconds);
      similarities.push(labelSimilarity(input.label, r.result.text));
      log(`label ${input.label}: materialize ${m.cpuSeconds.toFixed(2)} s CPU, OCR ${r.cpuSeconds.toFixed(2)} s CPU, similarity ${similarities.at(-1)!.toFixed(2)}`);
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const label = {
      outputs: o.reps,
      edge: o.edge,
      readerStart: { seconds: round(start.seconds, 3), cpuSeconds: round(start.cpuSeconds, 3) },
      materialize: { ...roundStats(stats(mat)), cpuSecondsMean: round(sum(matCpu) / o.reps, 3) },
      ocr: { ...roundStats(stats(ocr)), cpuSecondsMean: round(sum(ocrCpu) / o.reps, 3) },
      /** OCR over the materialize step of the same outputs: what the check adds to the imaging work of a label. */
      ratioCpu: round(sum(ocrCpu) / sum(matCpu), 3),
      ratioWall: round(sum(ocr) / sum(mat), 3),
      passed: similarities.filter((s) => s >= 0.85).length,
      minSimilarity: round(Math.min(...similarities), 3),
    };
    return { label };
  } finally {
    await closeOcr();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function roundStats(s: ReturnType<typeof stats>) {
  return { meanSeconds: round(s.mean, 3), p50Seconds: round(s.p50, 3), p95Seconds: round(s.p95, 3) };
}
