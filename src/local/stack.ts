/**
 * The local stack behind `npm start`: every part of the product on one machine, as children of one
 * process, persisted under one data folder, with nothing to install or configure.
 *
 *   Temporal   the Temporal CLI dev server with its UI (child process), state in <dataDir>/temporal.db
 *   Postgres   DATABASE_URL when set; otherwise an embedded real Postgres (child process) in <dataDir>/postgres
 *   provider   the real ImaRouter API when IMAROUTER_API_KEY is set; otherwise the local simulator (child process)
 *   files      a read-only server for the sample catalog's packshots (stands in for the PIM's image CDN)
 *   workers    the three task-queue workers (in process), on the runtime's activities
 *   HTTP       the HTTP service (webhooks, refresh, status, results page), in process
 *
 * Data folder layout:
 *   stack.json           ports chosen (kept from run to run) and the dev server's pid
 *   temporal.db          Temporal's state (workflow histories, search attributes)
 *   postgres/            the embedded Postgres cluster (owned by the `postgres` user when run as root)
 *   postgres.password    its generated password (mode 600)
 *   assets/              the generated assets and their variants (ASSET_DIR default)
 *   packshots/           the sample catalog's packshots and scene
 *   logs/                temporal.log, postgres.log, simulator.log, worker.log (Temporal SDK), stack.log (JSON)
 *
 * stop() shuts down in order: workers, HTTP, simulator, file server, the runtime (its connections), Temporal, Postgres.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, type LogEntry, type Worker } from '@temporalio/worker';
import { pino, type Logger } from 'pino';
import { describeProvider, openRuntime, type Runtime as AppRuntime } from '../app/runtime';
import { loadConfig, type Config } from '../config';
import { REDACTED_LOG_PATHS } from '../config/redact';
import { buildServer } from '../http/server';
import { ensureTemporalCli } from '../dev/temporalCli';
import { triggerProduct } from '../temporal/client/product';
import { startRefresh } from '../temporal/client/refresh';
import { startFileServer } from './files';
import { ensureDatabaseOf, startEmbeddedPostgres, stopLeftoverPostgres, type EmbeddedPostgres } from './postgres';
import { pidAlive } from '../support/processes';
import { findLeftover, stopPid } from './processes';
import { writeSampleImages } from './sampleCatalog';
import { startSimulatorProcess, type SimulatorProcess } from '../dev/simulator';
import { choosePorts, readState, writeState, type LocalPorts } from './state';
import { startTemporalDevServer, type DevServer } from './temporal';

export interface LocalStackOptions {
  dataDir: string;
  /** Explicit ports, or 'free' to pick free ones (tests; a second stack beside a running one). */
  ports?: Partial<LocalPorts> | 'free';
  /** Fewer progress lines. */
  quiet?: boolean;
  /** Human-readable progress lines. */
  log: (line: string) => void;
  /** The environment to configure from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The local simulator (when no IMAROUTER_API_KEY): output scale (default 1: full 2K outputs) and job latency. */
  simulator?: { outputScale?: number; latencyMs?: { min: number; max: number } };
  /** Start the HTTP service (default true). */
  http?: boolean;
  /** Aborting stops what was started and rejects. */
  signal?: AbortSignal;
}

export interface LocalStack {
  dataDir: string;
  ports: LocalPorts;
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  databaseUrl: string;
  database: 'embedded' | 'external';
  /** Set when the local simulator stands in for the real API. */
  simulatorUrl?: string;
  /** The local simulator (a child process), with its ledger. */
  simulator?: SimulatorProcess;
  /** Set when the HTTP service runs. */
  httpUrl?: string;
  /** Where the sample packshots are served. */
  filesUrl: string;
  packshotDir: string;
  logsDir: string;
  /** Which image provider is in use, in words (describeProvider). */
  provider: string;
  config: Config;
  runtime: AppRuntime;
  client: Client;
  /** Rejects when a worker stops on its own (a fatal worker error); never resolves. */
  workersFailed: Promise<never>;
  stop(): Promise<void>;
}

export class StackAbortedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'StackAbortedError';
  }
}

interface Part {
  name: string;
  /** Lower stops first. */
  order: number;
  stop(): Promise<void>;
}

