/**
 * A paid image is never lost and never bought twice, proved against the simulator's own bill:
 * outputs are kept the moment their job is terminal (even when URLs expire in seconds and rendering
 * backs up), a paid job is reused by the next run instead of bought again, re-buying one fingerprint
 * is capped until an operator decides, and an ambiguous submit to a provider not known to honour
 * idempotency keys is parked (never re-sent) until an operator settles it.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCurrentAssets } from '../../src/db/repositories/assets';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { moneyFigures, releasePaidAttempts, resolveAmbiguous } from '../../src/db/repositories/jobs';
import { selectSkuPage } from '../../src/db/repositories/selection';
import { DEFAULT_VARIANTS } from '../../src/imaging';
import { catalogSummary } from '../../src/db/repositories/summaries';
import { DEFAULT_PLAN } from '../../src/shared/plan';
import { SA } from '../../src/shared/searchAttributes';
import type { ProductWorkflowInput } from '../../src/shared/steps';
import { StorageError } from '../../src/storage/types';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = `money-${process.pid}`;

type Outcome = { result: ProductWorkflowResult; failed: boolean };

async function run(stack: TestStack, input: ProductWorkflowInput): Promise<Outcome> {
  const { workflowId } = await stack.trigger({ trigger: 'manual', ...input });
  try {
    return { result: await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result(), failed: false };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const details = (err.cause as { details?: unknown[] } | undefined)?.details;
    return { result: details?.[0] as ProductWorkflowResult, failed: true };
  }
}

const slotOutcome = (o: Outcome, slot: string) => o.result.slots.find((s) => s.slot === slot);

async function ledgerRows(stack: TestStack, sku: string, catalogId = CATALOG) {
  return stack.database.db
    .selectFrom('generation_jobs')
    .select(['slot', 'status', 'unusable_reason', 'images_billed', 'provider_job_id', 'provider', 'error_code'])
    .where('catalog_id', '=', catalogId)
    .where('sku', '=', sku)
    .orderBy('id')
    .execute();
}

/** Our ledger and the provider's bill agree to the image, and nothing was bought twice. */
async function expectLedgerMatchesBill(stack: TestStack, catalogId = CATALOG): Promise<void> {
  const bill = stack.simulator.ledger();
  const ours = await moneyFigures(stack.database.db, { catalogId });
  expect(bill.duplicateSubmissions).toBe(0);
  expect(ours.billedImages).toBe(bill.billedImages);
  expect(ours.billedCents).toBe(Math.round(bill.costUsd * 100));
}

describe('outputs kept at once, even when URLs expire in seconds behind a backlog of renders', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // URLs live 2 s; one imaging slot renders the full default variant set of 1024-px outputs, so
    // most outputs wait far longer than 2 s for a core: only outputs kept by the paid step survive.
    stack = await startTestStack({ simulator: { outputUrlTtlMs: 2_000, outputScale: 0.5 }, imagingConcurrency: 1, variants: [...DEFAULT_VARIANTS] });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('generates every product, with exactly one billed job per slot and nothing lost', { timeout: 180_000 }, async () => {
    const skus = Array.from({ length: 5 }, (_, i) => `EXP-${i}`);
    await stack.addProducts(CATALOG, skus.map((sku) => ({ sku, attributes: sampleAttributes(stack, sku) })));
    const outcomes = await Promise.all(skus.map((sku) => run(stack, { catalogId: CATALOG, sku })));
    for (const o of outcomes) {
      expect(o.failed).toBe(false);
      expect(o.result.slots.map((s) => s.outcome)).toEqual(['generated', 'generated', 'generated']);
    }
    const bill = stack.simulator.ledger();
    expect([bill.jobs, bill.billedImages, bill.duplicateSubmissions]).toEqual([15, 15, 0]);
    for (const sku of skus) {
      expect((await ledgerRows(stack, sku)).map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
      expect((await listCurrentAssets(stack.database.db, CATALOG, sku)).length).toBe(3);
    }
    const money = await moneyFigures(stack.database.db, { catalogId: CATALOG });
    expect([money.keptImages, money.unusable, money.ambiguousSteps]).toEqual([15, [], 0]);
    await expectLedgerMatchesBill(stack);
  });
});

