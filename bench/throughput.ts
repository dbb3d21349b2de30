/**
 * Orchestration throughput. Against the simulator with a fixed job latency L and a cap of C jobs
 * running at once, N jobs cannot finish faster than N*L/C. Image work is made negligible (one small
 * JPEG variant of a tiny provider output), so what is left is orchestration: Temporal, the worker,
 * Postgres, polling. The refresh's wall time is reported as a ratio to that bound and to a plain
 * in-process script (bench/plainScript.ts) that calls the same ProviderClient with the same window.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { upsertCatalog } from '../src/db/repositories/catalogs';
import { upsertProducts } from '../src/db/repositories/products';
import type { VariantSpec } from '../src/imaging';
import { ProviderClient } from '../src/provider/client';
import { startSimulator, type RunningSimulator } from '../src/provider/simulator';
import { productWorkflowId } from '../src/shared/ids';
import { DEFAULT_PLAN, renderTemplate } from '../src/shared/plan';
import { refreshResult, startRefresh } from '../src/temporal/client/refresh';
import {
  benchAttributes,
  benchSku,
  chainHistoryLengths,
  cpuMeter,
  createBenchDatabase,
  fetchAnalysis,
  HERO_ONLY_PLAN,
  log,
  providerUtilization,
  round,
  startImageServer,
  startBenchWorker,
  stats,
  summarizeJobTimings,
  type CpuReport,
  type HistoryAnalysis,
  type TemporalServer,
  type WorkerStats,
} from './harness';
import { runPlainScript } from './plainScript';

export interface ThroughputOptions {
  n: number;
  /** SKUs for the three-slot plan (0 skips it). */
  threeSlotN: number;
  latencyMs: number;
  concurrency: number;
  window: number;
  pageSize: number;
  skusPerRun: number;
  providerConcurrency: number;
  providerRatePerSecond: number;
  imagingConcurrency: number;
  databasePoolSize: number;
  poll: { initialMs: number; maxIntervalMs: number };
  outputScale: number;
  historySamples: number;
  /** A second hero-only run at a provider cap this machine's CPU can keep up with (0 skips it). */
  lowConcurrency: number;
  lowN: number;
}

/** Image work made negligible: one small JPEG per output. */
export const NEGLIGIBLE_VARIANTS: VariantSpec[] = [{ name: 'thumb-jpeg', maxEdge: 64, format: 'jpeg', quality: 80 }];

type Plan = 'hero' | 'three';

interface ScenarioResult {
  plan: Plan;
  n: number;
  jobs: number;
  seconds: number;
  boundSeconds: number;
  ratioToBound: number;
  plainScriptSeconds: number;
  ratioToPlainScript: number;
  plainScriptRatioToBound: number;
  workerPeakRssMb: number;
  workerMaxRssMb: number;
  workerRssBeforeMb: number;
  refreshRuns: number;
  largestRefreshRunEvents: number;
  productHistory: { sampled: number; events: number; workflowTasks: number; activities: number; localActivities: number; durationMs: number };
  provider: ReturnType<typeof summarizeJobTimings> & { utilization: number };
  plainProvider: ReturnType<typeof summarizeJobTimings> & { utilization: number };
  activities: Record<string, { count: number; queueMsMean: number; execMsMean: number; execMsP95: number }>;
  phases: { startupSeconds: number; providerSpanSeconds: number; tailSeconds: number; idleSlotSeconds: number };
  ledger: { jobs: number; duplicateSubmissions: number; billedImages: number };
  cpu: CpuReport & { msPerSku: Record<string, number>; totalMsPerSku: number; sustainableSkusPerSecond: number };
  plainCpu: CpuReport;
  loadAverage: { before: number; after: number };
  whereTimeGoes: string[];
}

