import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { upsertProducts } from '../../src/db/repositories/products';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const run = promisify(execFile);
const CATALOG = 'cli-refresh';
/** A catalog whose products point at a packshot host that does not resolve. */
const BAD_CATALOG = 'cli-refresh-bad-sources';
const DOWN_HOST = 'packshots.cli.invalid';

async function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['bin/catalog-assets.js', ...args], { env: { ...process.env, ...env }, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('catalog-assets refresh', () => {
  let stack: TestStack;
  let env: Record<string, string>;
  beforeAll(async () => {
    stack = await startTestStack();
    await upsertCatalog(stack.database.db, { id: CATALOG, plan: { version: 1, slots: [{ name: 'hero', kind: 'generate', promptTemplate: 'Photo of {{brand}} {{name}}.' }] } });
    await upsertProducts(
      stack.database.db,
      ['P-1', 'P-2'].map((sku) => ({ catalogId: CATALOG, sku, name: sku, attributes: { name: sku, brand: 'Nord' }, attributesFingerprint: sku, source: 'test' })),
    );
    env = { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace'), TEMPORAL_TASK_QUEUE_PREFIX: stack.prefix, DATABASE_URL: stack.database.url, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('--wait --json prints one JSON object with the run\'s counts and cost, and exits 0', async () => {
    const r = await cli(['refresh', '--catalog', CATALOG, '--select', 'changed', '--wait', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ catalogId: CATALOG, planned: 2, skipped: 0, generated: 2, failed: 0, submissions: 2, costUsd: 0.08 });
  }, 120_000);

  it('a dry run lists every SKU that cannot be prepared, with slot and reason, as a table and in --json; exits 4', async () => {
    await stack.addProducts(BAD_CATALOG, ['B-1', 'B-2'].map((sku) => ({ sku, attributes: sampleAttributes(stack, sku, { packshotUrl: `https://${DOWN_HOST}/${sku}.jpg` }) })));
    const reason = (sku: string) => `attribute "packshotUrl" (https://${DOWN_HOST}/${sku}.jpg) could not be fetched: ENOTFOUND ${DOWN_HOST}`;

    const text = await cli(['refresh', '--catalog', BAD_CATALOG, '--select', 'changed', '--dry-run', '--wait'], env);
    expect(text.code, text.stderr).toBe(4);
    expect(text.stdout).toMatch(/^dry run: 2 planned, 0 would generate, 0 unchanged, 2 would fail \(cannot be prepared\); ~\$0\.16 estimated \(4 images\)$/m);
    const rows = text.stdout.split('\n').filter((l) => /^B-\d/.test(l));
    expect(rows).toHaveLength(2);
    for (const [i, sku] of ['B-1', 'B-2'].entries()) {
      expect(rows[i]!.split(/\s{2,}/)).toEqual([sku, 'label', 'SourceUnreachable', reason(sku)]);
    }

    const json = await cli(['refresh', '--catalog', BAD_CATALOG, '--select', 'changed', '--dry-run', '--wait', '--json'], env);
    expect(json.code, json.stderr).toBe(4);
    const summary = JSON.parse(json.stdout.trim()) as { failed: number; failureCount: number; failures: unknown[] };
    expect(summary).toMatchObject({ dryRun: true, planned: 2, generated: 0, failed: 2, failureCount: 2, estimatedImages: 4 });
    expect(summary.failures).toEqual(['B-1', 'B-2'].map((sku) => ({ sku, slot: 'label', errorType: 'SourceUnreachable', reason: reason(sku) })));
  }, 120_000);

  it('exits 2 with a usage message for bad input, and 3 naming the variable for bad configuration', async () => {
    const missing = await cli(['refresh', '--wait'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--catalog/);
    const badBudget = await cli(['refresh', '--catalog', CATALOG, '--budget-usd', 'lots'], env);
    expect(badBudget.code).toBe(2);
    const badConfig = await cli(['refresh', '--catalog', CATALOG], { ...env, TEMPORAL_TASK_QUEUE_PREFIX: 'Not Valid!' });
    expect(badConfig.code).toBe(3);
    expect(badConfig.stderr).toMatch(/TEMPORAL_TASK_QUEUE_PREFIX/);
  }, 120_000);

  it('--help shows examples and the exit codes', async () => {
    const r = await cli(['refresh', '--help'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:/);
    expect(r.stdout).toMatch(/Exit codes: 0 done/);
  }, 60_000);
});