describe('a paid job is never forgotten', () => {
  let stack: TestStack;
  /** Storage that refuses variant writes while `refuse` is set (an object store's policy, say). */
  let refuse = false;
  beforeAll(async () => {
    stack = await startTestStack({ env: { MAX_PAID_ATTEMPTS: '2' } });
    const storage = stack.deps.storage;
    const put = storage.put.bind(storage);
    storage.put = async (key, data, contentType) => {
      if (refuse && key.startsWith('variants/')) throw new StorageError('invalid_key', `storage refused ${key}`, { key });
      return put(key, data, contentType);
    };
    for (const sku of ['CAP-1', 'STORE-1', 'WAIT-1']) {
      await stack.addProducts(`${CATALOG}-${sku}`, [{ sku, attributes: sampleAttributes(stack, sku) }]);
      // Hero only, so a refresh buys exactly the step under test.
      await upsertCatalog(stack.database.db, { id: `${CATALOG}-${sku}`, plan: { ...DEFAULT_PLAN, slots: DEFAULT_PLAN.slots.filter((slot) => slot.name === 'hero') } });
    }
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('caps re-buying a fingerprint whose outputs are lost, across nightly refreshes, until an operator releases it', { timeout: 150_000 }, async () => {
    const sku = 'CAP-1';
    const catalogId = `${CATALOG}-${sku}`;
    stack.simulator.reset();
    stack.simulator.setFaults({ expiredUrl: 1 });
    const first = await run(stack, { catalogId, sku, slots: ['hero'] });
    expect(slotOutcome(first, 'hero')).toMatchObject({ outcome: 'failed', errorType: 'ProviderOutputExpired' });

    // Two nightly `stale` refreshes: the first buys once more (the cap is 2), the second buys nothing.
    for (let night = 1; night <= 2; night++) {
      const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId, selection: 'stale', dryRun: false, trigger: 'schedule', window: 4 });
      await refreshResult(stack.client, workflowId);
    }
    const rows = await ledgerRows(stack, sku, catalogId);
    expect(rows.map((r) => [r.status, r.unusable_reason, r.images_billed])).toEqual([
      ['unusable', 'expired', 1],
      ['unusable', 'expired', 1],
    ]);
    expect(stack.simulator.ledger().jobs).toBe(2);
    const summary = await catalogSummary(stack.database.db, catalogId);
    expect(summary?.money.unusable).toEqual([{ reason: 'expired', jobs: 2, images: 2, cents: 8 }]);
    expect(summary?.failures.recent.find((f) => f.sku === sku)).toMatchObject({ errorType: 'NeedsAttention' });
    expect(summary?.failures.recent.find((f) => f.sku === sku)?.message).toMatch(/catalog-assets retry --catalog .* --sku CAP-1 --slot hero/);
    // The nightly selection leaves it alone until an operator decides.
    const stale = await selectSkuPage(stack.database.db, { catalogId, selection: 'stale', afterSku: null, limit: 100, maxAgeDays: null });
    expect(stale.map((s) => s.sku)).not.toContain(sku);
    const { workflowId: productId } = await stack.trigger({ catalogId, sku, slots: ['hero'], trigger: 'manual' });
    await stack.client.workflow.getHandle(productId).result().catch(() => undefined);
    const described = await stack.client.workflow.getHandle(productId).describe();
    expect(described.typedSearchAttributes.get(SA.outcome)).toBe('needs-attention');
    expect(stack.simulator.ledger().jobs).toBe(2);

    // The operator releases it (`catalog-assets retry`): it buys again, once, and keeps it.
    stack.simulator.setFaults({});
    expect(await releasePaidAttempts(stack.database.db, { catalogId, sku, slot: 'hero' }, 'alice')).toBe(2);
    const retried = await run(stack, { catalogId, sku, slots: ['hero'] });
    expect(slotOutcome(retried, 'hero')?.outcome).toBe('generated');
    expect(stack.simulator.ledger().jobs).toBe(3);
    await expectLedgerMatchesBill(stack, catalogId);
  });

  it('reuses a delivered job after a storage failure: the next run buys nothing', { timeout: 90_000 }, async () => {
    const sku = 'STORE-1';
    const catalogId = `${CATALOG}-${sku}`;
    stack.simulator.reset();
    stack.simulator.setFaults({});
    refuse = true;
    const first = await run(stack, { catalogId, sku, slots: ['hero'] });
    refuse = false;
    expect(slotOutcome(first, 'hero')).toMatchObject({ outcome: 'failed', errorType: 'StorageFailure' });
    expect((await ledgerRows(stack, sku, catalogId)).map((r) => r.status)).toEqual(['delivered']);
    expect((await moneyFigures(stack.database.db, { catalogId })).deliveredImages).toBe(1);

    const second = await run(stack, { catalogId, sku, slots: ['hero'] });
    expect(slotOutcome(second, 'hero')?.outcome).toBe('generated');
    // Paid once, kept once; the second run's report counts no new money.
    expect(stack.simulator.ledger().jobs).toBe(1);
    expect(second.result.submissions).toBe(0);
    expect(second.result.imagesBilled).toBe(0);
    expect((await ledgerRows(stack, sku, catalogId)).map((r) => [r.status, r.images_billed])).toEqual([['completed', 1]]);
  });

  it('polls a job that outlived the wait again on the next run instead of buying it again', { timeout: 90_000 }, async () => {
    const sku = 'WAIT-1';
    const catalogId = `${CATALOG}-${sku}`;
    stack.simulator.reset();
    stack.simulator.setFaults({ script: [{ kind: 'slowJob', extraMs: 4_000 }] });
    const maxWaitMs = stack.deps.poll.maxWaitMs;
    stack.deps.poll.maxWaitMs = 500;
    let first: Outcome;
    try {
      first = await run(stack, { catalogId, sku, slots: ['hero'] });
    } finally {
      stack.deps.poll.maxWaitMs = maxWaitMs;
    }
    expect(slotOutcome(first, 'hero')).toMatchObject({ outcome: 'failed', errorType: 'ProviderJobStillRunning' });
    const [row] = await ledgerRows(stack, sku, catalogId);
    expect(row).toMatchObject({ status: 'submitted', provider: expect.stringMatching(/^simulator http:\/\/127\.0\.0\.1:\d+ seedream-4\.5$/) });

    const second = await run(stack, { catalogId, sku, slots: ['hero'] });
    expect(slotOutcome(second, 'hero')).toMatchObject({ outcome: 'generated', jobId: row!.provider_job_id });
    expect(stack.simulator.ledger().jobs).toBe(1);
    await expectLedgerMatchesBill(stack, catalogId);
  });
});