function promptsFor(plan: Plan, n: number, packshotBase?: string) {
  const [heroSlot, labelSlot, lifestyleSlot] = DEFAULT_PLAN.slots;
  return Array.from({ length: n }, (_, i) => {
    const attrs = benchAttributes(i, packshotBase);
    if (plan === 'hero') return { sku: benchSku(i), hero: renderTemplate(HERO_ONLY_PLAN.slots[0]!.promptTemplate, attrs) };
    return {
      sku: benchSku(i),
      hero: renderTemplate(heroSlot!.promptTemplate, attrs),
      label: renderTemplate(labelSlot!.promptTemplate, attrs),
      lifestyle: renderTemplate(lifestyleSlot!.promptTemplate, attrs),
      packshotUrl: attrs.packshotUrl as string,
    };
  });
}

async function simulatorFor(o: ThroughputOptions): Promise<RunningSimulator> {
  return startSimulator({ latencyMs: { min: o.latencyMs, max: o.latencyMs }, maxRunning: o.concurrency, outputScale: o.outputScale, seed: 11 });
}

async function addProducts(db: Parameters<typeof upsertProducts>[0], catalogId: string, from: number, n: number, packshotBase?: string) {
  for (let start = from; start < from + n; start += 1000) {
    const batch = Array.from({ length: Math.min(1000, from + n - start) }, (_, k) => {
      const i = start + k;
      const attributes = benchAttributes(i, packshotBase);
      return { catalogId, sku: benchSku(i), name: attributes.name as string, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'bench' };
    });
    await upsertProducts(db, batch);
  }
}

function summarizeActivities(s: WorkerStats) {
  return Object.fromEntries(
    Object.entries(s.activities)
      .sort((a, b) => b[1].execMs.sum - a[1].execMs.sum)
      .map(([name, a]) => [name, { count: a.count, queueMsMean: round(a.queueMs.mean, 1), execMsMean: round(a.execMs.mean, 1), execMsP95: round(a.execMs.p95, 1) }]),
  );
}

