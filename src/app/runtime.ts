/**
 * Opens the parts a process needs from configuration: Postgres (migrated on request), the provider
 * client (the real API when a key is configured, otherwise the local simulator), asset storage, and
 * the activities over them. Closes them in reverse order.
 */
import type { Kysely } from 'kysely';
import { createActivities, type ActivitiesByQueue } from '../temporal/activities';
import type { ActivityDeps } from '../temporal/activities/deps';
import type { Config } from '../config';
import { createDb } from '../db/connect';
import { migrateToLatest } from '../db/migrate';
import type { Database } from '../db/schema';
import { configureSharp } from '../imaging';
import { SeedreamClient } from '../provider/client';
import { LocalDirStorage } from '../storage/localDir';
import { S3Storage } from '../storage/s3';
import type { AssetStorage } from '../storage/types';
import { buildActivityDeps } from '../temporal/worker/deps';
import type { Logger } from './logger';

export interface Runtime {
  config: Config;
  db: Kysely<Database>;
  provider: SeedreamClient;
  storage: AssetStorage;
  deps: ActivityDeps;
  activities: ActivitiesByQueue;
  close(): Promise<void>;
}

export function describeProvider(config: Config): string {
  return config.imarouter.kind === 'real'
    ? `ImaRouter API at ${config.imarouter.baseUrl} (model ${config.imarouter.model})`
    : `LOCAL SIMULATOR at ${config.imarouter.baseUrl} (no IMAROUTER_API_KEY set: nothing is billed)`;
}

export function createStorage(config: Config): AssetStorage {
  if (config.storage.kind === 's3') {
    // loadConfig guarantees the settings (S3_BUCKET is required with ASSET_STORAGE=s3).
    if (!config.storage.s3) throw new Error('ASSET_STORAGE=s3 needs S3_BUCKET');
    return new S3Storage(config.storage.s3);
  }
  return new LocalDirStorage(config.storage.dir);
}

export async function openRuntime(config: Config, o: { migrate?: boolean; logger?: Logger } = {}): Promise<Runtime> {
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/catalog_assets)');
  const db = createDb(config.databaseUrl, { poolSize: config.databasePoolSize });
  try {
    if (o.migrate) await migrateToLatest(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  configureSharp({});
  const provider = new SeedreamClient({
    baseUrl: config.imarouter.baseUrl,
    apiKey: config.imarouter.apiKey,
    model: config.imarouter.model,
    timeouts: { requestMs: config.imarouter.timeoutMs },
    maxDownloadBytes: config.imarouter.maxDownloadBytes,
    apiStyle: config.imarouter.apiStyle,
    // Output URLs are untrusted: public hosts only, besides the provider's own and the allowed ones.
    downloadGuard: { allowHosts: config.allowPrivateReferenceHosts },
  });
  const storage = createStorage(config);
  const deps = buildActivityDeps(config, { db, provider, storage });
  o.logger?.info({ provider: describeProvider(config), storage: config.storage.kind, variants: deps.variants.length }, 'runtime ready');
  return {
    config,
    db,
    provider,
    storage,
    deps,
    activities: createActivities(deps),
    async close() {
      await provider.close();
      await storage.close?.();
      await db.destroy();
    },
  };
}
