/**
 * Durability under crashes, with real processes: the product plan runs in a `catalog-assets worker`
 * child process that is SIGKILLed mid-plan; a fresh process finishes it. The simulator's ledger proves
 * nothing was submitted (or paid) twice. The ambiguous submit (accepted, answer lost) runs in-process.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listCurrentAssets } from '../../src/db/repositories/assets';
import { productStatusQuery, type ProductWorkflowResult } from '../../src/temporal/workflows';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';
import { killAllWorkers, killHard, spawnWorker, until, waitReady } from '../helpers/workerProcess';

const CATALOG = `crash-${process.pid}`;
const SLOTS = ['hero', 'label', 'lifestyle'];

/** Every claim of "finished once": result, provider ledger, Postgres ledger, mapping, files. */
async function expectPlanFinishedOnce(stack: TestStack, sku: string, result: ProductWorkflowResult): Promise<void> {
  expect(result.slots.map((s) => [s.slot, s.outcome])).toEqual(SLOTS.map((s) => [s, 'generated']));
  expect(result.imagesBilled).toBe(3);

  const ledger = stack.simulator.ledger();
  expect(ledger.duplicateSubmissions).toBe(0);
  expect(ledger.jobs).toBe(3);
  expect(ledger.billedImages).toBe(3);
  // One job per slot: the idempotency keys name the slot.
  const slotsOfJobs = ledger.entries.map((e) => e.idempotencyKey?.split(':')[3]).sort();
  expect(slotsOfJobs).toEqual(SLOTS);

  const rows = await stack.database.db
    .selectFrom('generation_jobs')
    .select(['slot', 'status', 'provider_job_id', 'images_billed'])
    .where('catalog_id', '=', CATALOG)
    .where('sku', '=', sku)
    .orderBy('slot')
    .execute();
  expect(rows.map((r) => [r.slot, r.status, r.images_billed])).toEqual(SLOTS.map((s) => [s, 'completed', 1]));
  expect(rows.map((r) => r.provider_job_id).sort()).toEqual(ledger.entries.map((e) => e.jobId).sort());

  const current = await listCurrentAssets(stack.database.db, CATALOG, sku);
  expect(current.map((a) => [a.slot, a.version, a.status])).toEqual(SLOTS.map((s) => [s, 1, 'current']));
  for (const asset of current) {
    expect(asset.variants.length).toBeGreaterThan(0);
    for (const v of asset.variants) {
      const bytes = await fs.readFile(path.join(stack.storageDir, v.storage_key));
      expect(bytes.length).toBe(v.bytes);
      const meta = await sharp(bytes).metadata();
      expect([meta.width, meta.height]).toEqual([v.width, v.height]);
    }
  }
}

