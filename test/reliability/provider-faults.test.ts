/**
 * Every provider fault at once over 60 SKUs (the full hero/label/lifestyle plan, 180 paid steps):
 * 10% 5xx, 5% 429 with Retry-After, 3% failed jobs, 2% corrupt images, 2% expired URLs, slow jobs
 * and stuck jobs (the await activity gives up after the configured maximum wait, 5 s here), plus SKUs
 * whose prompt the provider's input moderation rejects. Every SKU reaches a terminal state within a
 * bounded time; non-retryable errors are not retried; each failure's reason is queryable per SKU in
 * slot_attempts; nothing is paid twice.
 */
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSlotAttempts } from '../../src/db/repositories/assets';
import { FailureType, NON_RETRYABLE_FAILURES } from '../../src/shared/failures';
import { productWorkflowId } from '../../src/shared/ids';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { checkPaidOnce, checkRows, checkStorage } from '../helpers/invariants';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';
import { recordFigures } from './figures';

const { RetryState } = proto.temporal.api.enums.v1;
const CATALOG = 'rel-faults';
const SKUS = 60;
/** These SKUs' names carry a term the provider's input moderation rejects at submit. */
const BLOCKED = new Set(['F-007', 'F-031', 'F-052']);
const MAX_WAIT_MS = 5_000;
/** No SKU may take longer than this from start to end, whatever the dice say. */
const PER_SKU_BOUND_MS = 120_000;

/** Failure types that must end their activity at the first attempt that meets them. */
const FINAL_TYPES = new Set<string>([...NON_RETRYABLE_FAILURES, FailureType.jobStillRunning, FailureType.outputExpired]);

/** The activity that submits: generateJob (submit, await and keep). */
const SUBMITTING = new Set(['generateJob']);

