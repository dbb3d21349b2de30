/**
 * Label text verified end to end on the dev server: the simulator prints the requested label (or
 * misspells it, as a fault), the imaging worker reads it back, a mismatch is bought again within the
 * paid attempt cap and, past it, goes to review with the readings; a locale without traineddata is
 * recorded unchecked, never passed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAssetVersions, listCurrentAssets } from '../../src/db/repositories/assets';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { labelReadingForAsset, labelReadingsForSlot } from '../../src/db/repositories/labelReadings';
import { formatReviewStatus } from '../../src/cli/commands/reviewShow.run';
import { loadResultsData } from '../../src/db/repositories/results';
import { DEFAULT_PLAN } from '../../src/shared/plan';
import { productStatusQuery, reviewSignal, type ProductRunStatus, type ProductWorkflowResult } from '../../src/temporal/workflows';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CATALOG = `label-${process.pid}`;
const LABEL_SLOT = DEFAULT_PLAN.slots.find((s) => s.name === 'label')!;

async function ledger(stack: TestStack, sku: string) {
  return stack.database.db
    .selectFrom('generation_jobs')
    .select(['status', 'unusable_reason', 'images_billed', 'error_message'])
    .where('catalog_id', '=', CATALOG)
    .where('sku', '=', sku)
    .orderBy('id')
    .execute();
}

async function readings(stack: TestStack, sku: string) {
  return (await labelReadingsForSlot(stack.database.db, { catalogId: CATALOG, sku, slot: 'label' })).reverse();
}

async function waitForReview(stack: TestStack, workflowId: string): Promise<ProductRunStatus> {
  const handle = stack.client.workflow.getHandle(workflowId);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const s = await handle.query(productStatusQuery).catch(() => undefined);
    if (s?.slots.label?.phase === 'awaiting_review') return s;
    if (s?.slots.label?.phase === 'done') throw new Error(`the label slot ended without review: ${JSON.stringify(s.slots.label.outcome)}`);
    await sleep(150);
  }
  throw new Error('the label slot never reached awaiting_review');
}

describe('label text read back by OCR', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
    // The label slot of the default plan alone (its check on by default), no catalog review.
    await stack.addProducts(CATALOG, []);
    await upsertCatalog(stack.database.db, { id: CATALOG, name: CATALOG, plan: { version: 1, slots: [LABEL_SLOT] } });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('a misspelled label on the first attempt is bought again and passes on the second', { timeout: 120_000 }, async () => {
    await stack.addProducts(CATALOG, [{ sku: 'L-1', attributes: sampleAttributes(stack, 'L-1') }]);
    stack.simulator.setFaults({ script: [{ kind: 'misspellLabel' }] });
    const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku: 'L-1', trigger: 'manual' });
    const result = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
    expect(stack.simulator.faults().script).toEqual([]);
    expect(result.slots[0]).toMatchObject({ slot: 'label', outcome: 'generated', imagesBilled: 2, costCents: 8 });
    expect([result.imagesBilled, result.submissions]).toEqual([2, 2]);

    const jobs = await ledger(stack, 'L-1');
    expect(jobs.map((j) => [j.status, j.unusable_reason, j.images_billed])).toEqual([
      ['unusable', 'label-mismatch', 1],
      ['completed', null, 1],
    ]);
    expect(jobs[0]!.error_message).toMatch(/label read ".*" for "Night Cream 50 ml": similarity 0\.\d+ < 0\.85/);

    const rows = await readings(stack, 'L-1');
    expect(rows.map((r) => [r.verdict, r.expected, r.locale, r.language])).toEqual([
      ['mismatch', 'Night Cream 50 ml', 'en-GB', 'eng'],
      ['pass', 'Night Cream 50 ml', 'en-GB', 'eng'],
    ]);
    expect(rows[0]!.similarity!).toBeLessThan(0.85);
    expect(rows[1]!.similarity!).toBeGreaterThanOrEqual(0.85);
    expect(rows[1]!.read_text).toMatch(/Night Cream 50 ml/i);

    const current = await listCurrentAssets(stack.database.db, CATALOG, 'L-1');
    expect(current.map((a) => [a.slot, a.status])).toEqual([['label', 'current']]);
    expect((await labelReadingForAsset(stack.database.db, current[0]!.id))?.verdict).toBe('pass');
    // The regeneration asked for the label again, through the reviewer's-note path.
    const versions = await listAssetVersions(stack.database.db, CATALOG, 'L-1', 'label');
    expect(versions.map((v) => [v.version, v.status])).toEqual([[1, 'current']]);
    expect(versions[0]!.prompt).toContain('the label must read exactly "Night Cream 50 ml"');
    const bill = stack.simulator.ledger();
    expect(bill.duplicateSubmissions).toBe(0);
  });

  it('a label misspelled on every attempt goes to review with the readings, within the paid attempt cap', { timeout: 120_000 }, async () => {
    await stack.addProducts(CATALOG, [{ sku: 'L-2', attributes: sampleAttributes(stack, 'L-2') }]);
    stack.simulator.setFaults({ misspellLabel: 1 });
    try {
      const jobsBefore = stack.simulator.ledger().jobs;
      const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku: 'L-2', trigger: 'manual' });
      const status = await waitForReview(stack, workflowId);
      const slot = status.slots.label!;
      expect(slot.labelReadings?.map((r) => r.verdict)).toEqual(['mismatch', 'mismatch']);
      expect(slot.labelReadings?.[1]?.read).toBeTruthy();
      expect(slot.labelReadings?.[1]?.expected).toBe('Night Cream 50 ml');
      expect(slot.labelReview).toMatch(/2 label mismatches \(at most 2 before review\)/);
      // What the operator sees before deciding: `catalog-assets review show`, and the results page's slot.
      const shown = formatReviewStatus(status, 'label');
      expect(shown).toMatch(/^label: awaiting_review, asset \d+ v1/);
      expect(shown).toContain('in review because of its label');
      expect(shown).toMatch(/reading 2, job \S+: mismatch \(similarity 0\.\d+, threshold 0\.85\)\n {6}expected: "Night Cream 50 ml"\n {6}read: {5}"/);
      const page = await loadResultsData(stack.database.db, CATALOG, {});
      const cell = page!.rows.find((r) => r.sku === 'L-2')!.cells.find((c) => c.slot === 'label')!;
      expect(cell.label).toMatchObject({ verdict: 'mismatch', expected: 'Night Cream 50 ml', threshold: 0.85 });
      // MAX_PAID_ATTEMPTS (2) bought: the first unusable, the second kept for the reviewer.
      expect(stack.simulator.ledger().jobs - jobsBefore).toBe(2);
      expect((await ledger(stack, 'L-2')).map((j) => [j.status, j.unusable_reason])).toEqual([
        ['unusable', 'label-mismatch'],
        ['completed', null],
      ]);
      const pending = await listAssetVersions(stack.database.db, CATALOG, 'L-2', 'label');
      expect(pending.map((a) => a.status)).toEqual(['pending_review']);
      expect(slot.pendingAssetId).toBe(pending[0]!.id);
      expect(await listCurrentAssets(stack.database.db, CATALOG, 'L-2')).toEqual([]);
      expect((await readings(stack, 'L-2')).map((r) => r.verdict)).toEqual(['mismatch', 'mismatch']);

      // The reviewer declines it: nothing is published, nothing more is bought.
      const handle = stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId);
      await handle.signal(reviewSignal, { slot: 'label', decision: 'reject', by: 'carol' });
      const result = await handle.result();
      expect(result.slots[0]).toMatchObject({ slot: 'label', outcome: 'kept' });
      expect(stack.simulator.ledger().jobs - jobsBefore).toBe(2);
      expect(await listCurrentAssets(stack.database.db, CATALOG, 'L-2')).toEqual([]);
    } finally {
      stack.simulator.setFaults({});
    }
  });

  it('a locale without traineddata is recorded unchecked, not passed, and not read', { timeout: 120_000 }, async () => {
    await stack.addProducts(CATALOG, [{ sku: 'L-3', attributes: sampleAttributes(stack, 'L-3', { labelText: 'Crème de nuit 50 ml', locale: 'fr-FR' }) }]);
    stack.simulator.setFaults({ misspellLabel: 1 });
    try {
      const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku: 'L-3', trigger: 'manual' });
      const handle = stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId);
      const result = await handle.result();
      expect(result.slots[0]).toMatchObject({ slot: 'label', outcome: 'generated', imagesBilled: 1 });
      const status = await handle.query(productStatusQuery);
      expect(status.slots.label?.labelReadings?.map((r) => [r.verdict, r.language, r.similarity])).toEqual([['unchecked', null, null]]);
      expect(status.slots.label?.labelReadings?.[0]?.reason).toContain('no OCR traineddata for locale "fr-FR"');
      const rows = await readings(stack, 'L-3');
      expect(rows.map((r) => [r.verdict, r.read_text, r.similarity, r.locale])).toEqual([['unchecked', null, null, 'fr-FR']]);
      expect((await ledger(stack, 'L-3')).map((j) => j.status)).toEqual(['completed']);
    } finally {
      stack.simulator.setFaults({});
    }
  });
});
