/**
 * The benchmark harness: the same wiring as test/helpers/stack.ts (simulator over HTTP, a fresh
 * Postgres database, a temporary asset folder, a packshot server, the three workers, a Temporal
 * client), without vitest. Differences that matter for measurements:
 *   - the worker runs in a CHILD PROCESS (bench/workerProcess.ts), as in production, so its memory
 *     is measured alone and the simulator and client in this process do not share its event loop;
 *   - the child instruments its activities (queue wait and execution time per activity type) and
 *     the provider client (each job's queue wait, running time and poll lag in the simulator).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, bundleWorkflowCode } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import sharp from 'sharp';
import { createDb } from '../src/db/connect';
import { migrateToLatest } from '../src/db/migrate';
import type { Database } from '../src/db/schema';
import type { VariantSpec } from '../src/imaging';
import { makeTestImage } from '../src/dev/testImages';
import type { ParsedJob } from '../src/provider/client';
import { ALL_SEARCH_ATTRIBUTES } from '../src/shared';
import { findTemporalCli } from '../src/dev/temporalCli';
import { WORKFLOWS_PATH } from '../src/temporal/worker';
import { localActivityType, type MarkerEventLike } from '../test/helpers/histories';
import { pidAlive } from '../src/support/processes';

export const BENCH_DIR = import.meta.dirname;
export const OUT_DIR = path.join(BENCH_DIR, 'out');

// ---------------------------------------------------------------------------------------------
// Small utilities

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export const round = (v: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

export function stats(values: number[]): { n: number; mean: number; p50: number; p95: number; max: number; sum: number } {
  if (values.length === 0) return { n: 0, mean: 0, p50: 0, p95: 0, max: 0, sum: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const sum = sorted.reduce((s, v) => s + v, 0);
  return { n: sorted.length, mean: sum / sorted.length, p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1]!, sum };
}

export function machineInfo() {
  return {
    cores: os.availableParallelism(),
    memoryGb: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    loadAverageAtStart: os.loadavg().map((v) => round(v, 2)),
    sharpConcurrency: sharp.concurrency(),
    libvips: sharp.versions.vips,
  };
}

/** A promise pool: runs `worker(item)` over items with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, worker: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await worker(items[i]!, i);
    }
  });
  await Promise.all(runners);
}

/** Samples a number every `everyMs` and keeps the largest; stop() returns it. */
export function sampler(read: () => number | Promise<number>, everyMs = 250): { stop(): Promise<{ peak: number; samples: number }> } {
  let peak = 0;
  let samples = 0;
  let stopped = false;
  const tick = async () => {
    try {
      const v = await read();
      peak = Math.max(peak, v);
      samples += 1;
    } catch {
      /* the process may be going away */
    }
  };
  const timer = setInterval(() => void tick(), everyMs);
  void tick();
  return {
    async stop() {
      if (!stopped) {
        stopped = true;
        clearInterval(timer);
        await tick();
      }
      return { peak, samples };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CPU accounting (Linux /proc): who used the machine's cores during a measurement

const CLOCK_TICKS = 100; // USER_HZ on every Linux build this runs on

function readProcCpu(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime + stime
  } catch {
    return undefined;
  }
}

function readMachineCpu(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((s, x) => s + x, 0);
    return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** The pid of the dev server listening on `address` (a child of this process). */
export function findTemporalServerPid(address: string): number | undefined {
  const port = address.split(':').pop();
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        const i = cmd.indexOf('--port');
        if (cmd.includes('start-dev') && i >= 0 && cmd[i + 1] === port) return Number(entry);
      } catch {
        /* gone */
      }
    }
  } catch {
    /* not Linux */
  }
  return undefined;
}

export interface CpuReport {
  wallSeconds: number;
  /** CPU seconds per component (undefined where it could not be read). */
  seconds: Record<string, number>;
  /** Every process on the machine, in cores busy on average (what other users' load adds is the difference). */
  machineBusyCores?: number;
  ourCores: number;
}