describe('every provider fault at once over 60 SKUs', () => {
  let stack: TestStack;
  const skus = Array.from({ length: SKUS }, (_, i) => `F-${String(i).padStart(3, '0')}`);

  beforeAll(async () => {
    stack = await startTestStack({
      simulator: { latencyMs: { min: 200, max: 700 }, maxRunning: 64, seed: 23 },
      poll: { maxWaitMs: MAX_WAIT_MS },
    });
    await stack.addProducts(
      CATALOG,
      skus.map((sku) => ({ sku, attributes: sampleAttributes(stack, sku, BLOCKED.has(sku) ? { name: `Night Cream blocked-content ${sku}` } : {}) })),
    );
    stack.simulator.setFaults({
      serverError: 0.1,
      rateLimit: { probability: 0.05, retryAfterSeconds: 1 },
      failJob: 0.03,
      corruptImage: 0.02,
      expiredUrl: 0.02,
      slowJob: { probability: 0.08, extraMs: 2_500 },
      stuckJob: 0.02,
      // One of each for certain, whatever the dice say.
      script: [
        { kind: 'stuckJob' },
        { kind: 'slowJob', extraMs: 3_000 },
        { kind: 'failJob', code: 'content_rejected' },
        { kind: 'expiredUrl' },
        { kind: 'corruptImage' },
        { kind: 'rateLimit', on: 'submit', retryAfterSeconds: 2 },
        { kind: 'serverError', on: 'poll', status: 503 },
        { kind: 'serverError', on: 'download', status: 502 },
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('ends every SKU within bounds, each failure with its reason, non-retryable ones tried once, nothing paid twice', { timeout: 240_000 }, async () => {
    const t0 = Date.now();
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'all', dryRun: false, trigger: 'manual', window: 12 });
    const summary = await refreshResult(stack.client, workflowId);
    const elapsedMs = Date.now() - t0;
    stack.simulator.setFaults({});
    expect(summary.planned).toBe(SKUS);
    expect(summary.generated + summary.failed + summary.skipped).toBe(SKUS);

    const db = stack.database.db;
    const failuresByType = new Map<string, number>();
    const retriedByActivity = new Map<string, number>();
    let slowestMs = 0;
    let finalFailuresChecked = 0;
    let rejectedSubmitsChecked = 0;
    for (const sku of skus) {
      const handle = stack.client.workflow.getHandle(productWorkflowId(CATALOG, sku));
      const description = await handle.describe();
      expect(['COMPLETED', 'FAILED']).toContain(description.status.name);
      const ms = description.closeTime!.getTime() - description.startTime.getTime();
      slowestMs = Math.max(slowestMs, ms);
      expect(ms, `SKU ${sku} took ${ms} ms`).toBeLessThan(PER_SKU_BOUND_MS);

      // Each slot's end is in Postgres: generated (and mapped), or failed with a type and a message.
      const attempts = await getSlotAttempts(db, CATALOG, sku);
      expect(attempts.map((a) => a.slot)).toEqual(['hero', 'label', 'lifestyle']);
      const failed = attempts.filter((a) => a.outcome === 'failed');
      expect(description.status.name).toBe(failed.length > 0 ? 'FAILED' : 'COMPLETED');
      for (const a of failed) {
        expect(a.error_type, `${sku} ${a.slot}`).toBeTruthy();
        expect(a.error_message?.length, `${sku} ${a.slot}`).toBeGreaterThan(0);
        failuresByType.set(a.error_type!, (failuresByType.get(a.error_type!) ?? 0) + 1);
      }
      if (BLOCKED.has(sku)) {
        expect(attempts.find((a) => a.slot === 'hero')).toMatchObject({ outcome: 'failed', error_type: FailureType.contentRejected });
        expect(attempts.find((a) => a.slot === 'lifestyle')).toMatchObject({ outcome: 'failed', error_type: 'DependencyFailed' });
      }

      // From the history: activities retried, and every final failure ended its activity at once.
      const history = await handle.fetchHistory();
      const scheduled = new Map<string, string>();
      for (const e of history.events ?? []) {
        const s = e.activityTaskScheduledEventAttributes;
        if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
        const st = e.activityTaskStartedEventAttributes;
        if (st) {
          if ((st.attempt ?? 1) > 1) {
            const name = scheduled.get(String(st.scheduledEventId)) ?? '?';
            retriedByActivity.set(name, (retriedByActivity.get(name) ?? 0) + 1);
          }
        }
        const f = e.activityTaskFailedEventAttributes;
        const type = f?.failure?.applicationFailureInfo?.type;
        if (f && type && FINAL_TYPES.has(type)) {
          finalFailuresChecked += 1;
          expect([type, f.retryState]).toEqual([type, RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE]);
          expect(f.failure?.applicationFailureInfo?.nonRetryable).toBe(true);
          // A rejected submit (no job id: a job that failed has one), checked at the provider, key by
          // key: the refusal was met exactly once (never sent again), and every submit the provider saw
          // under the key went through an opening of our ledger row. The row's openings are not the
          // history's attempt number: an attempt that fails before it reaches the ledger (a database
          // timeout on a loaded machine) opens nothing, and a later activity under the same key opens
          // the failed row again and sends nothing.
          if (type === FailureType.contentRejected && SUBMITTING.has(scheduled.get(String(f.scheduledEventId)) ?? '')) {
            const row = await db
              .selectFrom('generation_jobs')
              .select(['idempotency_key', 'submit_attempts', 'provider_job_id', 'status', 'error_code'])
              .where('catalog_id', '=', CATALOG)
              .where('sku', '=', sku)
              .where('slot', '=', 'hero')
              .executeTakeFirstOrThrow();
            if (row.provider_job_id === null) {
              rejectedSubmitsChecked += 1;
              const atProvider = stack.simulator.ledger();
              const refused = atProvider.rejections.filter((r) => r.idempotencyKey === row.idempotency_key);
              const accepted = atProvider.entries.filter((e) => e.idempotencyKey === row.idempotency_key);
              expect(row).toMatchObject({ status: 'failed', error_code: 'content_rejected' });
              expect(refused.filter((r) => r.code === 'content_rejected'), `${sku}: refusals for content at the provider`).toHaveLength(1);
              expect(accepted, `${sku}: jobs at the provider`).toEqual([]);
              expect(refused.length, `${sku}: submits the provider saw (${refused.map((r) => r.code).join(', ')}) against ledger openings`).toBeLessThanOrEqual(row.submit_attempts);
            }
          }
        }
      }
    }

    // The certain ones happened, and each ended as its class should.
    expect(stack.simulator.faults().script).toEqual([]);
    expect(failuresByType.get(FailureType.contentRejected) ?? 0).toBeGreaterThanOrEqual(BLOCKED.size + 1);
    expect(failuresByType.get(FailureType.jobStillRunning) ?? 0).toBeGreaterThanOrEqual(1);
    expect(failuresByType.get(FailureType.outputExpired) ?? 0).toBeGreaterThanOrEqual(1);
    // 5xx/429 on submit and on download are retried by the paid step; rendering never meets the provider.
    expect(retriedByActivity.get('generateJob') ?? 0).toBeGreaterThanOrEqual(1);
    expect(finalFailuresChecked).toBeGreaterThanOrEqual(BLOCKED.size + 3);
    // The blocked prompts are refused at submit.
    expect(rejectedSubmitsChecked).toBeGreaterThanOrEqual(BLOCKED.size);

    // Nothing paid twice; every paid job is in our ledger, every ledger row ended with a reason when it failed.
    const paid = await checkPaidOnce(db, stack.simulator.ledger());
    expect(paid.duplicateSubmissions).toBe(0);
    expect(paid.providerJobs).toBe(paid.ledgerRowsWithJob);
    expect(paid.unknownJobs).toEqual([]);
    expect(paid.providerBilledImages).toBe(paid.ledgerBilledImages);
    expect(await checkRows(db)).toEqual({ assetsWithoutVariants: [], danglingCurrent: [], currentMismatch: [], unfinishedLedger: [], failuresWithoutReason: [] });
    const storage = await checkStorage(db, stack.storageDir);
    expect([storage.missing, storage.orphans, storage.partials, storage.undecodable]).toEqual([[], [], [], []]);

    const ledger = stack.simulator.ledger();
    const failedSlots = [...failuresByType.values()].reduce((a, b) => a + b, 0);
    recordFigures(
      'provider-faults',
      [
        {
          fault: 'provider faults at once: 10% 5xx, 5% 429 + Retry-After, 3% failed jobs, 2% corrupt images, 2% expired URLs, 8% slow and 2% stuck jobs, input moderation',
          tried: `${SKUS} SKUs, ${SKUS * 3} slots, ${ledger.submissions + ledger.rejectedSubmissions} submits (${ledger.rejectedSubmissions} answered 429/5xx/rejected)`,
          lost: `0 (every SKU ended within ${Math.round(slowestMs / 1000)} s; ${failedSlots} slots failed, each with its reason in slot_attempts; ${paid.duplicateSubmissions} paid twice)`,
          notes: `failures: ${[...failuresByType].map(([t, n]) => `${t} ${n}`).join(', ')}; retried attempts: ${[...retriedByActivity].map(([t, n]) => `${t} ${n}`).join(', ')}; ${finalFailuresChecked} non-retryable failures checked not retried; ${Math.round(elapsedMs / 1000)} s`,
        },
      ],
      { summary, failuresByType: Object.fromEntries(failuresByType), retriedByActivity: Object.fromEntries(retriedByActivity), ledger: { ...ledger, entries: undefined } },
    );
  });
});