async function runScenario(temporal: TemporalServer, plan: Plan, n: number, o: ThroughputOptions, label: string = plan): Promise<ScenarioResult> {
  const slotsPerSku = plan === 'hero' ? 1 : 3;
  const jobs = n * slotsPerSku;
  const boundSeconds = (jobs * o.latencyMs) / 1000 / o.concurrency;
  const images = plan === 'three' ? await startImageServer() : undefined;

  // 1. The plain script, on a simulator of its own.
  log(`throughput/${label}: plain script, ${n} SKUs (${jobs} jobs), L=${o.latencyMs} ms, C=${o.concurrency}, window ${o.window}`);
  const plainSim = await simulatorFor(o);
  const plainMeter = cpuMeter({ pids: {} });
  const plainClient = new ProviderClient({ baseUrl: plainSim.url, apiKey: plainSim.apiKey, timeouts: { requestMs: 20_000, connectMs: 5_000, downloadMs: 30_000 } });
  const plain = await runPlainScript({
    client: plainClient,
    prompts: promptsFor(plan, n, images?.url),
    window: o.window,
    poll: o.poll,
    sceneUrl: images ? `${images.url}/scene-kitchen.jpg` : undefined,
  });
  const plainCpu = await plainMeter.stop();
  const plainLedger = plainSim.ledger();
  if (plainLedger.jobs !== jobs) throw new Error(`plain script: the simulator ran ${plainLedger.jobs} jobs, expected ${jobs}`);
  await plainClient.close();
  await plainSim.close();
  log(`throughput/${label}: plain script ${plain.seconds.toFixed(1)} s (bound ${boundSeconds.toFixed(1)} s)`);

  // 2. The product: a refresh through Temporal, on a fresh simulator, database and asset folder.
  const sim = await simulatorFor(o);
  const database = await createBenchDatabase();
  const storageDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-bench-assets-'));
  const catalogId = `bench-${label}`;
  const settings = images ? { sceneReferences: [`${images.url}/scene-kitchen.jpg`] } : {};
  const planOverride = plan === 'hero' ? HERO_ONLY_PLAN : undefined;
  await upsertCatalog(database.db, { id: catalogId, plan: planOverride, settings });
  await upsertCatalog(database.db, { id: `${catalogId}-warmup`, plan: planOverride, settings });
  await addProducts(database.db, catalogId, 0, n, images?.url);
  const warmupN = Math.min(o.window, 64);
  await addProducts(database.db, `${catalogId}-warmup`, 1_000_000, warmupN, images?.url);

  const prefix = `bench-${label}-${process.pid}`;
  const worker = await startBenchWorker({ temporal, database, sim }, {
    taskQueuePrefix: prefix,
    databasePoolSize: o.databasePoolSize,
    storageDir,
    variants: NEGLIGIBLE_VARIANTS,
    poll: { ...o.poll, maxWaitMs: 30 * 60_000 },
    providerConcurrency: o.providerConcurrency,
    providerRatePerSecond: o.providerRatePerSecond,
    imagingConcurrency: o.imagingConcurrency,
    allowPrivateHosts: images ? [new URL(images.url).host] : [],
  });
  const refreshKnobs = { window: o.window, pageSize: o.pageSize, skusPerRun: o.skusPerRun };
  try {
    // Warm-up: workflow isolates, connections and JIT, on a catalog of its own.
    const warm = await startRefresh(temporal.client, prefix, { catalogId: `${catalogId}-warmup`, selection: 'all', dryRun: false, trigger: 'manual', ...refreshKnobs });
    const warmResult = await refreshResult(temporal.client, warm.workflowId);
    if (warmResult.failed > 0) throw new Error(`throughput/${label}: ${warmResult.failed} warm-up products failed`);
    const workerRssBeforeMb = (await worker.stats(true)).rssMb;
    sim.reset();

    log(`throughput/${label}: Temporal refresh, ${n} SKUs (${jobs} jobs)`);
    const rss = worker.sampleRss(250);
    const loadBefore = os.loadavg()[0]!;
    const meter = cpuMeter({ pids: { worker: worker.pid, temporalServer: temporal.pid }, postgres: { db: database.db, name: database.name } });
    const startEpoch = Date.now();
    const t0 = performance.now();
    const { workflowId } = await startRefresh(temporal.client, prefix, { catalogId, selection: 'all', dryRun: false, trigger: 'manual', ...refreshKnobs });
    const result = await refreshResult(temporal.client, workflowId);
    const seconds = (performance.now() - t0) / 1000;
    const endEpoch = Date.now();
    const cpu = await meter.stop();
    const loadAfter = os.loadavg()[0]!;
    const memory = await rss.stop();
    if (result.generated !== n || result.failed !== 0) {
      throw new Error(`throughput/${label}: refresh generated ${result.generated}/${n} products, ${result.failed} failed`);
    }
    const ledger = sim.ledger();
    if (ledger.jobs !== jobs || ledger.duplicateSubmissions !== 0) {
      throw new Error(`throughput/${label}: simulator ran ${ledger.jobs} jobs (expected ${jobs}), ${ledger.duplicateSubmissions} paid twice`);
    }
    log(`throughput/${label}: Temporal ${seconds.toFixed(1)} s`);

    const workerStats = await worker.stats();
    const chain = await chainHistoryLengths(temporal.client, workflowId);
    const sampleIdx = [...new Set(Array.from({ length: o.historySamples }, (_, k) => Math.floor(((k + 0.5) * n) / o.historySamples)))];
    const analyses: HistoryAnalysis[] = [];
    for (const i of sampleIdx) analyses.push(await fetchAnalysis(temporal.client, productWorkflowId(catalogId, benchSku(i))));
    const mean = (f: (a: HistoryAnalysis) => number) => round(stats(analyses.map(f)).mean, 1);

    const timings = workerStats.jobs;
    const firstStart = Math.min(...timings.map((t) => t.startedAt));
    const lastDone = Math.max(...timings.map((t) => t.completedAt));
    const util = providerUtilization(timings, o.concurrency, { from: firstStart, to: lastDone });
    const plainUtil = providerUtilization(plain.timings, o.concurrency);
    const phases = {
      startupSeconds: round((firstStart - startEpoch) / 1000, 2),
      providerSpanSeconds: round((lastDone - firstStart) / 1000, 2),
      tailSeconds: round((endEpoch - lastDone) / 1000, 2),
      idleSlotSeconds: round(((1 - util.utilization) * (lastDone - firstStart)) / 1000, 2),
    };
    const provider = { ...summarizeJobTimings(timings), utilization: util.utilization };
    const plainProvider = { ...summarizeJobTimings(plain.timings), utilization: plainUtil.utilization };
    const activities = summarizeActivities(workerStats);
    const r: ScenarioResult = {
      plan,
      n,
      jobs,
      seconds: round(seconds, 2),
      boundSeconds: round(boundSeconds, 2),
      ratioToBound: round(seconds / boundSeconds),
      plainScriptSeconds: round(plain.seconds, 2),
      ratioToPlainScript: round(seconds / plain.seconds),
      plainScriptRatioToBound: round(plain.seconds / boundSeconds),
      workerPeakRssMb: memory.sampledPeakMb,
      workerMaxRssMb: round(memory.maxRssMb, 1),
      workerRssBeforeMb: round(workerRssBeforeMb, 1),
      refreshRuns: chain.length,
      largestRefreshRunEvents: Math.max(...chain.map((c) => c.events)),
      productHistory: {
        sampled: analyses.length,
        events: mean((a) => a.events),
        workflowTasks: mean((a) => a.workflowTasks),
        activities: mean((a) => a.activities),
        localActivities: mean((a) => a.localActivities),
        durationMs: mean((a) => a.durationMs),
      },
      provider,
      plainProvider,
      activities,
      phases,
      ledger: { jobs: ledger.jobs, duplicateSubmissions: ledger.duplicateSubmissions, billedImages: ledger.billedImages },
      cpu: {
        ...cpu,
        msPerSku: Object.fromEntries(Object.entries(cpu.seconds).map(([k, v]) => [k, round((v * 1000) / n, 1)])),
        totalMsPerSku: round((Object.values(cpu.seconds).reduce((a, b) => a + b, 0) * 1000) / n, 1),
        // What this machine's cores could sustain if orchestration had them all.
        sustainableSkusPerSecond: round((os.availableParallelism() * n) / Object.values(cpu.seconds).reduce((a, b) => a + b, 0), 1),
      },
      plainCpu,
      loadAverage: { before: round(loadBefore, 2), after: round(loadAfter, 2) },
      whereTimeGoes: [],
    };
    r.whereTimeGoes = explain(r, o, analyses);
    return r;
  } finally {
    await worker.stop();
    await sim.close();
    await images?.close();
    await database.drop();
    await fs.rm(storageDir, { recursive: true, force: true });
  }
}

