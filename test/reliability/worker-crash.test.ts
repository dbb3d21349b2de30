/**
 * Worker crashes during a catalog refresh: 200 SKUs run by a real `catalog-assets worker` process that
 * is SIGKILLed at random moments (at least 5 times) and restarted. Afterwards every SKU is completed
 * or failed with a reason, the provider's ledger shows no step paid twice and every paid job in our
 * ledger, every current mapping points at variant files that exist and decode, and no variant file or
 * row is orphaned.
 *
 * Recovery after a kill is bounded by the activity timeouts (await heartbeat 15 s, submit 40 s,
 * materialize heartbeat 1 min). Each kill comes at a random moment 1.5-6 s after the new process is
 * up, once at least 3 more SKUs ended since the previous kill (so every incarnation does real work).
 * The seed is recorded with the figures: RELIABILITY_SEED=<seed> replays the same moments;
 * RELIABILITY_KILLS sets the number of kills (default 5).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { productWorkflowId } from '../../src/shared/ids';
import type { PlanInput } from '../../src/shared/plan';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { checkPaidOnce, checkRows, checkStorage } from '../helpers/invariants';
import { startTestStack, type TestStack } from '../helpers/stack';
import { killAllWorkers, killHard, spawnWorker, waitReady, type WorkerProcess } from '../helpers/workerProcess';
import { recordFigures } from './figures';
import { createRandom } from '../../src/support/random';

const CATALOG = `rel-crash-${process.pid}`;
const SKUS = 200;
const KILLS = Number(process.env.RELIABILITY_KILLS ?? 5);
const HERO_ONLY: PlanInput = {
  version: 1,
  slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Studio photograph of {{brand}} {{name}} on white.', imageSize: 'square_hd' }],
};

/** The kill moments are random, and reproducible from the logged seed. */
const prng = (seed: number) => createRandom(seed).next;

interface KillRecord {
  atMs: number;
  terminalSkus: number;
  /** Ledger rows by status at the kill: what was in flight. */
  inFlight: Record<string, number>;
}

