/**
 * Real timing: a hero-only refresh against the simulator's realistic latency profile (log-normal,
 * median 22 s, p95 ~45 s, a few % slow outliers), with hundreds of jobs in flight on one worker and
 * the product's own poll settings. N jobs cannot finish faster than N * L / C, where L is the mean
 * latency the jobs actually had; the refresh's wall time is reported against that bound, with the
 * worker's peak RSS, CPU per SKU, heartbeats and polls per job, and an estimate of how many jobs in
 * flight one worker holds before CPU becomes the limit.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { upsertCatalog } from '../src/db/repositories/catalogs';
import { upsertProducts } from '../src/db/repositories/products';
import { startSimulator } from '../src/provider/simulator';
import { refreshResult, startRefresh } from '../src/temporal/client/refresh';
import {
  benchAttributes,
  benchSku,
  cpuMeter,
  createBenchDatabase,
  HERO_ONLY_PLAN,
  log,
  providerUtilization,
  round,
  startBenchWorker,
  stats,
  summarizeJobTimings,
  type TemporalServer,
} from './harness';
import { NEGLIGIBLE_VARIANTS } from './throughput';

export interface RealisticOptions {
  n: number;
  /** The provider's cap C (simulator jobs running at once). */
  concurrency: number;
  /** 1 is real time; smaller compresses every latency. */
  timeScale: number;
  /** Refresh window; default C + 25 % so the provider never waits for a product workflow to start. */
  window?: number;
  providerRatePerSecond: number;
  imagingConcurrency: number;
  databasePoolSize: number;
  outputScale: number;
  /** Further runs at these caps (N scaled to keep ~4 waves), to see where a figure degrades. */
  sweep: number[];
}

/** The product's own poll settings (src/worker/deps.ts), so polls per job are what production does. */
const PRODUCT_POLL = { initialMs: 500, maxIntervalMs: 5_000, maxWaitMs: 30 * 60_000 };

