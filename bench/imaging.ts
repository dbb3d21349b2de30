/**
 * Image work. For the default variant set and a 2048-px provider output:
 *   - seconds (wall and CPU) per output image of the project's materialize step (activities/imaging.ts:
 *     inspect, one decode, 12 variants, placeholder, hashes, storage puts; the download is instant)
 *     against a minimal single-decode sharp script (bench/minimalSharp.ts), in the same run;
 *   - time, bytes and SSIM per variant (perFormat);
 *   - AVIF effort/quality alternatives per size, and what whole variant sets built from them cost
 *     for a 10,000-SKU x 3-slot catalog (30,000 outputs);
 *   - peak RSS and images/s of the materialize step at imaging concurrency = core count, in a child
 *     process of its own.
 * Wall times on a busy machine are noisy; CPU seconds (all threads of the process) much less so.
 */
import { fork } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { configureSharp, DEFAULT_SIZES, DEFAULT_VARIANTS, FORMAT_DEFAULTS, renderVariants, type VariantSpec } from '../src/imaging';
import { BENCH_DIR, log, OUT_DIR, round, stats } from './harness';
import { makeMaterializer, makeProviderOutput, measure, rawOf, ssim, writeInputs } from './imagingShared';
import { minimalVariants } from './minimalSharp';

export interface ImagingOptions {
  reps: number;
  /** AVIF settings to compare, as effort:quality pairs. */
  avifGrid: Array<{ effort: number; quality: number }>;
  /** Images the concurrency run materializes (at imaging concurrency = cores). */
  concurrencyImages: number;
  concurrency: number;
  /** Outputs of the catalog the cost estimate is for (10,000 SKUs x 3 slots). */
  catalogOutputs: number;
  /** Real provider outputs to use instead of drawn ones (cycled when there are fewer than needed). */
  inputFiles?: string[];
  /** A candidate AVIF setting measured end to end as well (concurrency run): effort, quality, whether zoom keeps AVIF. */
  candidate?: { effort: number; quality: number; zoom: boolean };
}

/** DEFAULT_VARIANTS with the AVIF encoder settings replaced (and the zoom AVIF dropped unless zoom). */
export function candidateVariants(c: { effort: number; quality: number; zoom: boolean }): VariantSpec[] {
  return DEFAULT_VARIANTS.filter((v) => v.format !== 'avif' || c.zoom || v.maxEdge !== DEFAULT_SIZES.zoom).map((v) =>
    v.format === 'avif' ? { ...v, effort: c.effort, quality: c.quality } : { ...v },
  );
}

interface EncodeFigure {
  seconds: number;
  cpuSeconds: number;
  bytes: number;
  width: number;
  height: number;
  ssim: number;
}

async function encodeOne(base: Sharp, spec: VariantSpec, reference: Awaited<ReturnType<typeof rawOf>>): Promise<EncodeFigure> {
  const quality = spec.quality ?? FORMAT_DEFAULTS[spec.format].quality;
  const effort = spec.effort ?? FORMAT_DEFAULTS[spec.format].effort;
  const { result, seconds, cpuSeconds } = await measure(async () => {
    let p = base.clone().resize(spec.maxEdge, spec.maxEdge, { fit: 'inside', withoutEnlargement: true });
    if (spec.format === 'avif') p = p.avif({ quality, effort });
    else if (spec.format === 'webp') p = p.webp({ quality, effort });
    else p = p.jpeg({ quality, mozjpeg: true });
    return p.toBuffer({ resolveWithObject: true });
  });
  const decoded = await rawOf(result.data);
  return { seconds, cpuSeconds, bytes: result.data.length, width: result.info.width, height: result.info.height, ssim: ssim(reference, decoded) };
}