describe('a worker process SIGKILLed again and again during a 200-SKU refresh', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // Short jobs, small outputs, two cheap variants: the test is about crashes, not throughput.
    stack = await startTestStack({ startWorkers: false, simulator: { latencyMs: { min: 300, max: 900 }, maxRunning: 64, seed: 11 } });
    await upsertCatalog(stack.database.db, { id: CATALOG, name: 'Crash', plan: HERO_ONLY });
    await upsertProducts(
      stack.database.db,
      Array.from({ length: SKUS }, (_, i) => {
        const attributes = { name: `Serum ${i}`, brand: 'Orbit' };
        return { catalogId: CATALOG, sku: `C-${String(i).padStart(4, '0')}`, name: attributes.name, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'test' };
      }),
    );
  });
  afterAll(async () => {
    await killAllWorkers();
    await stack?.close();
  });

  /** SKUs whose slot reached an end (generated or failed), from the slot's last attempt. */
  async function terminalSkus(): Promise<number> {
    const r = await sql<{ n: string }>`select count(*)::text as n from slot_attempts where catalog_id = ${CATALOG}`.execute(stack.database.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  async function ledgerByStatus(): Promise<Record<string, number>> {
    const rows = await stack.database.db
      .selectFrom('generation_jobs')
      .select((eb) => ['status', eb.fn.countAll<string>().as('n')])
      .where('catalog_id', '=', CATALOG)
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  it('ends every SKU completed or failed with a reason, nothing paid twice, no orphaned file or row', { timeout: 290_000 }, async () => {
    const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const t0 = Date.now();
    // The provider queue's rate limit is the real account's (8/s) by default: lift it for a local
    // simulator; and give the 32 SKUs in flight enough database connections.
    const spawn = () => spawnWorker(stack, { env: { PROVIDER_RATE_LIMIT_PER_SECOND: '200', PROVIDER_CONCURRENCY: '64', DATABASE_POOL_SIZE: '20' } });
    let worker: WorkerProcess = spawn();
    await waitReady(worker);
    const { workflowId } = await startRefresh(stack.client, stack.prefix, {
      catalogId: CATALOG,
      selection: 'changed',
      dryRun: false,
      trigger: 'manual',
      window: 32,
      pageSize: 50,
      skusPerRun: 100,
    });
    const result = stack.client.workflow.getHandle(workflowId).result();
    let finished = false;
    void result.then(
      () => (finished = true),
      () => (finished = true),
    );

    const kills: KillRecord[] = [];
    let lastTerminal = 0;
    while (kills.length < KILLS && !finished) {
      // A random moment: 1.5-6 s after the process is up, and only once a few SKUs progressed since
      // the previous kill (so every restart does real work before it dies).
      const delay = 1_500 + Math.floor(random() * 4_500);
      const readyAt = Date.now();
      while (!finished && (Date.now() - readyAt < delay || (await terminalSkus()) < lastTerminal + 3)) {
        if (Date.now() - readyAt > 120_000) throw new Error(`no progress for 120 s after kill ${kills.length}:\n${worker.output().slice(-3_000)}`);
        await sleep(100);
      }
      if (finished) break;
      const inFlight = await ledgerByStatus();
      await killHard(worker);
      lastTerminal = await terminalSkus();
      kills.push({ atMs: Date.now() - t0, terminalSkus: lastTerminal, inFlight });
      worker = spawn();
      await waitReady(worker);
    }
    expect(kills.length, `the refresh finished after ${kills.length} kills (seed ${seed}); it needs at least 5`).toBeGreaterThanOrEqual(Math.min(5, KILLS));

    const done = await Promise.race([result, sleep(200_000).then(() => 'timeout' as const)]);
    expect(done, `refresh not finished 200 s after the last kill:\n${worker.output().slice(-3_000)}`).not.toBe('timeout');
    const summary = await refreshResult(stack.client, workflowId);
    const elapsedMs = Date.now() - t0;
    expect(summary.planned).toBe(SKUS);
    expect(summary.generated + summary.failed).toBe(SKUS);

    // Every SKU: its product workflow closed, and its slot generated (current mapping) or failed with a reason.
    const db = stack.database.db;
    const attempts = await db.selectFrom('slot_attempts').select(['sku', 'outcome', 'error_type', 'error_message']).where('catalog_id', '=', CATALOG).execute();
    const mapped = new Set((await db.selectFrom('current_assets').select('sku').where('catalog_id', '=', CATALOG).execute()).map((r) => r.sku));
    expect(attempts).toHaveLength(SKUS);
    const unexplained = attempts.filter((a) => (a.outcome === 'generated' ? !mapped.has(a.sku) : !(a.outcome === 'failed' && a.error_type && a.error_message)));
    expect(unexplained).toEqual([]);
    for (const sku of attempts.map((a) => a.sku)) {
      const { status } = await stack.client.workflow.getHandle(productWorkflowId(CATALOG, sku)).describe();
      expect([sku, status.name]).toEqual([sku, attempts.find((a) => a.sku === sku)!.outcome === 'generated' ? 'COMPLETED' : 'FAILED']);
    }

    // Nothing paid twice, every paid job known to our ledger.
    const paid = await checkPaidOnce(db, stack.simulator.ledger());
    expect(paid.duplicateSubmissions).toBe(0);
    expect(paid.providerJobs).toBe(paid.ledgerRowsWithJob);
    expect(paid.unknownJobs).toEqual([]);
    expect(paid.providerBilledImages).toBe(paid.ledgerBilledImages);

    // Files and rows: nothing missing, orphaned, partial or half-written.
    const storage = await checkStorage(db, stack.storageDir);
    expect(storage.missing).toEqual([]);
    expect(storage.orphans).toEqual([]);
    expect(storage.partials).toEqual([]);
    expect(storage.undecodable).toEqual([]);
    expect(storage.currentVariantsDecoded).toBe(mapped.size * 2);
    const rows = await checkRows(db);
    expect(rows).toEqual({ assetsWithoutVariants: [], danglingCurrent: [], currentMismatch: [], unfinishedLedger: [], failuresWithoutReason: [] });

    const failed = attempts.filter((a) => a.outcome === 'failed');
    recordFigures(
      'worker-crash',
      [
        {
          fault: 'worker process SIGKILLed mid-refresh, restarted',
          tried: `${kills.length} kills during one ${SKUS}-SKU refresh`,
          lost: `0 (${summary.generated} generated, ${failed.length} failed with reason; ${paid.duplicateSubmissions} paid twice; ${storage.orphans.length} orphaned files)`,
          notes: `${paid.providerJobs} provider jobs = ${paid.ledgerRowsWithJob} ledger rows; ${storage.currentVariantsDecoded} current variant files decoded; ${Math.round(elapsedMs / 1000)} s`,
        },
      ],
      { seed, kills, elapsedMs, summary, paid, failedReasons: failed.map((f) => `${f.sku}: ${f.error_type}: ${f.error_message}`) },
    );
  });
});