async function runOne(temporal: TemporalServer, o: RealisticOptions, c: number, n: number, label: string) {
  const window = o.window ?? Math.min(1_000, Math.ceil(c * 1.25));
  log(`realistic/${label}: ${n} hero SKUs, realistic latency x${o.timeScale}, C=${c}, window ${window}`);
  const sim = await startSimulator({ latencyProfile: 'realistic', timeScale: o.timeScale, maxRunning: c, outputScale: o.outputScale, seed: 23 });
  const database = await createBenchDatabase();
  const storageDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-bench-realistic-'));
  const catalogId = `bench-realistic-${label}`;
  await upsertCatalog(database.db, { id: catalogId, plan: HERO_ONLY_PLAN, settings: {} });
  for (let start = 0; start < n; start += 1000) {
    const batch = Array.from({ length: Math.min(1000, n - start) }, (_, k) => {
      const attributes = benchAttributes(start + k);
      return { catalogId, sku: benchSku(start + k), name: attributes.name as string, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'bench' };
    });
    await upsertProducts(database.db, batch);
  }
  const prefix = `bench-realistic-${label}-${process.pid}`;
  const worker = await startBenchWorker({ temporal, database, sim }, {
    taskQueuePrefix: prefix,
    databasePoolSize: o.databasePoolSize,
    storageDir,
    variants: NEGLIGIBLE_VARIANTS,
    poll: PRODUCT_POLL,
    // The paid step holds its activity slot for the job's whole life: slots must exceed C.
    providerConcurrency: window,
    providerRatePerSecond: o.providerRatePerSecond,
    imagingConcurrency: o.imagingConcurrency,
    allowPrivateHosts: [],
  });
  try {
    const rssBeforeMb = (await worker.stats(true)).rssMb;
    const rss = worker.sampleRss(500);
    const loadBefore = os.loadavg()[0]!;
    const meter = cpuMeter({ pids: { worker: worker.pid, temporalServer: temporal.pid }, postgres: { db: database.db, name: database.name } });
    const startEpoch = Date.now();
    const t0 = performance.now();
    const { workflowId } = await startRefresh(temporal.client, prefix, { catalogId, selection: 'all', dryRun: false, trigger: 'manual', window, pageSize: 100, skusPerRun: 5000 });
    const result = await refreshResult(temporal.client, workflowId);
    const seconds = (performance.now() - t0) / 1000;
    const endEpoch = Date.now();
    const cpu = await meter.stop();
    const memory = await rss.stop();
    const loadAfter = os.loadavg()[0]!;
    const ledger = sim.ledger();
    const workerStats = await worker.stats();
    if (result.generated !== n || result.failed !== 0) throw new Error(`realistic/${label}: generated ${result.generated}/${n}, ${result.failed} failed`);
    if (ledger.jobs !== n || ledger.duplicateSubmissions !== 0) throw new Error(`realistic/${label}: ${ledger.jobs} jobs for ${n} SKUs, ${ledger.duplicateSubmissions} paid twice`);

    const timings = workerStats.jobs;
    const latency = stats(timings.map((t) => t.runningMs));
    const meanLatencyMs = latency.mean;
    const boundSeconds = (n * meanLatencyMs) / 1000 / c;
    const firstStart = Math.min(...timings.map((t) => t.startedAt));
    const lastDone = Math.max(...timings.map((t) => t.completedAt));
    const util = providerUtilization(timings, c, { from: firstStart, to: lastDone });
    const cpuSeconds = Object.values(cpu.seconds).reduce((a, b) => a + b, 0);
    const cpuMsPerSku = (cpuSeconds * 1000) / n;
    const workerCpuMsPerSku = ((cpu.seconds.worker ?? 0) * 1000) / n;
    const cores = os.availableParallelism();
    // Each job in flight costs cpuMsPerSku of CPU spread over its latency: at 80 % of the cores,
    // one worker machine holds this many jobs in flight before CPU, not the provider, is the limit.
    const inFlightAtCpuLimit = Math.floor((0.8 * cores * meanLatencyMs) / Math.max(1, cpuMsPerSku));
    const providerSpanSeconds = (lastDone - firstStart) / 1000;
    return {
      n,
      concurrency: c,
      window,
      timeScale: o.timeScale,
      seconds: round(seconds, 1),
      meanLatencyMs: round(meanLatencyMs, 0),
      latencyMs: { p50: round(latency.p50, 0), p95: round(latency.p95, 0), max: round(latency.max, 0) },
      boundSeconds: round(boundSeconds, 1),
      ratioToBound: round(seconds / boundSeconds),
      // The provider's own makespan: the last wave's slowest job is a floor the bound does not see.
      providerSpanSeconds: round(providerSpanSeconds, 1),
      providerSpanRatioToBound: round(providerSpanSeconds / boundSeconds),
      startupSeconds: round((firstStart - startEpoch) / 1000, 1),
      tailSeconds: round((endEpoch - lastDone) / 1000, 1),
      providerUtilization: util.utilization,
      provider: summarizeJobTimings(timings),
      workerPeakRssMb: memory.sampledPeakMb,
      workerRssBeforeMb: round(rssBeforeMb, 1),
      cpu: {
        seconds: cpu.seconds,
        msPerSku: round(cpuMsPerSku, 1),
        workerMsPerSku: round(workerCpuMsPerSku, 1),
        ourCores: cpu.ourCores,
        machineBusyCores: cpu.machineBusyCores,
      },
      heartbeatsPerJob: round(workerStats.heartbeats / n, 2),
      pollsPerJob: round(workerStats.polls / n, 2),
      inFlightAtCpuLimit,
      ledger: { jobs: ledger.jobs, duplicateSubmissions: ledger.duplicateSubmissions, billedImages: ledger.billedImages, costUsd: ledger.costUsd },
      loadAverage: { before: round(loadBefore, 2), after: round(loadAfter, 2) },
    };
  } finally {
    await worker.stop();
    await sim.close();
    await database.drop();
    await fs.rm(storageDir, { recursive: true, force: true });
  }
}

type RunResult = Awaited<ReturnType<typeof runOne>>;