/**
 * Samples CPU time of named processes (and of Postgres backends serving one database, which come and
 * go with the pool) once a second; stop() returns the CPU seconds each used in between.
 */
export function cpuMeter(parts: { pids: Record<string, number | undefined>; postgres?: { db: Kysely<Database>; name: string } }): { stop(): Promise<CpuReport> } {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  // Backends seen at the first sample count from then; later ones were born during the measurement.
  let initial = true;
  const t0 = performance.now();
  const machine0 = readMachineCpu();
  const self0 = process.cpuUsage();
  const sample = async () => {
    for (const [name, pid] of Object.entries(parts.pids)) {
      const v = pid === undefined ? undefined : readProcCpu(pid);
      if (v === undefined) continue;
      if (!first.has(name)) first.set(name, v);
      last.set(name, v);
    }
    if (parts.postgres) {
      try {
        const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = ${parts.postgres.name}`.execute(parts.postgres.db);
        for (const { pid } of rows) {
          const v = readProcCpu(pid);
          if (v === undefined) continue;
          const key = `pg:${pid}`;
          if (!first.has(key)) first.set(key, initial ? v : 0);
          last.set(key, v);
        }
      } catch {
        /* database going away */
      }
    }
  };
  void sample().then(() => (initial = false));
  const timer = setInterval(() => void sample(), 1000);
  return {
    async stop() {
      clearInterval(timer);
      await sample();
      const wallSeconds = (performance.now() - t0) / 1000;
      const seconds: Record<string, number> = {};
      let postgres = 0;
      for (const [key, v] of last) {
        const d = v - (first.get(key) ?? 0);
        if (key.startsWith('pg:')) postgres += d;
        else seconds[key] = round(d, 2);
      }
      if (parts.postgres) seconds.postgres = round(postgres, 2);
      const self = process.cpuUsage(self0);
      seconds.benchProcess = round((self.user + self.system) / 1e6, 2);
      const machine1 = readMachineCpu();
      const ours = Object.values(seconds).reduce((s, v) => s + v, 0);
      return {
        wallSeconds: round(wallSeconds, 2),
        seconds,
        machineBusyCores: machine0 && machine1 ? round((machine1.busy - machine0.busy) / wallSeconds, 2) : undefined,
        ourCores: round(ours / wallSeconds, 2),
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Temporal: the project's own dev server build, with the custom search attributes registered

export interface TemporalServer {
  address: string;
  /** The dev server's process (for CPU accounting), when it can be found. */
  pid?: number;
  namespace: string;
  client: Client;
  workflowBundlePath: string;
  teardown(): Promise<void>;
}

let runtimeInstalled = false;
export function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

export async function startTemporal(): Promise<TemporalServer> {
  installQuietRuntime();
  const cli = findTemporalCli();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      // Without a local build the SDK downloads the dev server (machines with internet only).
      executable: cli ? { type: 'existing-path', path: cli.path } : undefined,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error'],
    },
  });
  // One bundle for every worker this run starts: bundling costs seconds and it is the same code.
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  await fs.mkdir(OUT_DIR, { recursive: true });
  const workflowBundlePath = path.join(OUT_DIR, `workflow-bundle-${process.pid}.js`);
  await fs.writeFile(workflowBundlePath, code);
  return {
    address: env.address,
    pid: findTemporalServerPid(env.address),
    namespace: env.namespace ?? 'default',
    client: env.client,
    workflowBundlePath,
    async teardown() {
      await env.teardown();
      await fs.rm(workflowBundlePath, { force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Postgres: a fresh database on the machine's server, migrated, dropped after

export function adminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

function databaseUrl(name: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  db: Kysely<Database>;
  url: string;
  name: string;
  drop(): Promise<void>;
}

let dbCounter = 0;
export async function createBenchDatabase(poolSize = 10): Promise<BenchDatabase> {
  // Leftovers of a crashed bench run (its pid is in the name) are dropped; live runs are left alone.
  await admin(async (c) => {
    const { rows } = await c.query<{ datname: string }>("select datname from pg_database where datname like 'ca\\_bench\\_%'");
    for (const { datname } of rows) {
      const pid = Number(/^ca_bench_(\d+)_/.exec(datname)?.[1]);
      if (pid && !pidAlive(pid)) await c.query(`drop database if exists "${datname}" with (force)`);
    }
  });
  const name = `ca_bench_${process.pid}_${Date.now().toString(36)}${(dbCounter++).toString(36)}`;
  await admin((c) => c.query(`create database "${name}"`));
  const url = databaseUrl(name);
  const db = createDb(url, { poolSize, applicationName: 'catalog-assets-bench' });
  await migrateToLatest(db);
  return {
    db,
    url,
    name,
    async drop() {
      await db.destroy();
      await admin((c) => c.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A packshot and scene server (label and lifestyle slots fetch their sources from it)

export async function startImageServer(): Promise<{ url: string; close(): Promise<void> }> {
  const cache = new Map<string, Buffer>();
  const server = http.createServer((req, res) => {
    void (async () => {
      const name = (req.url ?? '/').split('?')[0]!;
      let bytes = cache.get(name);
      if (!bytes) {
        bytes = await makeTestImage({ width: 320, height: 320, format: 'jpeg', seed: name.length * 7919 + name.charCodeAt(Math.max(0, name.length - 5)), text: name.slice(1, 20) });
        cache.set(name, bytes);
      }
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': bytes.length }).end(bytes);
    })();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

// ---------------------------------------------------------------------------------------------
// Provider job timings (the simulator's own timestamps, read from a terminal job document)

export interface JobTiming {
  /** Submitted to started: waiting for one of the simulator's C running slots. */
  queuedMs: number;
  /** Started to completed: the job's latency L. */
  runningMs: number;
  /** Completed to the poll that saw it. */
  pollLagMs: number;
  startedAt: number;
  completedAt: number;
}

export function jobTiming(job: ParsedJob, seenAt: number): JobTiming | undefined {
  const raw = job.raw as { createdAt?: string; startedAt?: string; completedAt?: string };
  if (!raw.createdAt || !raw.startedAt || !raw.completedAt) return undefined;
  const created = Date.parse(raw.createdAt);
  const started = Date.parse(raw.startedAt);
  const completed = Date.parse(raw.completedAt);
  return { queuedMs: started - created, runningMs: completed - started, pollLagMs: Math.max(0, seenAt - completed), startedAt: started, completedAt: completed };
}

/** How busy the simulator's C slots were between the first job start and the last completion. */
export function providerUtilization(timings: JobTiming[], concurrency: number, windowMs?: { from: number; to: number }) {
  if (timings.length === 0) return { utilization: 0, busySeconds: 0, spanSeconds: 0 };
  const from = windowMs?.from ?? Math.min(...timings.map((t) => t.startedAt));
  const to = windowMs?.to ?? Math.max(...timings.map((t) => t.completedAt));
  const busy = timings.reduce((s, t) => s + Math.max(0, Math.min(to, t.completedAt) - Math.max(from, t.startedAt)), 0);
  return { utilization: round(busy / (concurrency * (to - from)), 3), busySeconds: round(busy / 1000, 1), spanSeconds: round((to - from) / 1000, 1) };
}

export function summarizeJobTimings(timings: JobTiming[]) {
  const q = stats(timings.map((t) => t.queuedMs));
  const r = stats(timings.map((t) => t.runningMs));
  const p = stats(timings.map((t) => t.pollLagMs));
  return {
    jobs: timings.length,
    providerQueueMs: { mean: round(q.mean, 0), p95: round(q.p95, 0) },
    runningMs: { mean: round(r.mean, 0), p95: round(r.p95, 0) },
    pollLagMs: { mean: round(p.mean, 0), p95: round(p.p95, 0) },
  };
}

// ---------------------------------------------------------------------------------------------
// The worker, in a child process

export interface WorkerProcessConfig {
  temporalAddress: string;
  namespace: string;
  taskQueuePrefix: string;
  workflowBundlePath: string;
  databaseUrl: string;
  databasePoolSize: number;
  simulatorUrl: string;
  apiKey: string;
  storageDir: string;
  variants: VariantSpec[];
  poll: { initialMs: number; maxIntervalMs: number; maxWaitMs: number };
  providerConcurrency: number;
  providerRatePerSecond: number;
  imagingConcurrency: number;
  /** Hosts the worker may fetch PIM images from although they are private (the packshot server). */
  allowPrivateHosts: string[];
  /** The provider route family (default seed). */
  apiStyle?: 'seed' | 'tasks';
}

/** What a bench run's worker takes from the run's own parts; the rest of WorkerProcessConfig is its knobs. */
export interface BenchParts {
  temporal: TemporalServer;
  database: BenchDatabase;
  sim: { url: string; apiKey: string };
}

/** The worker of one bench run, against its Temporal server, database and simulator. */
export function startBenchWorker(
  parts: BenchParts,
  knobs: Omit<WorkerProcessConfig, 'temporalAddress' | 'namespace' | 'workflowBundlePath' | 'databaseUrl' | 'simulatorUrl' | 'apiKey'>,
): Promise<WorkerProcess> {
  return startWorkerProcess({
    temporalAddress: parts.temporal.address,
    namespace: parts.temporal.namespace,
    workflowBundlePath: parts.temporal.workflowBundlePath,
    databaseUrl: parts.database.url,
    simulatorUrl: parts.sim.url,
    apiKey: parts.sim.apiKey,
    ...knobs,
  });
}

export interface ActivityStat {
  count: number;
  /** Current attempt scheduled to started: time in the task queue (server and worker slots). */
  queueMs: { mean: number; p95: number; sum: number };
  execMs: { mean: number; p95: number; sum: number };
}

export interface WorkerStats {
  rssMb: number;
  maxRssMb: number;
  activities: Record<string, ActivityStat>;
  jobs: JobTiming[];
  /** Heartbeats the activities sent (Context.heartbeat calls; the SDK may throttle what reaches the server). */
  heartbeats: number;
  /** Provider job polls (getJob calls). */
  polls: number;
}

type ToWorker = { type: 'stats' | 'rss'; id: number; reset?: boolean } | { type: 'stop' };
const tell = (child: ChildProcess, m: ToWorker) => child.send(m);
type FromWorker = { type: 'ready' } | { type: 'stats'; id: number; stats: WorkerStats } | { type: 'error'; message: string } | { type: 'rss'; id: number; rssMb: number };

export interface WorkerProcess {
  pid: number;
  stats(reset?: boolean): Promise<WorkerStats>;
  /** Samples the child's RSS until stopped; returns the peak of the samples and the OS's maxRSS. */
  sampleRss(everyMs?: number): { stop(): Promise<{ sampledPeakMb: number; samples: number; maxRssMb: number }> };
  stop(): Promise<void>;
}

export async function startWorkerProcess(config: WorkerProcessConfig): Promise<WorkerProcess> {
  const child: ChildProcess = fork(path.join(BENCH_DIR, 'workerProcess.ts'), [], {
    // BENCH_WORKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=bench/out/prof") profiles the worker.
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
    env: { ...process.env, BENCH_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const waiting = new Map<number, (m: FromWorker) => void>();
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: FromWorker) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'error') reject(new Error(`bench worker failed to start: ${m.message}`));
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`bench worker exited with code ${code} before it was ready`)));
  });
  child.on('message', (m: FromWorker) => {
    if ((m.type === 'stats' || m.type === 'rss') && waiting.has(m.id)) {
      waiting.get(m.id)!(m);
      waiting.delete(m.id);
    }
  });
  const ask = (msg: { type: 'stats' | 'rss'; reset?: boolean }) =>
    new Promise<FromWorker>((resolve, reject) => {
      if (exited) return reject(new Error('bench worker is not running'));
      const id = nextId++;
      waiting.set(id, resolve);
      tell(child, { ...msg, id });
    });

  const statsOf = async (reset = false): Promise<WorkerStats> => {
    const m = await ask({ type: 'stats', reset });
    if (m.type !== 'stats') throw new Error('unexpected answer');
    return m.stats;
  };
  return {
    pid: child.pid!,
    stats: statsOf,
    sampleRss(everyMs = 250) {
      const s = sampler(async () => {
        const m = await ask({ type: 'rss' });
        return m.type === 'rss' ? m.rssMb : 0;
      }, everyMs);
      return {
        stop: async () => {
          const { peak, samples } = await s.stop();
          const final = await statsOf();
          return { sampledPeakMb: round(peak, 1), samples, maxRssMb: final.maxRssMb };
        },
      };
    },
    async stop() {
      if (exited) return;
      tell(child, { type: 'stop' });
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exit;
      clearTimeout(killer);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Workflow histories: events, workflow tasks, activities and where the time went

interface HistoryEventLike {
  eventType?: unknown;
  eventTime?: { seconds?: unknown; nanos?: unknown } | null;
  eventId?: unknown;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskFailedEventAttributes?: { scheduledEventId?: unknown } | null;
  workflowTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  workflowTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null;
  markerRecordedEventAttributes?: MarkerEventLike['markerRecordedEventAttributes'];
}

/** EventType enums arrive as numbers from the SDK's decoded protos. */
const EVENT = {
  WORKFLOW_EXECUTION_STARTED: 1,
  WORKFLOW_EXECUTION_COMPLETED: 2,
  WORKFLOW_TASK_SCHEDULED: 5,
  WORKFLOW_TASK_STARTED: 6,
  WORKFLOW_TASK_COMPLETED: 7,
  ACTIVITY_TASK_SCHEDULED: 10,
  ACTIVITY_TASK_STARTED: 11,
  ACTIVITY_TASK_COMPLETED: 12,
  ACTIVITY_TASK_FAILED: 13,
  WORKFLOW_EXECUTION_CONTINUED_AS_NEW: 28,
} as const;

function eventType(e: HistoryEventLike): number {
  const t = e.eventType;
  if (typeof t === 'number') return t;
  if (typeof t === 'string') {
    const key = t.replace(/^EVENT_TYPE_/, '') as keyof typeof EVENT;
    return EVENT[key] ?? -1;
  }
  return -1;
}

function eventMs(e: HistoryEventLike): number {
  const s = Number(e.eventTime?.seconds ?? 0);
  const n = Number(e.eventTime?.nanos ?? 0);
  return s * 1000 + n / 1e6;
}

export interface HistoryAnalysis {
  events: number;
  workflowTasks: number;
  activities: number;
  /** Local activities (the Postgres steps): markers in the history, no task of their own. */
  localActivities: number;
  localActivity: Record<string, number>;
  durationMs: number;
  /** Workflow task scheduled to started, and started to completed (ms, summed over the history). */
  workflowTaskQueueMs: number;
  workflowTaskRunMs: number;
  /** Per activity type: scheduled to started, started to closed (ms). */
  activity: Record<string, { count: number; queueMs: number; runMs: number }>;
}

export function analyzeHistory(events: HistoryEventLike[]): HistoryAnalysis {
  const byId = new Map<number, HistoryEventLike>();
  for (const e of events) byId.set(Number(e.eventId), e);
  const out: HistoryAnalysis = { events: events.length, workflowTasks: 0, activities: 0, localActivities: 0, localActivity: {}, durationMs: 0, workflowTaskQueueMs: 0, workflowTaskRunMs: 0, activity: {} };
  if (events.length > 0) out.durationMs = eventMs(events[events.length - 1]!) - eventMs(events[0]!);
  const started = new Map<number, number>();
  for (const e of events) {
    const t = eventType(e);
    const local = localActivityType(e);
    if (local) {
      out.localActivities += 1;
      out.localActivity[local] = (out.localActivity[local] ?? 0) + 1;
    }
    if (t === EVENT.WORKFLOW_TASK_STARTED) {
      const sched = byId.get(Number(e.workflowTaskStartedEventAttributes?.scheduledEventId));
      if (sched) out.workflowTaskQueueMs += eventMs(e) - eventMs(sched);
      started.set(Number(e.eventId), eventMs(e));
    } else if (t === EVENT.WORKFLOW_TASK_COMPLETED) {
      out.workflowTasks += 1;
      const schedId = Number(e.workflowTaskCompletedEventAttributes?.scheduledEventId);
      const startedEvent = events.find((x) => eventType(x) === EVENT.WORKFLOW_TASK_STARTED && Number(x.workflowTaskStartedEventAttributes?.scheduledEventId) === schedId);
      if (startedEvent) out.workflowTaskRunMs += eventMs(e) - eventMs(startedEvent);
    } else if (t === EVENT.ACTIVITY_TASK_STARTED) {
      const sched = byId.get(Number(e.activityTaskStartedEventAttributes?.scheduledEventId));
      const name = sched?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'unknown';
      const a = (out.activity[name] ??= { count: 0, queueMs: 0, runMs: 0 });
      if (sched) a.queueMs += eventMs(e) - eventMs(sched);
      started.set(Number(e.activityTaskStartedEventAttributes?.scheduledEventId), eventMs(e));
    } else if (t === EVENT.ACTIVITY_TASK_COMPLETED || t === EVENT.ACTIVITY_TASK_FAILED) {
      const schedId = Number((e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes)?.scheduledEventId);
      const sched = byId.get(schedId);
      const name = sched?.activityTaskScheduledEventAttributes?.activityType?.name ?? 'unknown';
      const a = (out.activity[name] ??= { count: 0, queueMs: 0, runMs: 0 });
      a.count += 1;
      out.activities += 1;
      const s = started.get(schedId);
      if (s !== undefined) a.runMs += eventMs(e) - s;
    }
  }
  return out;
}

export async function fetchAnalysis(client: Client, workflowId: string, runId?: string): Promise<HistoryAnalysis> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return analyzeHistory((history.events ?? []));
}

/** Every run of a continue-as-new chain, oldest first, with its history length. */
export async function chainHistoryLengths(client: Client, workflowId: string): Promise<Array<{ runId: string; events: number }>> {
  const runs: Array<{ runId: string; start: number; events: number }> = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId = '${workflowId.replace(/'/g, "\\'")}'` })) {
    runs.push({ runId: wf.runId, start: wf.startTime.getTime(), events: wf.historyLength ?? 0 });
  }
  for (const r of runs) {
    // Visibility can lag a moment behind, and may not carry the length: read the history itself then.
    if (!r.events) r.events = (await client.workflow.getHandle(workflowId, r.runId).fetchHistory()).events?.length ?? 0;
  }
  return runs.sort((a, b) => a.start - b.start).map(({ runId, events }) => ({ runId, events }));
}

