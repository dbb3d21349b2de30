/**
 * The whole product for one test file, all real: the simulator over HTTP, a fresh Postgres database,
 * a temporary asset folder, a local packshot server, three workers on the shared dev server (on a
 * task queue prefix of their own) and a Temporal client.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection, DataConverter } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { openRuntime } from '../../src/app/runtime';
import type { ActivityDeps } from '../../src/temporal/activities/deps';
import { loadConfig } from '../../src/config';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { CHEAP_TEST_VARIANTS, type VariantSpec } from '../../src/imaging';
import { makeTestImage } from '../../src/dev/testImages';
import { ProviderClient } from '../../src/provider/client';
import { startSimulator, type RunningSimulator, type SimulatorOptionsInput } from '../../src/provider/simulator';
import { LocalDirStorage } from '../../src/storage/localDir';
import { triggerProduct } from '../../src/temporal/client/product';
import type { ProductWorkflowInput } from '../../src/shared/steps';
import { createTestDatabase, type TestDatabase } from './db';

export interface TestStack {
  client: Client;
  /** The Temporal frontend the client and workers use (the run's shared dev server unless overridden). */
  temporalAddress: string;
  namespace: string;
  connection: Connection;
  database: TestDatabase;
  simulator: RunningSimulator;
  storage: LocalDirStorage;
  storageDir: string;
  prefix: string;
  deps: ActivityDeps;
  packshotUrl(name: string): string;
  /** Starts (or signals) a product workflow on this stack's queues. */
  trigger(input: ProductWorkflowInput): Promise<{ workflowId: string; runId: string }>;
  addProducts(catalogId: string, products: Array<{ sku: string; name?: string; attributes: Record<string, unknown> }>): Promise<void>;
  startWorkers(): Promise<void>;
  stopWorkers(): Promise<void>;
  close(): Promise<void>;
}

export interface TestStackOptions {
  simulator?: SimulatorOptionsInput;
  variants?: VariantSpec[];
  startWorkers?: boolean;
  poll?: Partial<ActivityDeps['poll']>;
  /** Another Temporal server than the run's shared one (e.g. one the test stops and starts). */
  temporalAddress?: string;
  /** A database the caller owns (e.g. on a Postgres the test stops); close() does not drop it. */
  database?: TestDatabase;
  /** An asset folder the caller owns (e.g. a mount it breaks); close() does not remove it. */
  storageDir?: string;
  /** Data converter (e.g. payload encryption) of the stack's client and workers. */
  dataConverter?: DataConverter;
  /** Configuration variables on top of the test defaults (e.g. MAX_PAID_ATTEMPTS). */
  env?: Record<string, string>;
  /** Activity dependencies to replace (e.g. `idempotency: 'unknown'`). */
  deps?: Partial<ActivityDeps>;
  /** Slots of the imaging queue (default 2). */
  imagingConcurrency?: number;
}

/** Serves generated packshots and scene references: `/<anything>.jpg` renders a seeded JPEG. */
async function startImageServer(): Promise<{ url: string; close(): Promise<void> }> {
  const cache = new Map<string, Buffer>();
  const server = http.createServer((req, res) => {
    void (async () => {
      const name = (req.url ?? '/').split('?')[0]!;
      if (name.startsWith('/missing')) {
        res.writeHead(404).end();
        return;
      }
      if (name.startsWith('/not-an-image')) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
        return;
      }
      let bytes = cache.get(name);
      if (!bytes) {
        bytes = await makeTestImage({ width: 320, height: 320, format: 'jpeg', seed: name.length * 7919 + name.charCodeAt(name.length - 5), text: name });
        cache.set(name, bytes);
      }
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': bytes.length }).end(bytes);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const simulator = await startSimulator({ outputScale: 0.125, latencyMs: { min: 30, max: 80 }, maxRunning: 16, seed: 7, ...options.simulator });
  const database = options.database ?? (await createTestDatabase());
  const storageDir = options.storageDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'ca-assets-')));
  const temporalAddress = options.temporalAddress ?? inject('temporalAddress');
  const namespace = inject('temporalNamespace');
  const storage = new LocalDirStorage(storageDir);
  const images = await startImageServer();
  const prefix = `t${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE_PREFIX: prefix,
    IMAROUTER_MODEL: 'seedream-4.5',
    // The image server's own host:port (an allow-list entry without a port means port 80 only).
    ALLOW_PRIVATE_REFERENCE_HOSTS: new URL(images.url).host,
    VARIANTS: 'cheap',
    ...options.env,
  });
  const provider = new ProviderClient({ baseUrl: simulator.url, apiKey: simulator.apiKey, timeouts: { requestMs: 10_000, connectMs: 2_000, downloadMs: 10_000 } });
  // The product's composition root over the test's own parts (and the test's payload codec, if any).
  const runtime = await openRuntime(config, {
    overrides: {
      db: database.db,
      provider,
      storage,
      variants: options.variants ?? [...CHEAP_TEST_VARIANTS],
      poll: { initialMs: 50, maxIntervalMs: 200, maxWaitMs: 60_000, ...options.poll },
      deps: options.deps,
      dataConverter: options.dataConverter,
    },
  });
  const { client, connection, deps } = runtime;

  let workers: Worker[] = [];
  let running: Promise<unknown> | undefined;

  const stack: TestStack = {
    client,
    temporalAddress,
    namespace,
    connection,
    database,
    simulator,
    storage,
    storageDir,
    prefix,
    deps,
    packshotUrl: (name) => `${images.url}/${name}`,
    trigger: (input) => triggerProduct(client, { taskQueuePrefix: prefix, input }),
    async addProducts(catalogId, products) {
      await upsertCatalog(database.db, { id: catalogId, name: catalogId, settings: { sceneReferences: [`${images.url}/scene-kitchen.jpg`] } });
      await upsertProducts(
        database.db,
        products.map((p) => ({
          catalogId,
          sku: p.sku,
          name: p.name ?? (typeof p.attributes.name === 'string' ? p.attributes.name : p.sku),
          attributes: p.attributes,
          attributesFingerprint: JSON.stringify(p.attributes),
          source: 'test',
        })),
      );
    },
    async startWorkers() {
      workers = await runtime.createWorkers({
        providerConcurrency: 50,
        providerRatePerSecond: 1_000,
        imagingConcurrency: options.imagingConcurrency ?? 2,
        workflowBundle: { codePath: inject('workflowBundlePath') },
      });
      running = Promise.all(workers.map((w) => w.run()));
    },
    async stopWorkers() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      workers = [];
      running = undefined;
    },
    async close() {
      await stack.stopWorkers();
      await runtime.close();
      await provider.close();
      await simulator.close();
      await images.close();
      if (!options.database) await database.drop();
      if (!options.storageDir) await fs.rm(storageDir, { recursive: true, force: true });
    },
  };
  if (options.startWorkers !== false) await stack.startWorkers();
  return stack;
}

/** Product attributes that satisfy the default plan. */
export function sampleAttributes(stack: TestStack, sku: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: `Night Cream ${sku}`,
    brand: 'Lumen',
    category: 'face cream jar',
    colour: 'white',
    material: 'frosted glass',
    labelText: 'Night Cream 50 ml',
    locale: 'en-GB',
    packshotUrl: stack.packshotUrl(`packshot-${encodeURIComponent(sku)}.jpg`),
    ...overrides,
  };
}
