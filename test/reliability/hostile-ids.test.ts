/**
 * SKUs and catalog ids are free text from a PIM and never used raw in a file path or in SQL. Product
 * plans run end to end for SKUs such as `../../etc/passwd` and `'; drop table products; --` in a
 * catalog whose id is hostile too: every file lands under the storage root under a content key, the
 * rows round-trip the exact strings, the tables are all still there, and the workflow ids and search
 * attributes carry the exact SKU.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadResultsData, renderResultsPage } from '../../src/results';
import { parseProductWorkflowId, productWorkflowId } from '../../src/shared/ids';
import { SA } from '../../src/shared/searchAttributes';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { checkRows, checkStorage, listFiles } from '../helpers/invariants';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';
import { recordFigures } from './figures';

const CATALOG = `../cat'; drop table catalogs; --`;
const SKUS = [
  '../../etc/passwd',
  `'; drop table products; --`,
  `Robert'); DROP TABLE assets;--`,
  '..\\..\\windows\\system32\\config',
  '/absolute/path',
  '%2e%2e%2f%2e%2e%2fetc',
  '..',
  'sku:with:colons',
  '<script>alert(1)</script>',
  '$(touch /tmp/pwned) `id`',
  'ünïcödé ✓ 商品 😀',
  ` leading and trailing spaces `,
  'x'.repeat(180),
];
const TABLES = ['catalogs', 'products', 'generation_jobs', 'assets', 'asset_variants', 'current_assets', 'slot_attempts', 'refresh_runs', 'review_decisions', 'webhook_events'];
const CONTENT_KEY = /^(variants|originals|sources)\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.(jpg|png|webp|avif|gif|tiff)$/;

describe('hostile SKUs and catalog ids', () => {
  let base: string;
  let stack: TestStack;

  beforeAll(async () => {
    // The storage root sits two levels below a folder of its own: a path escaping it would show up there.
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-rel-ids-'));
    const storageDir = path.join(base, 'deep', 'assets');
    await fs.mkdir(storageDir, { recursive: true });
    stack = await startTestStack({ storageDir });
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
    if (base) await fs.rm(base, { recursive: true, force: true });
  });

  it('runs the plan for each, storing files only under content keys and rows that round-trip exactly', { timeout: 180_000 }, async () => {
    await stack.addProducts(
      CATALOG,
      SKUS.map((sku) => ({ sku, attributes: sampleAttributes(stack, sku, { name: `Cream ${sku}` }) })),
    );
    const results = await Promise.all(
      SKUS.map(async (sku) => {
        const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
        const result = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result();
        return { sku, workflowId, result };
      }),
    );
    for (const { sku, workflowId, result } of results) {
      expect([sku, result.sku, result.slots.map((s) => s.outcome)]).toEqual([sku, sku, ['generated', 'generated', 'generated']]);
      expect(workflowId).toBe(productWorkflowId(CATALOG, sku));
      expect(parseProductWorkflowId(workflowId)).toEqual({ catalogId: CATALOG, sku });
      const { typedSearchAttributes } = await stack.client.workflow.getHandle(workflowId).describe();
      expect([typedSearchAttributes.get(SA.sku), typedSearchAttributes.get(SA.catalogId)]).toEqual([sku, CATALOG]);
    }

    // Every table is still there, and every row names the exact strings.
    const db = stack.database.db;
    for (const table of TABLES) {
      const r = await sql<{ n: string }>`select count(*)::text as n from ${sql.table(table)}`.execute(db);
      expect(Number(r.rows[0]?.n)).toBeGreaterThanOrEqual(0);
    }
    const exact = (rows: Array<{ sku: string }>) => [...new Set(rows.map((r) => r.sku))].sort();
    const expected = [...SKUS].sort();
    expect(exact(await db.selectFrom('products').select('sku').where('catalog_id', '=', CATALOG).execute())).toEqual(expected);
    expect(exact(await db.selectFrom('assets').select('sku').where('catalog_id', '=', CATALOG).execute())).toEqual(expected);
    expect(exact(await db.selectFrom('generation_jobs').select('sku').where('catalog_id', '=', CATALOG).execute())).toEqual(expected);
    expect(exact(await db.selectFrom('current_assets').select('sku').where('catalog_id', '=', CATALOG).execute())).toEqual(expected);
    expect(exact(await db.selectFrom('slot_attempts').select('sku').where('catalog_id', '=', CATALOG).execute())).toEqual(expected);
    expect((await db.selectFrom('catalogs').select('id').execute()).map((c) => c.id)).toContain(CATALOG);

    // Files: only content keys under the root, nothing beside or above it.
    const everything = await listFiles(base);
    const outside = everything.filter((f) => !f.startsWith('deep/assets/'));
    expect(outside).toEqual([]);
    const keys = everything.map((f) => f.slice('deep/assets/'.length));
    expect(keys.filter((k) => !CONTENT_KEY.test(k))).toEqual([]);
    for (const { storage_key } of await db.selectFrom('assets').select('storage_key').execute()) expect(storage_key).toMatch(CONTENT_KEY);
    for (const { storage_key } of await db.selectFrom('asset_variants').select('storage_key').execute()) expect(storage_key).toMatch(CONTENT_KEY);
    const storage = await checkStorage(db, stack.storageDir);
    expect([storage.missing, storage.orphans, storage.partials, storage.undecodable]).toEqual([[], [], [], []]);
    expect(await checkRows(db)).toEqual({ assetsWithoutVariants: [], danglingCurrent: [], currentMismatch: [], unfinishedLedger: [], failuresWithoutReason: [] });

    // The provider saw the SKU only percent-encoded inside idempotency keys, one per slot, none paid twice.
    const ledger = stack.simulator.ledger();
    expect(ledger.duplicateSubmissions).toBe(0);
    expect(ledger.jobs).toBe(SKUS.length * 3);
    for (const e of ledger.entries) expect(e.idempotencyKey?.split(':')).toHaveLength(6);

    // The results page shows them as text, never as markup, and links files by content key only.
    const data = await loadResultsData(db, CATALOG, { limit: 100 });
    const html = renderResultsPage(data!);
    expect(html).not.toContain('<script>alert(1)</script>');
    for (const m of html.matchAll(/(?:src|href)="([^"]*assets\/[^"]*)"/g)) expect(m[1]).not.toMatch(/\.\.|etc\/passwd/);

    recordFigures('hostile-ids', [
      {
        fault: 'hostile SKUs and catalog ids (path traversal, SQL, shell, markup, unicode, 180 chars) through the whole plan',
        tried: `${SKUS.length} SKUs x 3 slots in a hostile catalog id`,
        lost: '0 (every file under a content key inside the root; every row, workflow id and search attribute the exact string; no table dropped)',
      },
    ]);
  });
});
