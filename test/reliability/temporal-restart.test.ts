/**
 * The Temporal server goes away mid-refresh and comes back: a dev server this test owns (its own
 * SQLite file and a fixed port) is stopped while a 40-SKU refresh runs, kept down for a while, and
 * started again on the same file and port. The workers and the client reconnect by themselves; the
 * refresh resumes where its history says it was and finishes; nothing is paid twice.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { ALL_SEARCH_ATTRIBUTES } from '../../src/shared';
import type { PlanInput } from '../../src/shared/plan';
import type { RefreshResult } from '../../src/shared/refresh';
import { findTemporalCli } from '../../src/dev/temporalCli';
import { startRefresh } from '../../src/temporal/client/refresh';
import { checkPaidOnce, checkRows, checkStorage } from '../helpers/invariants';
import { startTestStack, type TestStack } from '../helpers/stack';
import { recordFigures } from './figures';

const CATALOG = 'rel-temporal';
const SKUS = 40;
const DOWN_MS = 8_000;
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

/** A dev server on a fixed port over a SQLite file: stopping and starting it keeps every workflow. */
async function startDevServer(dbFilename: string, port: number): Promise<TestWorkflowEnvironment> {
  const cli = findTemporalCli();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: cli ? { type: 'existing-path', path: cli.path } : undefined,
      ip: '127.0.0.1',
      port,
      dbFilename,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'error'],
    },
  });
}

describe('a Temporal server restart in the middle of a refresh', () => {
  let dir: string;
  let port: number;
  let server: TestWorkflowEnvironment | undefined;
  let stack: TestStack;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-rel-temporal-'));
    port = await freePort();
    server = await startDevServer(path.join(dir, 'temporal.db'), port);
    stack = await startTestStack({ temporalAddress: `127.0.0.1:${port}`, simulator: { latencyMs: { min: 300, max: 900 }, maxRunning: 32 } });
    await upsertCatalog(stack.database.db, { id: CATALOG, name: 'Temporal restart', plan: HERO_ONLY });
    await upsertProducts(
      stack.database.db,
      Array.from({ length: SKUS }, (_, i) => {
        const attributes = { name: `Balm ${i}`, brand: 'Tide' };
        return { catalogId: CATALOG, sku: `T-${String(i).padStart(3, '0')}`, name: attributes.name, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'test' };
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    await server?.teardown();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  }, 60_000);

  async function terminalSkus(): Promise<number> {
    const r = await sql<{ n: string }>`select count(*)::text as n from slot_attempts where catalog_id = ${CATALOG}`.execute(stack.database.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  it('resumes and finishes the refresh once the server is back, paying nothing twice', { timeout: 180_000 }, async () => {
    const t0 = Date.now();
    const { workflowId } = await startRefresh(stack.client, stack.prefix, {
      catalogId: CATALOG,
      selection: 'changed',
      dryRun: false,
      trigger: 'manual',
      window: 8,
      pageSize: 20,
      skusPerRun: 40,
    });
    // Stop the server once the refresh is well under way.
    const deadline = Date.now() + 60_000;
    while ((await terminalSkus()) < 8) {
      if (Date.now() > deadline) throw new Error('the refresh made no progress before the restart');
      await sleep(100);
    }
    const atStop = await terminalSkus();
    await server!.teardown();
    server = undefined;
    const stoppedAt = Date.now();
    await sleep(DOWN_MS);
    const duringOutage = await terminalSkus();
    server = await startDevServer(path.join(dir, 'temporal.db'), port);
    const downMs = Date.now() - stoppedAt;

    // The client reconnects too: a call that fails while the channel re-opens is simply repeated.
    let result: RefreshResult | undefined;
    const until = Date.now() + 120_000;
    while (!result) {
      try {
        result = (await stack.client.workflow.getHandle(workflowId).result()) as RefreshResult;
      } catch (err) {
        if (Date.now() > until) throw err;
        await sleep(500);
      }
    }
    expect(atStop).toBeLessThan(SKUS);
    expect(result).toMatchObject({ planned: SKUS, generated: SKUS, failed: 0, imagesBilled: SKUS });

    const db = stack.database.db;
    const run = await db.selectFrom('refresh_runs').select(['status', 'finished_at']).where('workflow_id', '=', workflowId).executeTakeFirstOrThrow();
    expect(run.status).toBe('completed');
    expect(Number((await db.selectFrom('current_assets').select((eb) => eb.fn.countAll<string>().as('n')).where('catalog_id', '=', CATALOG).executeTakeFirstOrThrow()).n)).toBe(SKUS);
    const paid = await checkPaidOnce(db, stack.simulator.ledger());
    expect(paid.duplicateSubmissions).toBe(0);
    expect(paid.providerJobs).toBe(SKUS);
    expect(paid.ledgerRowsWithJob).toBe(SKUS);
    expect(paid.unknownJobs).toEqual([]);
    const storage = await checkStorage(db, stack.storageDir);
    expect([storage.missing, storage.orphans, storage.partials, storage.undecodable]).toEqual([[], [], [], []]);
    expect(await checkRows(db)).toEqual({ assetsWithoutVariants: [], danglingCurrent: [], currentMismatch: [], unfinishedLedger: [], failuresWithoutReason: [] });

    recordFigures('temporal-restart', [
      {
        fault: 'Temporal server stopped mid-refresh, restarted on the same database',
        tried: `1 outage of ${Math.round(downMs / 1000)} s during a ${SKUS}-SKU refresh (${atStop} SKUs done at the stop)`,
        lost: `0 (${result.generated}/${SKUS} generated; ${paid.duplicateSubmissions} paid twice)`,
        notes: `${duringOutage - atStop} SKUs finished their Postgres record while the server was down; ${Math.round((Date.now() - t0) / 1000)} s`,
      },
    ]);
  });
});