/** Turns the measurements into sentences: where the time above the bound went. */
function explain(r: ScenarioResult, o: ThroughputOptions, analyses: HistoryAnalysis[]): string[] {
  const lines: string[] = [];
  const over = r.seconds - r.boundSeconds;
  lines.push(
    `${r.plan}: ${r.seconds} s = ${r.phases.startupSeconds} s until the first job ran + ${r.phases.providerSpanSeconds} s with jobs running ` +
      `(provider slots ${Math.round(r.provider.utilization * 100)}% busy, ${r.phases.idleSlotSeconds} s of idle-slot time) + ${r.phases.tailSeconds} s after the last job finished; ` +
      `${over.toFixed(1)} s above the bound of ${r.boundSeconds} s.`,
  );
  const cpuPerSku = Object.values(r.cpu.msPerSku).reduce((a, b) => a + b, 0);
  const skuRate = (o.concurrency * 1000) / o.latencyMs / (r.jobs / r.n);
  const coresNeeded = (cpuPerSku * skuRate) / 1000;
  const cores = os.availableParallelism();
  lines.push(
    `CPU: ${Object.entries(r.cpu.msPerSku).map(([k, v]) => `${k} ${v} ms`).join(', ')} per SKU = ${cpuPerSku.toFixed(0)} ms; at the bound's rate of ${skuRate.toFixed(1)} SKUs/s ` +
      `that is ${coresNeeded.toFixed(2)} cores of this machine's ${cores}` +
      (coresNeeded > 0.8 * cores ? ' -- CPU-bound: orchestration cannot keep up with the provider here' : '') +
      `. Our processes used ${r.cpu.ourCores} cores on average, the whole machine ${r.cpu.machineBusyCores ?? '?'} ` +
      `(load average ${r.loadAverage.before} -> ${r.loadAverage.after}; anything above ours is other work on the machine).`,
  );
  const plainIdle = (1 - r.plainProvider.utilization) * 100;
  lines.push(`plain script: ${r.plainScriptSeconds} s, provider slots ${Math.round(r.plainProvider.utilization * 100)}% busy (${plainIdle.toFixed(0)}% idle: ramp-up and the last partial wave).`);
  lines.push(
    `provider side: a job waited ${r.provider.providerQueueMs.mean} ms on average (p95 ${r.provider.providerQueueMs.p95}) for one of C=${o.concurrency} slots, ran ${r.provider.runningMs.mean} ms, ` +
      `and was seen done ${r.provider.pollLagMs.mean} ms later (poll interval ${o.poll.initialMs}-${o.poll.maxIntervalMs} ms); the plain script saw a poll lag of ${r.plainProvider.pollLagMs.mean} ms.`,
  );
  if (r.provider.providerQueueMs.mean > 0.5 * o.latencyMs) {
    lines.push('jobs queued at the provider for a good part of L: the window keeps more than C jobs submitted, so the provider, not orchestration, is the limit while the window is full.');
  }
  const acts = Object.entries(r.activities).filter(([name]) => name !== 'awaitJob' && name !== 'generateJob');
  const perSkuMs = acts.reduce((s, [, a]) => s + ((a.queueMsMean + a.execMsMean) * a.count) / r.n, 0);
  lines.push(
    `per SKU, outside awaiting the job: ${perSkuMs.toFixed(0)} ms in other activities (queue wait + execution): ` +
      acts.map(([name, a]) => `${name} ${(a.count / r.n).toFixed(1)}x ${a.queueMsMean.toFixed(0)}+${a.execMsMean.toFixed(0)} ms`).join(', ') +
      '.',
  );
  const wftQueue = stats(analyses.map((a) => a.workflowTaskQueueMs / Math.max(1, a.workflowTasks))).mean;
  const wftRun = stats(analyses.map((a) => a.workflowTaskRunMs / Math.max(1, a.workflowTasks))).mean;
  lines.push(
    `product workflow: ${r.productHistory.events} events, ${r.productHistory.workflowTasks} workflow tasks (each ${wftQueue.toFixed(0)} ms queued + ${wftRun.toFixed(0)} ms to complete), ` +
      `${r.productHistory.activities} activities + ${r.productHistory.localActivities} local activities, ${(r.productHistory.durationMs / 1000).toFixed(2)} s end to end (sampled ${r.productHistory.sampled}).`,
  );
  // Little's law: to keep C jobs running, the window must hold C/(L*k) SKUs/s x the time a SKU is in
  // flight without counting its wait in the provider's queue (k jobs per SKU, `onPath` of them in series).
  const onPath = r.plan === 'hero' ? 1 : 2;
  const cycleMs = Math.max(0, r.productHistory.durationMs - onPath * r.provider.providerQueueMs.mean);
  const needed = Math.ceil((o.concurrency * cycleMs) / (o.latencyMs * (r.jobs / r.n)));
  const cpuBound = coresNeeded > 0.8 * cores;
  lines.push(
    `Little's law: a SKU spends ~${(cycleMs / 1000).toFixed(2)} s in flight apart from provider queueing, so keeping C=${o.concurrency} jobs running needs a window of ~${needed}; ` +
      `the window was ${o.window}` +
      (cpuBound
        ? ' -- but here that in-flight time is itself mostly waiting for CPU (tasks queue behind each other), so a larger window would not help; fewer CPU-ms per SKU or more cores would.'
        : o.window >= needed
          ? ' (enough).'
          : ' (NOT enough: raise --window).'),
  );
  if (r.refreshRuns > 1) {
    lines.push(
      `the refresh continued-as-new ${r.refreshRuns - 1} time(s) (every ${o.skusPerRun} SKUs or when Temporal suggested it); each run drains its whole window before the next starts, ` +
        `so the provider runs below C for about one SKU cycle (~${(cycleMs / 1000).toFixed(1)} s) at each hand-over.`,
    );
  }
  return lines;
}

