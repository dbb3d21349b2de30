/**
 * The composition root: one function builds the runtime of every process (worker, HTTP service,
 * local stack, test stacks, benchmark workers) from configuration: Postgres (migrated on request),
 * the provider client (the real API when a key is configured, otherwise the local simulator), asset
 * storage, the activities of each task queue, and the Temporal client and workers, both with the
 * payload codec of the configuration. Tests and benchmarks override parts instead of wiring their
 * own; what the caller hands in stays the caller's to close.
 */
import { Client, Connection, type DataConverter } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import { createActivities, type ActivitiesByQueue } from '../temporal/activities';
import type { ActivityDeps } from '../temporal/activities/deps';
import type { Config } from '../config';
import { createDb } from '../db/connect';
import { migrateToLatest } from '../db/migrate';
import type { Database } from '../db/schema';
import { configureSharp, type VariantSpec } from '../imaging';
import { ProviderClient } from '../provider/client';
import { LocalDirStorage } from '../storage/localDir';
import { S3Storage } from '../storage/s3';
import type { AssetStorage } from '../storage/types';
import { connectionOptions, dataConverterFor } from '../temporal/client/connection';
import { createWorkers, type WorkerPoolOptions } from '../temporal/worker';
import { buildActivityDeps } from '../temporal/worker/deps';
import type { Logger } from './logger';

export interface Runtime {
  config: Config;
  db: Kysely<Database>;
  provider: ProviderClient;
  storage: AssetStorage;
  deps: ActivityDeps;
  activities: ActivitiesByQueue;
  /** The codec every client and worker of this runtime encodes payloads with (undefined: plain JSON). */
  dataConverter: DataConverter | undefined;
  /** The Temporal client; its connection opens on first use, so a process starts while Temporal is down. */
  client: Client;
  connection: Connection;
  /** Starts the workers of the configured queues (their own connection, closed with the runtime). */
  createWorkers(o?: WorkerOverrides): Promise<Worker[]>;
  close(): Promise<void>;
}

/** Parts a test or benchmark brings instead of the configured ones (they stay the caller's to close). */
export interface RuntimeOverrides {
  db?: Kysely<Database>;
  provider?: ProviderClient;
  storage?: AssetStorage;
  variants?: VariantSpec[];
  poll?: Partial<ActivityDeps['poll']>;
  /** Activity dependencies to replace (e.g. `idempotency: 'unknown'`). */
  deps?: Partial<ActivityDeps>;
  /** Wraps the activities (e.g. a benchmark's timing). */
  wrapActivities?(activities: ActivitiesByQueue): ActivitiesByQueue;
  /** Another codec than the configuration's (tests of payload encryption). */
  dataConverter?: DataConverter;
}

export type WorkerOverrides = Partial<Pick<WorkerPoolOptions, 'roles' | 'workflowBundle' | 'providerConcurrency' | 'providerRatePerSecond' | 'imagingConcurrency'>>;

export interface OpenRuntimeOptions {
  migrate?: boolean;
  logger?: Logger;
  /** Postgres application_name of this process's pool (what `pg_stat_activity` shows). */
  applicationName?: string;
  overrides?: RuntimeOverrides;
}

export function describeProvider(config: Config): string {
  return config.provider.kind === 'real'
    ? `ImaRouter API at ${config.provider.baseUrl} (model ${config.provider.model})`
    : `LOCAL SIMULATOR at ${config.provider.baseUrl} (no IMAROUTER_API_KEY set: nothing is billed)`;
}

export function createStorage(config: Config): AssetStorage {
  if (config.storage.kind === 's3') {
    // loadConfig guarantees the settings (S3_BUCKET is required with ASSET_STORAGE=s3).
    if (!config.storage.s3) throw new Error('ASSET_STORAGE=s3 needs S3_BUCKET');
    return new S3Storage(config.storage.s3);
  }
  return new LocalDirStorage(config.storage.dir);
}

export function createProviderClient(config: Config): ProviderClient {
  return new ProviderClient({
    baseUrl: config.provider.baseUrl,
    apiKey: config.provider.apiKey,
    model: config.provider.model,
    timeouts: { requestMs: config.provider.timeoutMs },
    maxDownloadBytes: config.provider.maxDownloadBytes,
    apiStyle: config.provider.apiStyle,
    // Output URLs are untrusted: public hosts only, besides the provider's own and the allowed ones.
    downloadGuard: { allowHosts: config.allowPrivateReferenceHosts },
  });
}

export async function openRuntime(config: Config, o: OpenRuntimeOptions = {}): Promise<Runtime> {
  const given = o.overrides ?? {};
  /** What this runtime opened, closed in reverse order. */
  const owned: Array<() => Promise<unknown>> = [];
  const closeOwned = async () => {
    for (const close of owned.splice(0).reverse()) await close();
  };

  let db = given.db;
  if (!db) {
    if (!config.databaseUrl) throw new Error('DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/catalog_assets)');
    const opened = createDb(config.databaseUrl, { poolSize: config.databasePoolSize, ...(o.applicationName ? { applicationName: o.applicationName } : {}) });
    owned.push(() => opened.destroy());
    db = opened;
  }
  try {
    if (o.migrate) await migrateToLatest(db);
  } catch (err) {
    await closeOwned();
    throw err;
  }
  configureSharp({});
  let provider = given.provider;
  if (!provider) {
    const opened = createProviderClient(config);
    owned.push(() => opened.close());
    provider = opened;
  }
  let storage = given.storage;
  if (!storage) {
    const opened = createStorage(config);
    owned.push(async () => opened.close?.());
    storage = opened;
  }
  const deps = { ...buildActivityDeps(config, { db, provider, storage, variants: given.variants, poll: given.poll }), ...given.deps };
  const built = createActivities(deps);
  const activities = given.wrapActivities ? given.wrapActivities(built) : built;
  const dataConverter = given.dataConverter ?? dataConverterFor(config);
  const connection = Connection.lazy(connectionOptions(config));
  owned.push(() => connection.close());
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
  o.logger?.info({ provider: describeProvider(config), storage: config.storage.kind, variants: deps.variants.length }, 'runtime ready');

  let workerConnection: NativeConnection | undefined;
  return {
    config,
    db,
    provider,
    storage,
    deps,
    activities,
    dataConverter,
    client,
    connection,
    async createWorkers(w = {}) {
      if (!workerConnection) {
        const opened = await NativeConnection.connect(connectionOptions(config));
        owned.push(() => opened.close());
        workerConnection = opened;
      }
      return createWorkers({
        connection: workerConnection,
        namespace: config.temporal.namespace,
        taskQueuePrefix: config.temporal.taskQueuePrefix,
        activities,
        dataConverter,
        providerConcurrency: w.providerConcurrency ?? config.provider.concurrency,
        providerRatePerSecond: w.providerRatePerSecond ?? config.provider.rateLimitPerSecond,
        imagingConcurrency: w.imagingConcurrency ?? config.imaging.concurrency,
        ...(w.roles ? { roles: w.roles } : {}),
        ...(w.workflowBundle ? { workflowBundle: w.workflowBundle } : {}),
      });
    },
    close: closeOwned,
  };
}