/** Turns one run's figures into sentences: what held the wall time above the bound. */
export function explain(r: RunResult): string[] {
  const cores = os.availableParallelism();
  const inFlightMean = r.providerUtilization * r.concurrency;
  // The CPU the bound's rate (C jobs per L) needs, at this run's CPU per SKU.
  const coresNeeded = (r.cpu.msPerSku * r.concurrency) / r.meanLatencyMs;
  const lines = [
    `${r.n} SKUs at C=${r.concurrency}: ${r.seconds} s against a bound of ${r.boundSeconds} s (N x L ${r.meanLatencyMs} ms / C) = ${r.ratioToBound}x; ` +
      `${r.startupSeconds} s until the first job ran, ${r.providerSpanSeconds} s with jobs running, ${r.tailSeconds} s after the last job.`,
    `jobs in flight: ${inFlightMean.toFixed(0)} on average of C=${r.concurrency} (${Math.round(r.providerUtilization * 100)} % of the slots busy); a job waited ${r.provider.providerQueueMs.mean} ms for a provider slot, ` +
      (r.provider.providerQueueMs.mean < 1_000 ? 'so the provider was never the limit: the worker did not start jobs fast enough to fill it.' : 'so the provider was the limit while the window was full.'),
    `CPU ${r.cpu.msPerSku} ms per SKU (worker ${r.cpu.workerMsPerSku} ms, the rest the dev server, Postgres and the simulator); the bound's rate of ${((r.concurrency * 1000) / r.meanLatencyMs).toFixed(1)} SKUs/s needs ` +
      `${coresNeeded.toFixed(2)} cores of this machine's ${cores}` +
      (coresNeeded > 0.8 * cores ? ' -- CPU-bound here' : '') +
      `; our processes got ${r.cpu.ourCores} cores on average while the machine was ${r.cpu.machineBusyCores ?? '?'} cores busy (load average ${r.loadAverage.before} -> ${r.loadAverage.after}: the rest was other work).`,
    `at L = ${r.meanLatencyMs} ms one ${cores}-core machine running worker, dev server and Postgres holds ~${r.inFlightAtCpuLimit} jobs in flight at 80 % CPU; ` +
      `the worker alone (${r.cpu.workerMsPerSku} ms per SKU) ~${Math.floor((0.8 * cores * r.meanLatencyMs) / Math.max(1, r.cpu.workerMsPerSku))}.`,
    `the last wave's slowest job took ${r.latencyMs.max} ms (p95 ${r.latencyMs.p95} ms): at least that much of the makespan is the provider's tail, which the N x L / C bound does not count.`,
    `per job: ${r.pollsPerJob} polls and ${r.heartbeatsPerJob} heartbeats; a job was seen done ${r.provider.pollLagMs.mean} ms (p95 ${r.provider.pollLagMs.p95}) after it finished. Worker peak RSS ${r.workerPeakRssMb} MB.`,
  ];
  return lines;
}

export async function runRealistic(temporal: TemporalServer, o: RealisticOptions) {
  const main = await runOne(temporal, o, o.concurrency, o.n, `c${o.concurrency}`);
  const sweep: RunResult[] = [];
  for (const c of o.sweep) {
    // The same number of waves as the main run, so the last wave's tail weighs the same.
    sweep.push(await runOne(temporal, o, c, Math.max(c, Math.round((o.n * c) / o.concurrency)), `c${c}`));
  }
  return {
    realistic: {
      ...main,
      target: { ratioToBound: 1.15, met: main.ratioToBound <= 1.15 },
      whereTimeGoes: explain(main),
      sweep: sweep.map((s) => ({ ...s, whereTimeGoes: explain(s) })),
      settings: {
        profile: 'realistic (log-normal, median 22 s, sigma 0.37, 3 % outliers x1.8-3.5)',
        poll: PRODUCT_POLL,
        outputScale: o.outputScale,
        variants: NEGLIGIBLE_VARIANTS,
        warmUp: 'none (a warm-up at real latency costs a minute; start-up is reported as startupSeconds)',
      },
    },
  };
}