export async function runThroughput(temporal: TemporalServer, o: ThroughputOptions) {
  const hero = await runScenario(temporal, 'hero', o.n, o);
  const three = o.threeSlotN > 0 ? await runScenario(temporal, 'three', o.threeSlotN, o) : undefined;
  const low = o.lowConcurrency > 0 && o.lowN > 0 ? await runScenario(temporal, 'hero', o.lowN, { ...o, concurrency: o.lowConcurrency }, `hero-c${o.lowConcurrency}`) : undefined;
  const settings = {
    window: o.window,
    pageSize: o.pageSize,
    skusPerRun: o.skusPerRun,
    providerConcurrency: o.providerConcurrency,
    providerRatePerSecond: o.providerRatePerSecond,
    imagingConcurrency: o.imagingConcurrency,
    databasePoolSize: o.databasePoolSize,
    poll: o.poll,
    outputScale: o.outputScale,
    variants: NEGLIGIBLE_VARIANTS,
    workerProcess: 'separate child process (bench/workerProcess.ts); simulator and plain script in the bench process',
  };
  const pick = (s: ScenarioResult) => ({
    n: s.n,
    jobs: s.jobs,
    seconds: s.seconds,
    boundSeconds: s.boundSeconds,
    ratioToBound: s.ratioToBound,
    plainScriptSeconds: s.plainScriptSeconds,
    ratioToPlainScript: s.ratioToPlainScript,
    plainScriptRatioToBound: s.plainScriptRatioToBound,
    phases: s.phases,
    provider: s.provider,
    plainProvider: s.plainProvider,
    activities: s.activities,
    refreshRuns: s.refreshRuns,
    largestRefreshRunEvents: s.largestRefreshRunEvents,
    productHistory: s.productHistory,
    workerPeakRssMb: s.workerPeakRssMb,
    ledger: s.ledger,
    cpu: s.cpu,
    plainCpu: s.plainCpu,
    loadAverage: s.loadAverage,
    whereTimeGoes: s.whereTimeGoes,
  });
  return {
    throughput: {
      ...pick(hero),
      latencyMs: o.latencyMs,
      concurrency: o.concurrency,
      targets: { ratioToBound: 1.15, ratioToPlainScript: 1.1, met: hero.ratioToBound <= 1.15 && hero.ratioToPlainScript <= 1.1 },
      settings,
      atLowerConcurrency: low
        ? {
            ...pick(low),
            latencyMs: o.latencyMs,
            concurrency: o.lowConcurrency,
            flagged: `hero-only at C=${o.lowConcurrency}, N=${low.n}: a provider rate this machine's CPU can keep up with, to separate orchestration overhead from CPU saturation`,
          }
        : undefined,
      threeSlot: three ? { ...pick(three), flagged: `three-slot plan (hero, label, lifestyle) at N=${three.n}, smaller than the hero-only N; lifestyle waits for hero` } : undefined,
    },
    memory: {
      workerPeakRssMb: hero.workerPeakRssMb,
      workerMaxRssMb: hero.workerMaxRssMb,
      workerRssBeforeMb: hero.workerRssBeforeMb,
      during: `hero-only refresh of ${hero.n} SKUs (worker in its own process; sampled every 250 ms; before = after the warm-up refresh)`,
    },
    heroHistory: hero.productHistory,
  };
}