describe('a worker killed mid-plan (real processes)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // Jobs take 2.5-3.5 s, so there is time to kill the worker while it polls.
    stack = await startTestStack({ startWorkers: false, simulator: { latencyMs: { min: 2_500, max: 3_500 } } });
  });
  beforeEach(() => {
    stack.simulator.reset();
    stack.simulator.setFaults({});
  });
  afterEach(async () => {
    await killAllWorkers();
  });
  afterAll(async () => {
    await killAllWorkers();
    await stack?.close();
  });

  it('finishes the plan after a SIGKILL while jobs are polled, with no second submission', { timeout: 70_000 }, async () => {
    const sku = 'KILL-POLL';
    await stack.addProducts(CATALOG, [{ sku, attributes: sampleAttributes(stack, sku) }]);
    const first = spawnWorker(stack);
    await waitReady(first);
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });

    // Hero and label are submitted together (lifestyle waits for hero): kill once both job ids are
    // persisted in the ledger, while the provider still runs them.
    const submitted = await until(
      'hero and label submitted',
      async () => {
        const rows = await stack.database.db
          .selectFrom('generation_jobs')
          .select(['slot', 'status', 'provider_job_id'])
          .where('sku', '=', sku)
          .where('provider_job_id', 'is not', null)
          .execute();
        return rows.length >= 2 ? rows : undefined;
      },
      20_000,
    );
    await killHard(first);
    const atKill = stack.simulator.ledger();
    expect(submitted.map((r) => r.slot).sort()).toEqual(['hero', 'label']);
    expect(submitted.every((r) => r.status === 'submitted')).toBe(true);
    // Killed mid-poll: neither job had finished.
    expect(atKill.entries.filter((e) => e.status === 'completed')).toEqual([]);
    expect(atKill.jobs).toBe(2);

    const second = spawnWorker(stack);
    await waitReady(second);
    const result = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
    await expectPlanFinishedOnce(stack, sku, result);
    // The recovered run never re-sent a known job: the provider saw no replayed submit either.
    expect(stack.simulator.ledger().replays).toBe(0);
    expect(result.submissions).toBe(3);
  });

  it("finishes the plan after a SIGKILL while a finished job's outputs are being downloaded", { timeout: 70_000 }, async () => {
    const sku = 'KILL-MAT';
    await stack.addProducts(CATALOG, [{ sku, attributes: sampleAttributes(stack, sku) }]);
    // The first job is slow (still polled at the kill). The other job's first download is answered
    // 429 with Retry-After 5 s: its paid step waits for its next attempt when the worker dies, and the
    // next attempt, on the new worker, polls the known job and downloads it: nothing is bought again.
    stack.simulator.setFaults({
      script: [
        { kind: 'slowJob', extraMs: 8_000 },
        { kind: 'rateLimit', on: 'download', retryAfterSeconds: 5 },
      ],
    });
    const first = spawnWorker(stack);
    await waitReady(first);
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
    const handle = stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId);

    // Kill once the server holds the failed first attempt of a paid step (retry scheduled).
    await until(
      'a paid step to fail on the refused download',
      async () => {
        const { raw } = await handle.describe();
        const pending = raw.pendingActivities ?? [];
        return pending.some((a) => a.activityType?.name === 'generateJob' && (a.attempt ?? 1) >= 2) ? true : undefined;
      },
      20_000,
      100,
    );
    const status = await handle.query(productStatusQuery);
    await killHard(first);
    expect(stack.simulator.faults().script).toEqual([]);
    expect(Object.values(status.slots).map((s) => s.phase).sort()).toEqual(['generating', 'generating', 'waiting']);
    const atKill = stack.simulator.ledger();
    expect(atKill.jobs).toBe(2);

    const second = spawnWorker(stack);
    await waitReady(second);
    const result = await handle.result();
    await expectPlanFinishedOnce(stack, sku, result);
    expect(stack.simulator.ledger().replays).toBe(0);
  });
});

describe('an ambiguous submit (accepted, answer lost)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is retried with the same idempotency key: one job, a replay, nothing paid twice', { timeout: 40_000 }, async () => {
    const sku = 'DROP-1';
    await stack.addProducts(CATALOG, [{ sku, attributes: sampleAttributes(stack, sku) }]);
    stack.simulator.setFaults({ script: [{ kind: 'dropAfterAccept' }] });
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
    const result = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();

    expect(stack.simulator.faults().script).toEqual([]);
    await expectPlanFinishedOnce(stack, sku, result);
    const ledger = stack.simulator.ledger();
    expect(ledger.replays).toBeGreaterThanOrEqual(1);
    expect(ledger.submissions).toBe(3 + ledger.replays);
    // The job the ambiguous attempt created is this run's one submission for the slot: counted once.
    expect(result.submissions).toBe(3);

    const rows = await stack.database.db
      .selectFrom('generation_jobs')
      .select(['slot', 'submit_attempts', 'ambiguous_attempts', 'provider_job_id'])
      .where('sku', '=', sku)
      .execute();
    const ambiguous = rows.filter((r) => r.ambiguous_attempts > 0);
    expect(ambiguous).toHaveLength(1);
    expect(ambiguous[0]!.submit_attempts).toBe(2);
    // The job id the retry got back is the one the lost answer would have carried.
    const entry = ledger.entries.find((e) => e.idempotencyKey?.split(':')[3] === ambiguous[0]!.slot);
    expect(ambiguous[0]!.provider_job_id).toBe(entry?.jobId);
  });
});
