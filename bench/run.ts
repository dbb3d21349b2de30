/**
 * `npm run bench [-- flags]`: runs the benchmarks, prints a table, writes bench/results.json.
 * Every figure that has a target is a ratio against a baseline measured in the same run. The
 * benchmarks never fail the test suite; a missed target is reported, not thrown.
 *
 *   npm run bench -- --n 500 --skus 10000 --only throughput,imaging
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command, InvalidArgumentError } from 'commander';
import { BENCH_DIR, log, machineInfo, round, startTemporal, type TemporalServer } from './harness';
import { runChannels } from './channels';
import { runChannelReady } from './channelReady';
import { runImaging } from './imaging';
import { runLabel } from './label';
import { runProvenance } from './provenance';
import { runRealistic } from './realistic';
import { runScale } from './scale';
import { runThroughput } from './throughput';

const BENCHMARKS = ['throughput', 'imaging', 'scale', 'realistic', 'provenance', 'channels', 'label', 'channelReady'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const int = (name: string, min = 0) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};

const program = new Command('bench')
  .description('Catalog asset worker benchmarks: orchestration throughput, image work, scale')
  .option('--only <list>', `comma-separated subset of ${BENCHMARKS.join(',')}`, (v) => {
    const list = v.split(',').map((s) => s.trim()).filter(Boolean);
    for (const b of list) if (!BENCHMARKS.includes(b as Benchmark)) throw new InvalidArgumentError(`unknown benchmark "${b}"`);
    return list as Benchmark[];
  })
  // throughput
  .option('--n <n>', 'SKUs in the hero-only throughput refresh', int('--n', 1), 2000)
  .option('--three-slot-n <n>', 'SKUs in the three-slot throughput refresh (0 skips it)', int('--three-slot-n'), 200)
  .option('--low-concurrency <c>', 'a second hero-only run at this provider cap C (0 skips it)', int('--low-concurrency'), 6)
  .option('--low-n <n>', 'SKUs in that run', int('--low-n'), 180)
  .option('--latency-ms <ms>', 'fixed simulator job latency L', int('--latency-ms', 1), 1000)
  .option('--concurrency <c>', 'simulator jobs running at once C', int('--concurrency', 1), 32)
  .option('--window <w>', 'refresh window: product workflows in flight', int('--window', 1), 96)
  .option('--page-size <n>', 'refresh page size', int('--page-size', 1), 100)
  .option('--skus-per-run <n>', 'refresh SKUs per run before continue-as-new (max 5000)', int('--skus-per-run', 1), 5000)
  .option('--provider-concurrency <n>', 'worker provider activity slots', int('--provider-concurrency', 1), 256)
  .option('--provider-rate <n>', 'worker provider activity starts per second', int('--provider-rate', 1), 1000)
  .option('--poll-initial-ms <ms>', 'first poll interval (both Temporal and the plain script)', int('--poll-initial-ms', 1), 250)
  .option('--poll-max-ms <ms>', 'longest poll interval', int('--poll-max-ms', 1), 1000)
  .option('--imaging-concurrency <n>', 'worker imaging activity slots in the throughput runs (tiny outputs: IO-bound)', int('--imaging-concurrency', 1), 8)
  .option('--db-pool <n>', 'worker Postgres pool size', int('--db-pool', 1), 20)
  .option('--output-scale <s>', 'simulator output scale (image work made negligible)', parseFloat, 0.05)
  // realistic
  .option('--realistic-n <n>', 'hero SKUs in the realistic-latency refresh', int('--realistic-n', 1), 1000)
  .option('--realistic-concurrency <c>', 'provider cap C of that run', int('--realistic-concurrency', 1), 256)
  .option('--realistic-time-scale <x>', 'latency time scale (1 = real time)', parseFloat, 1)
  .option('--realistic-window <w>', 'refresh window (default C x 1.25)', int('--realistic-window', 1))
  .option('--realistic-sweep <list>', 'further caps C to run, comma-separated (N scaled to the same number of waves)', (v) => v.split(',').map((x) => Number(x.trim())).filter((x) => Number.isInteger(x) && x > 0), [] as number[])
  // imaging
  .option('--imaging-reps <n>', 'images each side of project vs minimal (each ~1 s: enough reps to outweigh scheduling noise)', int('--imaging-reps', 1), 10)
  .option('--label-reps <n>', 'label outputs materialized and read back by OCR', int('--label-reps', 1), 5)
  .option('--ready-reps <n>', 'repetitions of the three default slots with and without marking, channels and OCR (channelReady)', int('--ready-reps', 1), 6)
  .option('--imaging-images <n>', 'images in the concurrency = cores run (peak RSS)', int('--imaging-images', 1), 6)
  .option('--avif-grid <pairs>', 'AVIF effort:quality pairs', '2:40,2:45,2:50,2:60,3:45,3:50,4:45,4:50,4:60,6:50')
  .option('--imaging-input <files>', 'comma-separated real provider outputs (JPEG/PNG) to use instead of drawn ones')
  .option('--avif-candidate <e:q[:nozoom]>', 'another AVIF setting measured end to end at concurrency = cores, against the default (4:50 = the default before the benchmark chose e2 q45; "none" skips)', '4:50')
  // scale
  .option('--skus <n>', 'products imported and dry-run refreshed', int('--skus', 1), 100_000)
  .option('--table-skus <n>', 'SKUs refreshed for real to size the asset tables', int('--table-skus', 1), 200)
  .option('--dry-run-page-size <n>', 'dry-run refresh page size (workflow default 100)', int('--dry-run-page-size', 1), 1000)
  .option('--dry-run-skus-per-run <n>', 'dry-run refresh SKUs per run (workflow default 500)', int('--dry-run-skus-per-run', 1), 5000)
  .option('--history-samples <n>', 'product workflow histories read per refresh', int('--history-samples', 1), 5)
  .option('--out <file>', 'results file', path.join(BENCH_DIR, 'results.json'))
  .option('--no-merge', 'do not keep sections of an earlier results file that this run did not measure');

interface Opts {
  only?: Benchmark[];
  n: number;
  threeSlotN: number;
  lowConcurrency: number;
  lowN: number;
  latencyMs: number;
  concurrency: number;
  window: number;
  pageSize: number;
  skusPerRun: number;
  providerConcurrency: number;
  providerRate: number;
  pollInitialMs: number;
  pollMaxMs: number;
  dbPool: number;
  imagingConcurrency: number;
  outputScale: number;
  imagingReps: number;
  imagingImages: number;
  labelReps: number;
  readyReps: number;
  avifGrid: string;
  avifCandidate: string;
  imagingInput?: string;
  skus: number;
  tableSkus: number;
  dryRunPageSize: number;
  dryRunSkusPerRun: number;
  historySamples: number;
  realisticN: number;
  realisticConcurrency: number;
  realisticTimeScale: number;
  realisticWindow?: number;
  realisticSweep: number[];
  out: string;
  merge: boolean;
}

function parseCandidate(v: string): { effort: number; quality: number; zoom: boolean } | undefined {
  if (v === 'none') return undefined;
  const [pair] = parseGrid(v.split(':').slice(0, 2).join(':'));
  return { ...pair!, zoom: !v.endsWith(':nozoom') };
}

function parseGrid(v: string): Array<{ effort: number; quality: number }> {
  return v.split(',').map((pair) => {
    const [e, q] = pair.split(':').map(Number);
    if (!Number.isInteger(e) || !Number.isInteger(q) || e! < 0 || e! > 9 || q! < 1 || q! > 100) throw new Error(`--avif-grid: "${pair}" is not effort:quality`);
    return { effort: e!, quality: q! };
  });
}

async function main(): Promise<void> {
  const o = program.parse().opts<Opts>();
  const selected = new Set<Benchmark>(o.only ?? BENCHMARKS);
  const grid = parseGrid(o.avifGrid);
  const started = performance.now();
  const results: Record<string, unknown> = { machine: machineInfo(), startedAt: new Date().toISOString() };
  const timings: Record<string, number> = {};
  const errors: Record<string, string> = {};

  let temporal: TemporalServer | undefined;
  try {
    if (selected.has('throughput') || selected.has('scale') || selected.has('realistic')) {
      log('starting the Temporal dev server');
      temporal = await startTemporal();
    }
    const run = async (name: Benchmark, fn: () => Promise<Record<string, unknown>>) => {
      if (!selected.has(name)) return;
      const t0 = performance.now();
      try {
        Object.assign(results, await fn());
      } catch (err) {
        // Reported, never thrown: a benchmark does not fail the suite.
        errors[name] = err instanceof Error ? err.stack ?? err.message : String(err);
        log(`${name} FAILED: ${errors[name]}`);
      }
      timings[name] = round((performance.now() - t0) / 1000, 1);
    };
    await run('throughput', () =>
      runThroughput(temporal!, {
        n: o.n,
        threeSlotN: o.threeSlotN,
        latencyMs: o.latencyMs,
        concurrency: o.concurrency,
        window: o.window,
        pageSize: o.pageSize,
        skusPerRun: o.skusPerRun,
        providerConcurrency: o.providerConcurrency,
        providerRatePerSecond: o.providerRate,
        imagingConcurrency: o.imagingConcurrency,
        databasePoolSize: o.dbPool,
        poll: { initialMs: o.pollInitialMs, maxIntervalMs: o.pollMaxMs },
        outputScale: o.outputScale,
        historySamples: o.historySamples,
        lowConcurrency: o.lowConcurrency,
        lowN: o.lowN,
      }),
    );
    await run('imaging', () =>
      runImaging({ reps: o.imagingReps, avifGrid: grid, concurrencyImages: o.imagingImages, concurrency: os.availableParallelism(), catalogOutputs: 30_000, candidate: parseCandidate(o.avifCandidate), inputFiles: o.imagingInput?.split(',').map((f) => f.trim()).filter(Boolean) }),
    );
    await run('label', () => runLabel({ reps: o.labelReps, edge: 2048 }));
    await run('provenance', () => runProvenance({ reps: 3, images: 2 }));
    await run('channels', () => runChannels({ reps: o.imagingReps }));
    await run('channelReady', () => runChannelReady({ reps: o.readyReps }));
    await run('scale', () =>
      runScale(temporal!, { skus: o.skus, tableSkus: o.tableSkus, dryRunPageSize: o.dryRunPageSize, dryRunSkusPerRun: o.dryRunSkusPerRun, historySamples: o.historySamples }),
    );
    await run('realistic', () =>
      runRealistic(temporal!, {
        n: o.realisticN,
        concurrency: o.realisticConcurrency,
        timeScale: o.realisticTimeScale,
        ...(o.realisticWindow !== undefined ? { window: o.realisticWindow } : {}),
        providerRatePerSecond: o.providerRate,
        imagingConcurrency: o.imagingConcurrency,
        databasePoolSize: o.dbPool,
        outputScale: o.outputScale,
        sweep: o.realisticSweep,
      }),
    );
  } finally {
    await temporal?.teardown();
  }

  // The hero-only product history from the throughput run joins the scale section's history.
  const heroHistory = results.heroHistory;
  delete results.heroHistory;
  if (heroHistory) results.history = { ...(results.history as object | undefined), heroOnlyProductWorkflow: heroHistory };
  results.run = { seconds: round((performance.now() - started) / 1000, 1), perBenchmarkSeconds: timings, options: o, errors };

  let merged = results;
  if (o.merge) {
    try {
      const previous = JSON.parse(await fs.readFile(o.out, 'utf8')) as Record<string, unknown>;
      merged = { ...previous, ...results };
      // The realistic run alone keeps the machine and run record of the full run (its own sit in its section).
      if (selected.size === 1 && selected.has('realistic')) {
        for (const key of ['machine', 'startedAt', 'run'] as const) if (previous[key] !== undefined) merged[key] = previous[key];
        merged.realistic = { ...(results.realistic as object), machine: results.machine, startedAt: results.startedAt, run: results.run };
      }
      if (!selected.has('scale') && previous.history && heroHistory) merged.history = { ...(previous.history), heroOnlyProductWorkflow: heroHistory };
    } catch {
      /* no earlier results */
    }
  }
  await fs.writeFile(o.out, `${JSON.stringify(merged, null, 2)}\n`);
  printTable(results);
  if (Object.keys(errors).length > 0) process.exitCode = 1;
  log(`wrote ${path.relative(process.cwd(), o.out)} in ${round((performance.now() - started) / 1000, 1)} s${Object.keys(errors).length ? ` (FAILED: ${Object.keys(errors).join(', ')})` : ''}`);
}