// ---------------------------------------------------------------------------------------------
// Test products

export const HERO_ONLY_PLAN = {
  version: 1,
  slots: [
    {
      name: 'hero',
      kind: 'generate',
      promptTemplate: 'Studio product photograph of {{brand}} {{name}}, a {{colour|}} {{category}}, on a seamless white background.',
      imageSize: 'square_hd',
    },
  ],
};

export function benchSku(i: number): string {
  return `SKU-${String(i).padStart(6, '0')}`;
}

export function benchAttributes(i: number, packshotBase?: string): Record<string, unknown> {
  const categories = ['face cream jar', 'serum bottle', 'shampoo bottle', 'lip balm tube', 'candle jar', 'tea tin'];
  const colours = ['white', 'amber', 'forest green', 'navy', 'blush pink', 'charcoal'];
  const attrs: Record<string, unknown> = {
    name: `Product ${i}`,
    brand: ['Lumen', 'Orbit', 'Kestrel', 'Maris'][i % 4],
    category: categories[i % categories.length],
    colour: colours[(i * 7) % colours.length],
    material: i % 2 === 0 ? 'frosted glass' : 'recycled aluminium',
    labelText: `Product ${i} 50 ml`,
    locale: 'en-GB',
  };
  if (packshotBase) attrs.packshotUrl = `${packshotBase}/packshot-${i}.jpg`;
  return attrs;
}

export function elapsed(t0: number): number {
  return (performance.now() - t0) / 1000;
}