describe('an ambiguous submit to a provider not known to honour idempotency keys', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ deps: { idempotency: 'unknown' } });
    await stack.addProducts(CATALOG, [{ sku: 'AMB-1', attributes: sampleAttributes(stack, 'AMB-1') }]);
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('is parked, never sent again, visible to operators, and settled by attaching the job id', { timeout: 90_000 }, async () => {
    const sku = 'AMB-1';
    stack.simulator.setFaults({ forgetIdempotencyKeys: true, script: [{ kind: 'dropAfterAccept' }] });
    const first = await run(stack, { catalogId: CATALOG, sku, slots: ['hero'] });
    expect(slotOutcome(first, 'hero')).toMatchObject({ outcome: 'failed', errorType: 'ProviderAmbiguousSubmitParked' });
    expect((slotOutcome(first, 'hero') as { message: string }).message).toMatch(/may be billed.*ledger resolve --key/);
    // The provider made (and billed) one job; the answer was lost and nothing was sent again.
    const billed = stack.simulator.ledger();
    expect([billed.jobs, billed.submissions]).toEqual([1, 1]);
    const [row] = await ledgerRows(stack, sku);
    expect(row).toMatchObject({ status: 'ambiguous', provider_job_id: null });
    const summary = await catalogSummary(stack.database.db, CATALOG);
    expect(summary?.money.ambiguousSteps).toBe(1);
    expect(summary?.ambiguous.map((a) => a.sku)).toEqual([sku]);

    // Another trigger does not buy it again either.
    const again = await run(stack, { catalogId: CATALOG, sku, slots: ['hero'] });
    expect(slotOutcome(again, 'hero')).toMatchObject({ outcome: 'failed', errorType: 'ProviderAmbiguousSubmitParked' });
    expect(stack.simulator.ledger().submissions).toBe(1);

    // The operator finds the job in the provider's dashboard and attaches it: polled, kept, paid once.
    const key = summary!.ambiguous[0]!.idempotencyKey;
    const jobId = stack.simulator.ledger().entries[0]!.jobId;
    expect(await resolveAmbiguous(stack.database.db, key, { jobId }, 'alice')).toBe(true);
    const settled = await run(stack, { catalogId: CATALOG, sku, slots: ['hero'] });
    expect(slotOutcome(settled, 'hero')).toMatchObject({ outcome: 'generated', jobId });
    const bill = stack.simulator.ledger();
    expect([bill.jobs, bill.submissions, bill.duplicateSubmissions]).toEqual([1, 1, 0]);
    await expectLedgerMatchesBill(stack);
  });
});

describe('a retried submit sends the same bytes', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ deps: { referenceMode: 'url', idempotency: 'honoured' } });
    // A storage that hands out a freshly signed URL every time it is asked, as presigned URLs are.
    let signed = 0;
    stack.deps.storage.urlFor = async (key: string) => `${stack.packshotUrl(`ref-${key.replace(/[^a-z0-9]/gi, '').slice(-12)}.jpg`)}?sig=${++signed}`;
    await stack.addProducts(CATALOG, [{ sku: 'URL-1', attributes: sampleAttributes(stack, 'URL-1') }]);
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('keeps the presigned references of the first attempt, so an ambiguous retry is a replay, not a conflict', { timeout: 60_000 }, async () => {
    stack.simulator.setFaults({ script: [{ kind: 'dropAfterAccept' }] });
    // The label edits the packshot: its one reference travels as a presigned URL.
    const outcome = await run(stack, { catalogId: CATALOG, sku: 'URL-1', slots: ['label'] });
    expect(outcome.result.slots.map((s) => [s.slot, s.outcome])).toEqual([['label', 'generated']]);
    const bill = stack.simulator.ledger();
    expect([bill.jobs, bill.replays, bill.duplicateSubmissions]).toEqual([1, 1, 0]);
    const label = await stack.database.db
      .selectFrom('generation_jobs')
      .select(['request_refs', 'ambiguous_attempts', 'submit_attempts'])
      .where('catalog_id', '=', CATALOG)
      .where('sku', '=', 'URL-1')
      .where('slot', '=', 'label')
      .executeTakeFirstOrThrow();
    expect(label).toMatchObject({ ambiguous_attempts: 1, submit_attempts: 2, request_refs: [expect.stringMatching(/\?sig=1$/)] });
    await expectLedgerMatchesBill(stack);
  });
});
