/**
 * `catalog-assets ledger list|resolve` and `retry`, run as a child process (the real bin) against a
 * database holding an ambiguous submit and a slot past its re-buy cap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { getLedgerEntry, markAmbiguous, markJobBilled, markSending, markSubmitted, markUnusable, openLedgerEntry } from '../../src/db/repositories/jobs';
import type { CatalogSummary } from '../../src/db/repositories/summaries';
import { runCli, type CliRun } from '../helpers/cli';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const CATALOG = 'cli-ledger';
let database: TestDatabase;

function cli(args: string[]): Promise<CliRun> {
  return runCli(args, { ...process.env, DATABASE_URL: database.url, NO_COLOR: '1' });
}

const step = (sku: string, key: string) => ({
  idempotencyKey: key,
  catalogId: CATALOG,
  sku,
  slot: 'hero',
  workflowId: `product:${CATALOG}:${sku}`,
  runId: 'run-1',
  operation: 'generate',
  model: 'seedream-4.5',
  provider: 'real https://api.imarouter.invalid seedream-4.5',
  fingerprint: 'f1',
  imagesRequested: 1,
});

describe('catalog-assets ledger and retry', () => {
  beforeAll(async () => {
    database = await createTestDatabase();
    const db = database.db;
    await upsertCatalog(db, { id: CATALOG, name: 'Ledger' });
    // An ambiguous submit: sent, the answer lost, parked.
    await openLedgerEntry(db, step('AMB-1', 'cli-ledger:AMB-1:hero:f1:0'));
    await markSending(db, 'cli-ledger:AMB-1:hero:f1:0', { requestRefs: null, requestSha256: 'x' });
    await markAmbiguous(db, 'cli-ledger:AMB-1:hero:f1:0', 'submit timed out after the request was sent', { park: true });
    // Two paid attempts whose outputs expired: the slot is past a cap of 2.
    for (const n of [0, 1]) {
      const key = `cli-ledger:CAP-1:hero:f1:${n}`;
      await openLedgerEntry(db, step('CAP-1', key));
      await markSubmitted(db, key, `job-${n}`);
      await markJobBilled(db, key, 1, 4, [{ index: 0, outcome: 'delivered' }]);
      await markUnusable(db, key, 'expired', 'url_expired', 'expired before download');
    }
  }, 60_000);
  afterAll(async () => {
    await database?.drop();
  });

  it('lists the ambiguous step, in status too, with the money figures', async () => {
    const list = await cli(['ledger', 'list', '--catalog', CATALOG, '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ idempotencyKey: string; sku: string }>).map((r) => [r.sku, r.idempotencyKey])).toEqual([['AMB-1', 'cli-ledger:AMB-1:hero:f1:0']]);
    const status = await cli(['status', '--catalog', CATALOG, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const summary = JSON.parse(status.stdout) as CatalogSummary;
    expect(summary.money).toMatchObject({ billedImages: 2, billedCents: 8, keptImages: 0, ambiguousSteps: 1, unusable: [{ reason: 'expired', jobs: 2, images: 2, cents: 8 }] });
    const text = await cli(['status', '--catalog', CATALOG]);
    expect(text.stdout).toMatch(/paid but unusable 2 \(2 expired\)/);
    expect(text.stdout).toMatch(/ambiguous 1 steps/);
    expect(text.stdout).toContain('cli-ledger:AMB-1:hero:f1:0');
  }, 60_000);

  it('resolve: exactly one way, the job id attached, then nothing left to resolve', async () => {
    const key = 'cli-ledger:AMB-1:hero:f1:0';
    const none = await cli(['ledger', 'resolve', '--key', key]);
    expect([none.code, none.stderr]).toEqual([2, expect.stringMatching(/exactly one of --job-id/)]);
    const two = await cli(['ledger', 'resolve', '--key', key, '--resubmit', '--not-billed']);
    expect(two.code).toBe(2);
    const ok = await cli(['ledger', 'resolve', '--key', key, '--job-id', 'job_8d1c', '--by', 'alice']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/job job_8d1c attached/);
    expect(await getLedgerEntry(database.db, key)).toMatchObject({ status: 'submitted', provider_job_id: 'job_8d1c' });
    const again = await cli(['ledger', 'resolve', '--key', key, '--job-id', 'job_8d1c']);
    expect([again.code, again.stderr]).toEqual([1, expect.stringMatching(/no ambiguous step with key/)]);
  }, 60_000);

  it('retry --no-run releases the unusable paid attempts from the cap, recording who', async () => {
    const r = await cli(['retry', '--catalog', CATALOG, '--sku', 'CAP-1', '--slot', 'hero', '--no-run', '--by', 'alice']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/released 2 unusable paid attempts of hero for SKU CAP-1/);
    for (const n of [0, 1]) expect(await getLedgerEntry(database.db, `cli-ledger:CAP-1:hero:f1:${n}`)).toMatchObject({ status: 'unusable', released_by: 'alice' });
  }, 60_000);
});