type Row = { benchmark: string; figure: string; value: string | number; baseline?: string | number; ratio?: string | number; target?: string };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the results object is printed, not typed
function printTable(r: Record<string, any>): void {
  const rows: Row[] = [];
  const t = r.throughput;
  if (t) {
    rows.push({ benchmark: 'throughput', figure: `hero-only refresh, N=${t.n}, L=${t.latencyMs} ms, C=${t.concurrency} (s)`, value: t.seconds, baseline: `bound ${t.boundSeconds}`, ratio: t.ratioToBound, target: '<= 1.15' });
    rows.push({ benchmark: 'throughput', figure: 'same, vs plain in-process script (s)', value: t.seconds, baseline: `plain ${t.plainScriptSeconds}`, ratio: t.ratioToPlainScript, target: '<= 1.10' });
    if (t.atLowerConcurrency) {
      const s = t.atLowerConcurrency;
      rows.push({ benchmark: 'throughput', figure: `hero-only at C=${s.concurrency}, N=${s.n} [flagged: lower rate] (s)`, value: s.seconds, baseline: `bound ${s.boundSeconds}`, ratio: s.ratioToBound });
      rows.push({ benchmark: 'throughput', figure: 'same, vs plain in-process script (s)', value: s.seconds, baseline: `plain ${s.plainScriptSeconds}`, ratio: s.ratioToPlainScript });
    }
    if (t.threeSlot) {
      const s = t.threeSlot;
      rows.push({ benchmark: 'throughput', figure: `three-slot refresh, N=${s.n} (${s.jobs} jobs) [flagged: smaller N] (s)`, value: s.seconds, baseline: `bound ${s.boundSeconds}`, ratio: s.ratioToBound });
      rows.push({ benchmark: 'throughput', figure: 'same, vs plain in-process script (s)', value: s.seconds, baseline: `plain ${s.plainScriptSeconds}`, ratio: s.ratioToPlainScript });
    }
  }
  const rl = r.realistic;
  if (rl) {
    rows.push({ benchmark: 'realistic', figure: `hero-only refresh, N=${rl.n}, realistic latency x${rl.timeScale} (L=${rl.meanLatencyMs} ms), C=${rl.concurrency} (s)`, value: rl.seconds, baseline: `bound ${rl.boundSeconds}`, ratio: rl.ratioToBound, target: '<= 1.15' });
    rows.push({ benchmark: 'realistic', figure: "same, the provider's own makespan (s)", value: rl.providerSpanSeconds, baseline: `bound ${rl.boundSeconds}`, ratio: rl.providerSpanRatioToBound });
    rows.push({ benchmark: 'realistic', figure: 'polls / heartbeats per job', value: `${rl.pollsPerJob} / ${rl.heartbeatsPerJob}` });
    rows.push({ benchmark: 'realistic', figure: 'CPU ms per SKU / worker peak RSS (MB)', value: `${rl.cpu.msPerSku} / ${rl.workerPeakRssMb}` });
    rows.push({ benchmark: 'realistic', figure: 'jobs in flight one machine holds at 80 % CPU (estimate)', value: rl.inFlightAtCpuLimit });
    for (const s of rl.sweep ?? []) rows.push({ benchmark: 'realistic', figure: `sweep C=${s.concurrency}, N=${s.n} (s)`, value: s.seconds, baseline: `bound ${s.boundSeconds}`, ratio: s.ratioToBound });
  }
  const i = r.imaging;
  if (i) {
    rows.push({ benchmark: 'imaging', figure: 'materialize, 2048 px output, default set (s/image, wall)', value: i.secondsPerImage, baseline: `minimal ${i.minimalSecondsPerImage}`, ratio: i.ratioToMinimal, target: '<= 1.10' });
    rows.push({ benchmark: 'imaging', figure: 'same, CPU seconds per image', value: i.cpuSecondsPerImage, baseline: `minimal ${i.minimalCpuSecondsPerImage}`, ratio: i.cpuRatioToMinimal });
    rows.push({ benchmark: 'imaging', figure: `peak RSS at imaging concurrency ${i.concurrencyRun.concurrency} (MB)`, value: i.peakRssMb });
    rows.push({ benchmark: 'imaging', figure: `images/s at concurrency ${i.concurrencyRun.concurrency}`, value: i.concurrencyRun.imagesPerSecond });
    rows.push({ benchmark: 'imaging', figure: '30,000 outputs, worker hours (this machine, default set)', value: i.concurrencyRun.workerHoursPerCatalog });
    if (i.candidateRun) {
      rows.push({ benchmark: 'imaging', figure: `candidate ${i.candidateRun.set}: worker hours (30,000 outputs)`, value: i.candidateRun.workerHoursPerCatalog });
      rows.push({ benchmark: 'imaging', figure: `candidate ${i.candidateRun.set}: peak RSS (MB)`, value: i.candidateRun.peakRssMb });
    }
  }
  const h = r.history;
  if (h?.eventsPerProductWorkflow !== undefined) {
    rows.push({ benchmark: 'scale', figure: 'events per product workflow (three slots)', value: h.eventsPerProductWorkflow });
    rows.push({ benchmark: 'scale', figure: 'workflow tasks / activities per SKU (three slots)', value: `${h.workflowTasksPerProductWorkflow} / ${h.activitiesPerSku}` });
    rows.push({ benchmark: 'scale', figure: `dry-run refresh of ${h.skus} SKUs: largest run's history (events)`, value: h.largestRefreshRunEvents, baseline: `${h.refreshRuns} runs` });
    rows.push({ benchmark: 'scale', figure: `dry-run refresh of ${h.skus} SKUs (s)`, value: h.dryRun.seconds });
  }
  if (h?.heroOnlyProductWorkflow) rows.push({ benchmark: 'scale', figure: 'events per product workflow (hero only)', value: h.heroOnlyProductWorkflow.events });
  if (r.provenance) rows.push({ benchmark: 'provenance', figure: 'renderVariants CPU-s, 2048 px, default set: marked (XMP + sRGB)', value: r.provenance.renderCpuSeconds.marked, baseline: `unmarked ${r.provenance.renderCpuSeconds.plain}`, ratio: r.provenance.ratioMarkedToPlain });
  if (r.channelReady) {
    const c = r.channelReady;
    for (const s of c.slots) rows.push({ benchmark: 'channelReady', figure: `${s.slot}: materialize + marking + ${s.channels.length} channels${s.ocr ? ' + OCR' : ''} (CPU-s/output)`, value: s.cpuSecondsOn, baseline: `off ${s.cpuSecondsOff}`, ratio: s.ratio, target: `<= ${c.target}` });
    rows.push({ benchmark: 'channelReady', figure: `mean over the default slots (${c.reps} reps)${c.withinTarget ? '' : ' [MISSED]'}`, value: c.meanRatio, baseline: `pooled ${c.pooledRatio}`, ratio: c.meanRatio, target: `<= ${c.target}` });
  }
  if (r.memory) rows.push({ benchmark: 'scale', figure: `worker peak RSS during the ${t?.n ?? ''}-SKU refresh (MB)`, value: r.memory.workerPeakRssMb });
  if (r.import) rows.push({ benchmark: 'scale', figure: `import ${r.import.products} products from CSV (s)`, value: r.import.seconds, baseline: r.import.importer.startsWith('FALLBACK') ? 'FALLBACK: upsertProducts' : 'importFile' });
  if (r.tables) rows.push({ benchmark: 'scale', figure: 'Postgres bytes per 1,000 SKUs with assets', value: r.tables.bytesPer1000Skus });
  console.table(rows);
  if (t?.whereTimeGoes) {
    console.log('\nWhere the time goes (hero-only):');
    for (const line of t.whereTimeGoes) console.log(`  - ${line}`);
  }
  if (t?.atLowerConcurrency?.whereTimeGoes) {
    console.log(`\nWhere the time goes (hero-only at C=${t.atLowerConcurrency.concurrency}):`);
    for (const line of t.atLowerConcurrency.whereTimeGoes) console.log(`  - ${line}`);
  }
  if (t?.threeSlot?.whereTimeGoes) {
    console.log('\nWhere the time goes (three-slot):');
    for (const line of t.threeSlot.whereTimeGoes) console.log(`  - ${line}`);
  }
  if (rl?.whereTimeGoes) {
    console.log('\nWhere the time goes (realistic latency):');
    for (const line of rl.whereTimeGoes) console.log(`  - ${line}`);
  }
  if (i?.alternatives) {
    console.log('\nVariant sets for a 30,000-output catalog (CPU: measured fixed part + measured encodes):');
    console.table(
      i.alternatives.map((a: { name: string; cpuSecondsPerImage: number; workerHoursPerCatalog: number; storedBytesPerImage: number; deliveredBytes: Record<string, number>; deliveredSsim: Record<string, number> }) => ({
        set: a.name,
        'CPU s/image': a.cpuSecondsPerImage,
        'worker h (30k)': a.workerHoursPerCatalog,
        'stored KB': Math.round(a.storedBytesPerImage / 1024),
        'zoom KB': Math.round((a.deliveredBytes.zoom ?? 0) / 1024),
        'zoom SSIM': a.deliveredSsim.zoom,
        'product KB': Math.round((a.deliveredBytes.product ?? 0) / 1024),
        'product SSIM': a.deliveredSsim.product,
      })),
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
