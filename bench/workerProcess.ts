/**
 * The benchmark's worker process: the project's createWorkers over the project's activities, with
 * two measurement shims that change no behaviour:
 *   - every activity is wrapped to record its queue wait (current attempt scheduled -> started) and
 *     its execution time;
 *   - the provider client's getJob is wrapped to record, for each job seen terminal, the simulator's
 *     own created/started/completed timestamps (provider queue wait, running time, poll lag).
 * Driven over IPC by bench/harness.ts (startWorkerProcess).
 */
import { performance } from 'node:perf_hooks';
import { Context } from '@temporalio/activity';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { openRuntime } from '../src/app/runtime';
import type { ActivitiesByQueue } from '../src/temporal/activities';
import { loadConfig } from '../src/config';
import { configureSharp } from '../src/imaging';
import { ProviderClient } from '../src/provider/client';
import { LocalDirStorage } from '../src/storage/localDir';
import { jobTiming, stats, type ActivityStat, type JobTiming, type WorkerProcessConfig, type WorkerStats } from './harness';

const config = JSON.parse(process.env.BENCH_WORKER_CONFIG ?? '{}') as WorkerProcessConfig;
const send = (m: unknown) => process.send?.(m);

const activityTimes = new Map<string, { queue: number[]; exec: number[] }>();
let jobTimings: JobTiming[] = [];
let heartbeats = 0;
let polls = 0;

function instrumentSet<T extends object>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities) as Array<[string, (...args: unknown[]) => Promise<unknown>]>) {
    wrapped[name] = async (...args: unknown[]) => {
      const ctx = Context.current();
      const info = ctx.info;
      // Counts heartbeats without changing them (heartbeat is an instance property of the context).
      const beat = ctx.heartbeat;
      (ctx as { heartbeat: (details?: unknown) => void }).heartbeat = (details?: unknown) => {
        heartbeats++;
        beat(details);
      };
      const queued = Date.now() - info.currentAttemptScheduledTimestampMs;
      const t0 = performance.now();
      try {
        return await fn(...args);
      } finally {
        const rec = activityTimes.get(name) ?? { queue: [], exec: [] };
        rec.queue.push(queued);
        rec.exec.push(performance.now() - t0);
        activityTimes.set(name, rec);
      }
    };
  }
  return wrapped as T;
}

function instrument(activities: ActivitiesByQueue): ActivitiesByQueue {
  return { workflows: instrumentSet(activities.workflows), provider: instrumentSet(activities.provider), imaging: instrumentSet(activities.imaging), publish: instrumentSet(activities.publish) };
}

function snapshot(): WorkerStats {
  const activities: Record<string, ActivityStat> = {};
  for (const [name, rec] of activityTimes) {
    const q = stats(rec.queue);
    const e = stats(rec.exec);
    activities[name] = { count: q.n, queueMs: { mean: q.mean, p95: q.p95, sum: q.sum }, execMs: { mean: e.mean, p95: e.p95, sum: e.sum } };
  }
  return {
    rssMb: process.memoryUsage().rss / 1024 / 1024,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    activities,
    jobs: jobTimings,
    heartbeats,
    polls,
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // As src/app/runtime.ts does at worker start: libvips defaults, operation cache off.
  configureSharp({});
  const appConfig = loadConfig({
    NODE_ENV: 'production',
    // The benchmark measures against the local simulator on purpose.
    IMAROUTER_SIMULATOR: '1',
    LOG_LEVEL: 'warn',
    IMAROUTER_MODEL: 'seedream-4.5',
    ALLOW_PRIVATE_REFERENCE_HOSTS: config.allowPrivateHosts.join(','),
    DATABASE_URL: config.databaseUrl,
    DATABASE_POOL_SIZE: String(config.databasePoolSize),
    TEMPORAL_ADDRESS: config.temporalAddress,
    TEMPORAL_NAMESPACE: config.namespace,
    TEMPORAL_TASK_QUEUE_PREFIX: config.taskQueuePrefix,
  });
  const provider = new ProviderClient({
    baseUrl: config.simulatorUrl,
    apiKey: config.apiKey,
    apiStyle: config.apiStyle ?? 'seed',
    timeouts: { requestMs: 20_000, connectMs: 5_000, downloadMs: 30_000 },
  });
  const getJob = provider.getJob.bind(provider);
  provider.getJob = async (jobId, opts) => {
    polls++;
    const job = await getJob(jobId, opts);
    if (job.status === 'completed' || job.status === 'failed') {
      const t = jobTiming(job, Date.now());
      if (t) jobTimings.push(t);
    }
    return job;
  };
  const storage = new LocalDirStorage(config.storageDir);
  // The product's composition root, with the benchmark's provider, storage and timing around the activities.
  const runtime = await openRuntime(appConfig, {
    applicationName: 'catalog-assets-bench-worker',
    overrides: { provider, storage, variants: config.variants, poll: config.poll, wrapActivities: instrument },
  });
  const workers: Worker[] = await runtime.createWorkers({
    providerConcurrency: config.providerConcurrency,
    providerRatePerSecond: config.providerRatePerSecond,
    imagingConcurrency: config.imagingConcurrency,
    workflowBundle: { codePath: config.workflowBundlePath },
  });
  const running = Promise.all(workers.map((w) => w.run()));

  process.on('message', (m: { type: string; id?: number; reset?: boolean }) => {
    if (m.type === 'stats') {
      send({ type: 'stats', id: m.id, stats: snapshot() });
      if (m.reset) {
        activityTimes.clear();
        jobTimings = [];
        heartbeats = 0;
        polls = 0;
      }
    } else if (m.type === 'rss') {
      send({ type: 'rss', id: m.id, rssMb: process.memoryUsage().rss / 1024 / 1024 });
    } else if (m.type === 'stop') {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      void running
        .then(async () => {
          await runtime.close();
          await provider.close();
        })
        .finally(() => process.exit(0));
    }
  });
  send({ type: 'ready' });
  await running;
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100);
});