const ORDER = { workers: 10, http: 20, simulator: 30, files: 40, runtime: 60, temporal: 70, postgres: 80 } as const;

/** Routes the Temporal SDK's own logs (workers, core) to a file, so the terminal keeps a clean progress bar. */
function installSdkRuntime(logFile: string): void {
  const out = fs.createWriteStream(logFile, { flags: 'a' });
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN', (entry: LogEntry) => {
        out.write(`${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} ${entry.level} ${entry.message}${entry.meta ? ` ${safeJson(entry.meta)}` : ''}\n`);
      }),
      // The stack handles SIGINT/SIGTERM itself and stops the workers first, in order.
      shutdownSignals: [],
    });
  } catch {
    // Already installed in this process (tests; a second stack): that one stands.
    out.end();
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return '';
  }
}

function fileLogger(file: string, level: string): Logger {
  return pino({ level, base: { component: 'local' }, redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' } }, pino.destination({ dest: file, sync: true }));
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const log = (line: string) => options.log(line);
  const detail = (line: string) => {
    if (!options.quiet) options.log(line);
  };
  const dataDir = path.resolve(options.dataDir);
  const logsDir = path.join(dataDir, 'logs');
  const packshotDir = path.join(dataDir, 'packshots');
  fs.mkdirSync(logsDir, { recursive: true });
  fs.mkdirSync(packshotDir, { recursive: true });

  // Fail fast on a malformed environment, before anything starts.
  const baseConfig = loadConfig({ ...env, DATA_DIR: dataDir });
  const external = env.DATABASE_URL;
  const useSimulator = baseConfig.provider.kind === 'simulator';
  const httpEnabled = options.http !== false;

  const parts: Part[] = [];
  let stopped: Promise<void> | undefined;
  const stopAll = () => {
    stopped ??= (async () => {
      for (const part of [...parts].sort((a, b) => a.order - b.order)) {
        try {
          await part.stop();
        } catch (err) {
          log(`  stopping ${part.name} failed: ${(err as Error).message}`);
        }
      }
      parts.length = 0;
      try {
        const { ownerPid: _owner, temporalPid: _t, simulatorPid: _s, ...rest } = readState(dataDir);
        if (_owner === process.pid) writeState(dataDir, rest);
      } catch {
        // The data folder is gone (tests clean up): nothing to record.
      }
    })();
    return stopped;
  };
  const checkAbort = () => {
    if (options.signal?.aborted) throw new StackAbortedError();
  };

  try {
    const state = readState(dataDir);
    const dbFile = path.join(dataDir, 'temporal.db');
    const leftoverTemporal = findLeftover(state.temporalPid, dbFile);
    // One stack per data folder: a live owner whose dev server still runs is a stack in use, not a leftover.
    if (leftoverTemporal !== undefined && state.ownerPid !== undefined && state.ownerPid !== process.pid && pidAlive(state.ownerPid)) {
      throw new Error(`another local stack is running on ${dataDir} (pid ${state.ownerPid}); stop it (Ctrl-C) or use another --data-dir`);
    }
    // Leftovers of a run that was killed hard hold our ports and files: stop them first.
    if (leftoverTemporal !== undefined) {
      log(`Stopping a Temporal dev server left running by an earlier run (pid ${leftoverTemporal}).`);
      await stopPid(leftoverTemporal, 'SIGTERM', 15_000);
    }
    const leftoverSimulator = state.ports?.simulator ? findLeftover(state.simulatorPid, `simulator --host 127.0.0.1 --port ${state.ports.simulator}`) : undefined;
    if (leftoverSimulator !== undefined) {
      log(`Stopping a local simulator left running by an earlier run (pid ${leftoverSimulator}).`);
      await stopPid(leftoverSimulator, 'SIGTERM', 10_000);
    }
    if (!external) await stopLeftoverPostgres(path.join(dataDir, 'postgres'), log);

    const needed: Array<keyof LocalPorts> = ['temporal', 'temporalUi', 'files'];
    if (!external) needed.push('postgres');
    if (useSimulator) needed.push('simulator');
    if (httpEnabled) needed.push('http');
    const { ports, moved } = await choosePorts({
      explicit: typeof options.ports === 'object' ? options.ports : undefined,
      remembered: state.ports,
      mode: options.ports === 'free' ? 'free' : 'default',
      needed,
    });
    for (const m of moved) log(`Port ${m.from} (${m.name}) is in use: using ${m.to} instead (remembered in stack.json).`);
    writeState(dataDir, { version: 1, ports, ownerPid: process.pid });
    checkAbort();

    const cli = ensureTemporalCli(log);
    checkAbort();

    // Temporal, Postgres and the simulator start in parallel: each takes a few seconds.
    detail(
      `Starting the Temporal dev server (127.0.0.1:${ports.temporal}, UI ${ports.temporalUi}), ` +
        `${external ? 'checking DATABASE_URL' : `embedded Postgres (127.0.0.1:${ports.postgres})`}` +
        `${useSimulator ? ` and the local simulator (127.0.0.1:${ports.simulator})` : ''}...`,
    );
    const logLevel = baseConfig.logLevel;
    const temporalStart = startTemporalDevServer({
      cliPath: cli?.path,
      dbFile,
      port: ports.temporal,
      uiPort: ports.temporalUi,
      namespace: baseConfig.temporal.namespace,
      logFile: path.join(logsDir, 'temporal.log'),
      previousPid: state.temporalPid,
      log,
      signal: options.signal,
    });
    const postgresStart: Promise<EmbeddedPostgres | undefined> = external
      ? ensureDatabaseOf(external).then(({ created }) => {
          if (created) log('Created the database named in DATABASE_URL.');
          return undefined;
        })
      : startEmbeddedPostgres({ dir: path.join(dataDir, 'postgres'), port: ports.postgres, logFile: path.join(logsDir, 'postgres.log'), log });
    const simulatorStart: Promise<SimulatorProcess | undefined> = useSimulator
      ? startSimulatorProcess({
          port: ports.simulator,
          apiKey: baseConfig.provider.apiKey,
          model: baseConfig.provider.model,
          outputScale: options.simulator?.outputScale ?? 1,
          latencyMs: options.simulator?.latencyMs ?? { min: 300, max: 900 },
          logFile: path.join(logsDir, 'simulator.log'),
          logLevel,
          signal: options.signal,
        })
      : Promise.resolve(undefined);
    // The sample's packshots are drawn meanwhile, before the file server starts (it holds them in memory).
    const drawing = writeSampleImages(packshotDir);
    const [t, p, sm, dr] = await Promise.allSettled([temporalStart, postgresStart, simulatorStart, drawing]);
    if (t.status === 'fulfilled') {
      const temporal: DevServer = t.value;
      parts.push({ name: 'Temporal dev server', order: ORDER.temporal, stop: () => temporal.stop() });
      writeState(dataDir, { ...readState(dataDir), temporalPid: temporal.pid });
    }
    if (p.status === 'fulfilled' && p.value) {
      const pgServer = p.value;
      parts.push({ name: 'Postgres', order: ORDER.postgres, stop: () => pgServer.stop() });
    }
    if (sm.status === 'fulfilled' && sm.value) {
      const sim = sm.value;
      parts.push({ name: 'simulator', order: ORDER.simulator, stop: () => sim.stop() });
      writeState(dataDir, { ...readState(dataDir), simulatorPid: sim.process.pid });
    }
    for (const r of [t, p, sm, dr]) if (r.status === 'rejected') throw r.reason;
    const embedded = p.status === 'fulfilled' ? p.value : undefined;
    const simulator = sm.status === 'fulfilled' ? sm.value : undefined;
    const databaseUrl = external ?? embedded!.url;
    if (embedded) detail(`  embedded Postgres ${embedded.created ? 'created' : 'reused'} in ${embedded.dir}`);
    if (dr.status === 'fulfilled' && dr.value.written > 0) detail(`  drew ${dr.value.written} sample packshots and scenes into ${packshotDir}`);
    checkAbort();

    const logger = fileLogger(path.join(logsDir, 'stack.log'), logLevel);
    installSdkRuntime(path.join(logsDir, 'worker.log'));

    const files = await startFileServer({ dir: packshotDir, port: ports.files });
    parts.push({ name: 'file server', order: ORDER.files, stop: () => files.close() });
    checkAbort();

    // The configuration every in-process part runs with: the user's environment, pointed at this stack.
    const allowHosts = [...new Set([...baseConfig.allowPrivateReferenceHosts, new URL(files.url).host])].join(',');
    const config = loadConfig({
      ...env,
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
      TEMPORAL_UI_URL: `http://127.0.0.1:${ports.temporalUi}`,
      TEMPORAL_TLS: 'false',
      TEMPORAL_API_KEY: undefined,
      // The packshots are served from 127.0.0.1, which the guarded fetch refuses unless allowed: local stack only.
      ALLOW_PRIVATE_REFERENCE_HOSTS: allowHosts,
      HTTP_PORT: String(ports.http),
      ...(simulator ? { IMAROUTER_BASE_URL: simulator.url } : {}),
    });

    detail('Migrating the database...');
    const runtime = await openRuntime(config, { migrate: true, logger });
    parts.push({ name: 'runtime', order: ORDER.runtime, stop: () => runtime.close() });
    checkAbort();

    // The runtime's client and workers carry the configuration's payload codec, as in production.
    const { client } = runtime;

    detail('Starting the workers (bundling the workflow code takes a few seconds)...');
    const workers: Worker[] = await runtime.createWorkers();
    let stoppingWorkers = false;
    const running = Promise.all(workers.map((w) => w.run()));
    const workersFailed = new Promise<never>((_, reject) => {
      running.then(
        () => {
          if (!stoppingWorkers) reject(new Error('the workers stopped unexpectedly; see logs/worker.log'));
        },
        (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
      );
    });
    workersFailed.catch(() => undefined);
    parts.push({
      name: 'workers',
      order: ORDER.workers,
      stop: async () => {
        stoppingWorkers = true;
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await running.catch(() => undefined);
      },
    });
    checkAbort();

    let httpUrl: string | undefined;
    if (httpEnabled) {
      httpUrl = await startHttpService({ config, runtime, client, logger, port: ports.http, parts });
    }
    checkAbort();

    return {
      dataDir,
      ports,
      temporalAddress: config.temporal.address,
      namespace: config.temporal.namespace,
      uiUrl: config.temporal.uiUrl,
      databaseUrl,
      database: external ? 'external' : 'embedded',
      simulatorUrl: simulator?.url,
      simulator,
      httpUrl,
      filesUrl: files.url,
      packshotDir,
      logsDir,
      provider: describeProvider(config),
      config,
      runtime,
      client,
      workersFailed,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * The HTTP service (src/http/server.ts), as `catalog-assets serve` runs it, on 127.0.0.1. The results
 * page (/catalogs/<id>/results) is served by it once its routes are mounted there.
 */
async function startHttpService(o: { config: Config; runtime: AppRuntime; client: Client; logger: Logger; port: number; parts: Part[] }): Promise<string> {
  const prefix = o.config.temporal.taskQueuePrefix;
  const app = buildServer({
    db: o.runtime.db,
    logger: o.logger.child({ component: 'http' }),
    host: o.config.http.host,
    serviceToken: o.config.http.serviceToken,
    webhookSecret: o.config.http.webhookSecret,
    webhookToleranceSeconds: o.config.http.webhookToleranceSeconds,
    webhookMaxEvents: o.config.http.webhookMaxEvents,
    bodyLimitBytes: o.config.http.bodyLimitBytes,
    trigger: (input, meta) => triggerProduct(o.client, { taskQueuePrefix: prefix, input, productName: meta?.productName }),
    startRefresh: (request) => startRefresh(o.client, prefix, request),
    storage: o.runtime.storage,
    healthChecks: {
      temporal: async () => {
        await o.client.connection.workflowService.getSystemInfo({});
      },
    },
  });
  await app.listen({ host: o.config.http.host, port: o.port });
  o.parts.push({ name: 'HTTP service', order: ORDER.http, stop: () => app.close() });
  const host = o.config.http.host === '0.0.0.0' || o.config.http.host === '::' ? '127.0.0.1' : o.config.http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${o.port}`;
}