function runChild(config: unknown): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(BENCH_DIR, 'imagingProcess.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_IMAGING_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let answer: Record<string, unknown> | undefined;
    child.on('message', (m: Record<string, unknown>) => (answer = m));
    child.once('exit', (code) => {
      if (answer && typeof answer.error !== 'string') resolve(answer as Record<string, number>);
      else reject(new Error(`imaging child failed (exit ${code}): ${typeof answer?.error === 'string' ? answer.error : 'no answer'}`));
    });
  });
}

export async function runImaging(o: ImagingOptions) {
  configureSharp({});
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-bench-imaging-'));
  try {
    const count = Math.max(o.reps, o.concurrencyImages);
    const inputs: Buffer[] = [];
    if (o.inputFiles && o.inputFiles.length > 0) {
      log(`imaging: using ${o.inputFiles.length} provider output file(s) given with --imaging-input`);
      const files = await Promise.all(o.inputFiles.map((f) => fs.readFile(f)));
      for (let i = 0; i < count; i++) inputs.push(files[i % files.length]!);
    } else {
      log(`imaging: drawing ${count} 2048x2048 provider outputs`);
      for (let i = 0; i < count; i++) inputs.push(await makeProviderOutput(101 + i));
    }
    const sourceMeta = await sharp(inputs[0]).metadata();

    // Warm-up: load the codecs once so neither side pays for it.
    await minimalVariants(await sharp(inputs[0]).resize(256).jpeg().toBuffer(), DEFAULT_VARIANTS);

    // 1. The project's materialize step against the minimal script, alternating who goes first.
    const project: Array<{ seconds: number; cpuSeconds: number; storageSeconds: number }> = [];
    const minimal: Array<{ seconds: number; cpuSeconds: number }> = [];
    const renderOnly: Array<{ seconds: number; cpuSeconds: number }> = [];
    let outputBytes: Record<string, number> = {};
    let originalBytes = 0;
    for (let i = 0; i < o.reps; i++) {
      const input = inputs[i]!;
      const materializer = makeMaterializer(path.join(work, `project-${i}`), [...DEFAULT_VARIANTS]);
      const minimalDir = path.join(work, `minimal-${i}`);
      await fs.mkdir(minimalDir, { recursive: true });
      const runProject = async () => {
        const m = await measure(() => materializer.run(input));
        project.push({ seconds: m.seconds, cpuSeconds: m.cpuSeconds, storageSeconds: materializer.takeStorageSeconds() });
        if (i === 0) {
          outputBytes = Object.fromEntries(m.result[0]!.variants.map((v) => [v.name, v.bytes]));
          originalBytes = input.length;
        }
      };
      const runMinimal = async () => {
        const m = await measure(() => minimalVariants(input, DEFAULT_VARIANTS, minimalDir));
        minimal.push({ seconds: m.seconds, cpuSeconds: m.cpuSeconds });
      };
      // renderVariants alone (no inspect, no storage): splits the project's step into render and the rest.
      const runRender = async () => {
        const m = await measure(() => renderVariants(input, DEFAULT_VARIANTS));
        renderOnly.push({ seconds: m.seconds, cpuSeconds: m.cpuSeconds });
      };
      const order = [runProject, runMinimal, runRender];
      for (let k = 0; k < order.length; k++) await order[(i + k) % order.length]!();
      log(`imaging: image ${i + 1}/${o.reps}: project ${project.at(-1)!.seconds.toFixed(2)} s, minimal ${minimal.at(-1)!.seconds.toFixed(2)} s, renderVariants alone ${renderOnly.at(-1)!.seconds.toFixed(2)} s`);
    }
    // Wall time: the median of the reps (a busy machine adds long outliers); CPU time: the mean.
    const projectWall = stats(project.map((p) => p.seconds)).p50;
    const minimalWall = stats(minimal.map((p) => p.seconds)).p50;
    const projectCpu = stats(project.map((p) => p.cpuSeconds)).mean;
    const minimalCpu = stats(minimal.map((p) => p.cpuSeconds)).mean;

    // 2. Per variant, encoded one at a time from one decoded image: time, bytes, SSIM.
    log('imaging: per-variant figures');
    const decoded = await rawOf(sharp(inputs[0]));
    const base = sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: decoded.channels as 3 } });
    const references = new Map<number, Awaited<ReturnType<typeof rawOf>>>();
    for (const edge of Object.values(DEFAULT_SIZES)) {
      references.set(edge, await rawOf(base.clone().resize(edge, edge, { fit: 'inside', withoutEnlargement: true })));
    }
    const perFormat: Array<{ variant: string; format: string; maxEdge: number; quality: number; effort?: number } & EncodeFigure> = [];
    for (const spec of DEFAULT_VARIANTS) {
      const f = await encodeOne(base, spec, references.get(spec.maxEdge)!);
      perFormat.push({
        variant: spec.name,
        format: spec.format,
        maxEdge: spec.maxEdge,
        quality: spec.quality ?? FORMAT_DEFAULTS[spec.format].quality,
        effort: spec.effort ?? FORMAT_DEFAULTS[spec.format].effort,
        ...roundFigure(f),
      });
    }

    // 3. AVIF alternatives, per size.
    const avifOptions: Array<{ effort: number; quality: number; sizes: Record<string, EncodeFigure>; cpuSecondsAllSizes: number; bytesAllSizes: number }> = [];
    for (const { effort, quality } of o.avifGrid) {
      log(`imaging: AVIF effort ${effort} quality ${quality}`);
      const sizes: Record<string, EncodeFigure> = {};
      for (const [size, edge] of Object.entries(DEFAULT_SIZES)) {
        sizes[`${size}-${edge}`] = roundFigure(await encodeOne(base, { name: 'x', format: 'avif', maxEdge: edge, quality, effort }, references.get(edge)!));
      }
      const all = Object.values(sizes);
      avifOptions.push({ effort, quality, sizes, cpuSecondsAllSizes: round(all.reduce((s, f) => s + f.cpuSeconds, 0)), bytesAllSizes: all.reduce((s, f) => s + f.bytes, 0) });
    }

    // 4. Whole variant sets built from those figures. The fixed part of the step (inspect, decode,
    //    placeholder, hashes, storing the original) is measured directly: the project's materialize
    //    with the thumbnail JPEG alone; each set adds the CPU of its own encodes.
    log('imaging: fixed cost of the step (materialize with one thumbnail JPEG)');
    const thumbOnly = DEFAULT_VARIANTS.filter((v) => v.name === 'thumb-jpeg');
    const fixedRuns: number[] = [];
    for (let i = 0; i < o.reps; i++) {
      const m = makeMaterializer(path.join(work, `fixed-${i}`), [...thumbOnly]);
      fixedRuns.push((await measure(() => m.run(inputs[i]!))).cpuSeconds);
    }
    const fixedCpu = stats(fixedRuns).mean;
    const figure = (name: string) => perFormat.find((p) => p.variant === name)!;
    const nonAvif = DEFAULT_VARIANTS.filter((v) => v.format !== 'avif' && v.name !== 'thumb-jpeg');
    const nonAvifCpu = nonAvif.reduce((s, v) => s + figure(v.name).cpuSeconds, 0);
    const nonAvifBytes = [...nonAvif, ...thumbOnly].reduce((s, v) => s + figure(v.name).bytes, 0);
    const defaultEncodeCpu = DEFAULT_VARIANTS.filter((v) => v.name !== 'thumb-jpeg').reduce((s, v) => s + figure(v.name).cpuSeconds, 0);
    const sizeKeys = Object.entries(DEFAULT_SIZES).map(([size, edge]) => [size, `${size}-${edge}`] as const);
    const alternatives: Array<{
      name: string;
      cpuSecondsPerImage: number;
      storedBytesPerImage: number;
      /** What a browser with AVIF support downloads per size: the smallest format the set has there. */
      deliveredBytes: Record<string, number>;
      deliveredSsim: Record<string, number>;
      coreHoursPerCatalog: number;
      workerHoursPerCatalog: number;
    }> = [];
    const addSet = (name: string, avif: Partial<Record<string, EncodeFigure>>) => {
      const avifFigures = Object.values(avif).filter((f): f is EncodeFigure => f !== undefined);
      const cpu = fixedCpu + nonAvifCpu + avifFigures.reduce((s, f) => s + f.cpuSeconds, 0);
      const coreHours = (cpu * o.catalogOutputs) / 3600;
      const deliveredBytes: Record<string, number> = {};
      const deliveredSsim: Record<string, number> = {};
      for (const [size] of sizeKeys) {
        const webp = figure(`${size}-webp`);
        const a = avif[size];
        const best = a && a.bytes < webp.bytes ? a : webp;
        deliveredBytes[size] = best.bytes;
        deliveredSsim[size] = best.ssim;
      }
      alternatives.push({
        name,
        cpuSecondsPerImage: round(cpu, 2),
        storedBytesPerImage: nonAvifBytes + avifFigures.reduce((s, f) => s + f.bytes, 0),
        deliveredBytes,
        deliveredSsim,
        coreHoursPerCatalog: round(coreHours, 1),
        workerHoursPerCatalog: round(coreHours / o.concurrency, 1),
      });
    };
    for (const opt of avifOptions) {
      const all = Object.fromEntries(sizeKeys.map(([size, key]) => [size, opt.sizes[key]!]));
      addSet(`AVIF e${opt.effort} q${opt.quality}, all sizes`, all);
      addSet(`AVIF e${opt.effort} q${opt.quality}, not at zoom`, { ...all, zoom: undefined });
    }
    addSet('no AVIF (WebP + JPEG only)', {});
    alternatives.sort((a, b) => a.cpuSecondsPerImage - b.cpuSecondsPerImage);

    // 5. Peak RSS and throughput at imaging concurrency = cores, in a process of its own.
    log(`imaging: materialize at concurrency ${o.concurrency} (${o.concurrencyImages} images) in a child process`);
    const files = await writeInputs(path.join(work, 'inputs'), inputs.slice(0, o.concurrencyImages));
    const child = await runChild({ files, concurrency: o.concurrency, variants: DEFAULT_VARIANTS, storageDir: path.join(work, 'concurrent') });

    let candidate: Record<string, unknown> | undefined;
    if (o.candidate) {
      const c = o.candidate;
      const label = `AVIF e${c.effort} q${c.quality}, ${c.zoom ? 'all sizes' : 'not at zoom'}`;
      log(`imaging: candidate set (${label}) at concurrency ${o.concurrency} in a child process`);
      const r = await runChild({ files, concurrency: o.concurrency, variants: candidateVariants(c), storageDir: path.join(work, 'candidate') });
      const ips = r.images! / r.seconds!;
      candidate = {
        set: label,
        images: r.images,
        seconds: round(r.seconds!, 2),
        imagesPerSecond: round(ips, 3),
        cpuSecondsPerImage: round(r.cpuSeconds! / r.images!, 2),
        peakRssMb: round(r.maxRssMb!, 1),
        workerHoursPerCatalog: round(o.catalogOutputs / ips / 3600, 1),
        modelled: alternatives.find((a) => a.name === label) ?? null,
      };
    }
    const modelledDefault = fixedCpu + defaultEncodeCpu;
    const defaultAlt = alternatives.find((a) => a.name === `AVIF e${FORMAT_DEFAULTS.avif.effort} q${FORMAT_DEFAULTS.avif.quality}, all sizes`);
    const imagesPerSecond = child.images! / child.seconds!;
    return {
      imaging: {
        source: {
          width: sourceMeta.width,
          height: sourceMeta.height,
          format: sourceMeta.format,
          bytes: originalBytes,
          content: o.inputFiles?.length ? `files: ${o.inputFiles.join(', ')}` : 'drawn: packshot drawing + texture + grain, JPEG q92 (bench/imagingShared.ts)',
        },
        variantSet: 'DEFAULT_VARIANTS (4 sizes x AVIF/WebP/JPEG)',
        reps: o.reps,
        wallSecondsEachRep: { project: project.map((p) => round(p.seconds, 2)), minimal: minimal.map((p) => round(p.seconds, 2)), renderVariants: renderOnly.map((p) => round(p.seconds, 2)) },
        secondsPerImage: round(projectWall),
        minimalSecondsPerImage: round(minimalWall),
        ratioToMinimal: round(projectWall / minimalWall),
        // Each rep runs both sides on the same input back to back: the median of those ratios is less
        // sensitive to a slow moment of the machine than the ratio of the two medians.
        pairedRatioMedian: round(stats(project.map((p, i) => p.seconds / minimal[i]!.seconds)).p50),
        cpuSecondsPerImage: round(projectCpu),
        minimalCpuSecondsPerImage: round(minimalCpu),
        cpuRatioToMinimal: round(projectCpu / minimalCpu),
        breakdown: {
          renderVariantsSeconds: round(stats(renderOnly.map((p) => p.seconds)).p50),
          renderVariantsCpuSeconds: round(stats(renderOnly.map((p) => p.cpuSeconds)).mean),
          // CPU, not wall: on a busy machine the wall-clock difference of two medians is noise.
          restOfStepCpuSeconds: round(projectCpu - stats(renderOnly.map((p) => p.cpuSeconds)).mean),
          note: 'rest of step = inspect (header + SHA-256), storing the original and 12 variants (fsync each), activity context',
        },
        storagePutSecondsPerImageSummed: round(stats(project.map((p) => p.storageSeconds)).mean),
        target: { ratioToMinimal: 1.1, met: projectWall / minimalWall <= 1.1 },
        bytesPerImage: { original: originalBytes, variants: Object.values(outputBytes).reduce((s, b) => s + b, 0), byVariant: outputBytes },
        perFormat,
        peakRssMb: round(child.maxRssMb!, 1),
        concurrencyRun: {
          concurrency: o.concurrency,
          images: child.images,
          seconds: round(child.seconds!, 2),
          imagesPerSecond: round(imagesPerSecond, 3),
          cpuSecondsPerImage: round(child.cpuSeconds! / child.images!, 2),
          baselineRssMb: round(child.baselineRssMb!, 1),
          sampledPeakRssMb: round(child.sampledPeakRssMb!, 1),
          workerHoursPerCatalog: round(o.catalogOutputs / imagesPerSecond / 3600, 1),
        },
        candidateRun: candidate,
        sharpConcurrency: sharp.concurrency(),
        avifOptions,
        costModel: {
          catalogOutputs: o.catalogOutputs,
          fixedCpuSecondsPerImage: round(fixedCpu, 2),
          defaultSetModelledCpuSeconds: round(modelledDefault, 2),
          defaultSetMeasuredCpuSeconds: round(projectCpu, 2),
          defaultSetInGrid: defaultAlt?.name ?? null,
          note:
            `CPU seconds per image = fixed part (measured: materialize with the thumbnail JPEG only) + each variant's encode (measured one at a time); ` +
            `core hours = CPU seconds x ${o.catalogOutputs} outputs / 3600; worker hours = core hours / ${o.concurrency} cores (imaging concurrency = cores keeps them busy). ` +
            `Compare defaultSetModelledCpuSeconds with defaultSetMeasuredCpuSeconds for how well the model adds up.`,
        },
        alternatives,
      },
    };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
    await fs.mkdir(OUT_DIR, { recursive: true });
  }
}

function roundFigure(f: EncodeFigure): EncodeFigure {
  return { seconds: round(f.seconds), cpuSeconds: round(f.cpuSeconds), bytes: f.bytes, width: f.width, height: f.height, ssim: round(f.ssim, 4) };
}
