/**
 * `npm start`, end to end, through the same code path: the CLI's main() with `local`, in a temporary
 * data folder, with its own Temporal dev server (on free ports, not the suite's shared one), the
 * in-process simulator, the workers and the HTTP service. For speed it uses the machine's Postgres
 * (a fresh test database through DATABASE_URL), cheap variants and small simulator outputs; the
 * embedded-Postgres path is proven separately below (create, migrate, stop, start again, data kept).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalRunReport } from '../../src/cli/commands/local';
import { main } from '../../src/cli/main';
import { createDb } from '../../src/db/connect';
import { upsertCatalog, getCatalog } from '../../src/db/repositories/catalogs';
import { migrateToLatest } from '../../src/db/migrate';
import { startEmbeddedPostgres } from '../../src/local/postgres';
import { SAMPLE_PRODUCTS } from '../../src/local/sampleCatalog';
import { freePort } from '../../src/local/state';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const SLOTS = ['hero', 'label', 'lifestyle'];

async function runLocal(dataDir: string, env: Record<string, string | undefined>): Promise<{ code: number; report: LocalRunReport; log: string }> {
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  let code: number;
  try {
    code = await main(['node', 'catalog-assets', 'local', '--data-dir', dataDir, '--exit-after-refresh', '--free-ports', '--json']);
  } finally {
    out.mockRestore();
    err.mockRestore();
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const last = stdout.trim().split('\n').pop() ?? '';
  let report: LocalRunReport;
  try {
    report = JSON.parse(last) as LocalRunReport;
  } catch {
    throw new Error(`no JSON report (exit ${code}); stderr:\n${stderr}\nstdout:\n${stdout}`);
  }
  return { code, report, log: stderr };
}

describe('npm start (catalog-assets local)', () => {
  let database: TestDatabase;
  let dataDir: string;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ca-local-'));
    env = {
      DATABASE_URL: database.url,
      VARIANTS: 'cheap',
      SIMULATOR_OUTPUT_SCALE: '0.125',
      SIMULATOR_LATENCY_MS: '50-150',
      IMAROUTER_API_KEY: undefined,
      IMAROUTER_BASE_URL: undefined,
      DATA_DIR: undefined,
      ASSET_DIR: undefined,
      ASSET_STORAGE: undefined,
    };
  });

  afterAll(async () => {
    await database?.drop();
    if (dataDir) await fsp.rm(dataDir, { recursive: true, force: true });
  });

  it('starts the stack, imports the sample catalog and generates every asset; a second run regenerates nothing', async () => {
    const first = await runLocal(dataDir, env);
    expect(first.code, first.log).toBe(0);
    const r1 = first.report;
    expect(r1.providerKind).toBe('simulator');
    expect(r1.provider).toMatch(/LOCAL SIMULATOR/);
    expect(r1.database).toBe('external');
    expect(r1.sampleCatalog).toMatchObject({ catalogId: 'sample', products: SAMPLE_PRODUCTS.length, added: SAMPLE_PRODUCTS.length });
    expect(r1.refresh).toMatchObject({ planned: SAMPLE_PRODUCTS.length, generated: SAMPLE_PRODUCTS.length, failed: 0 });
    expect(r1.simulator?.submissions).toBe(SAMPLE_PRODUCTS.length * SLOTS.length);
    expect(r1.runUrl).toContain('/namespaces/default/workflows/refresh');
    expect(decodeURIComponent(r1.workflowsUrl)).toContain('CatalogId="sample"');
    expect(r1.resultsUrl).toMatch(/\/catalogs\/sample\/results$/);
    expect(first.log).toMatch(/Image provider: the LOCAL SIMULATOR/);

    // Postgres: every SKU has a current hero, label and lifestyle asset, each with its variants on disk.
    const db = database.db;
    const current = await db
      .selectFrom('current_assets as c')
      .innerJoin('assets as a', 'a.id', 'c.asset_id')
      .select(['c.sku', 'c.slot', 'a.id', 'a.storage_key'])
      .where('c.catalog_id', '=', 'sample')
      .execute();
    const bySku = new Map<string, string[]>();
    for (const row of current) bySku.set(row.sku, [...(bySku.get(row.sku) ?? []), row.slot]);
    for (const p of SAMPLE_PRODUCTS) expect(bySku.get(p.sku)?.sort(), p.sku).toEqual(SLOTS);
    const failures = await db.selectFrom('slot_attempts').select(['sku', 'slot', 'error_message']).where('catalog_id', '=', 'sample').where('outcome', '=', 'failed').execute();
    expect(failures).toEqual([]);
    // Every current asset went to the Akeneo and Shopify stand-ins and the event receiver.
    const publications = await db.selectFrom('publications').select(['sku', 'slot', 'destination', 'status', 'last_error']).where('catalog_id', '=', 'sample').execute();
    expect(publications.filter((p) => p.status !== 'published')).toEqual([]);
    expect(publications).toHaveLength(SAMPLE_PRODUCTS.length * SLOTS.length * 3);
    expect(new Set(publications.map((p) => p.destination))).toEqual(new Set(['pim', 'shop', 'events']));

    const variants = await db
      .selectFrom('asset_variants')
      .select(['asset_id', 'storage_key', 'bytes'])
      .where(
        'asset_id',
        'in',
        current.map((c) => c.id),
      )
      .execute();
    expect(new Set(variants.map((v) => String(v.asset_id))).size).toBe(current.length);
    for (const v of variants) {
      const file = path.join(dataDir, 'assets', ...v.storage_key.split('/'));
      expect(fs.statSync(file).size, v.storage_key).toBe(v.bytes);
    }
    for (const c of current) expect(fs.existsSync(path.join(dataDir, 'assets', ...c.storage_key.split('/'))), c.storage_key).toBe(true);

    // The data folder: Temporal's state, the remembered ports, the packshots, the logs.
    for (const f of ['temporal.db', 'stack.json', 'packshots', 'logs/temporal.log']) expect(fs.existsSync(path.join(dataDir, f)), f).toBe(true);
    const jobsAfterFirst = await sql<{ n: string }>`select count(*)::text as n from generation_jobs where catalog_id = 'sample'`.execute(db);
    expect(Number(jobsAfterFirst.rows[0]!.n)).toBe(SAMPLE_PRODUCTS.length * SLOTS.length);

    // Second run on the same data folder: nothing changed, nothing submitted, and it says so.
    const second = await runLocal(dataDir, env);
    expect(second.code, second.log).toBe(0);
    expect(second.report.sampleCatalog).toMatchObject({ added: 0, updated: 0, unchanged: SAMPLE_PRODUCTS.length });
    expect(second.report.refresh).toMatchObject({ generated: 0, failed: 0, submissions: 0 });
    expect(second.report.simulator).toEqual({ submissions: 0, imagesBilled: 0 });
    expect(second.log).toMatch(/Nothing changed: 0 images generated/);
    const jobsAfterSecond = await sql<{ n: string }>`select count(*)::text as n from generation_jobs where catalog_id = 'sample'`.execute(db);
    expect(jobsAfterSecond.rows[0]!.n).toBe(jobsAfterFirst.rows[0]!.n);
    // The same ports, so the same URLs (and the same packshot URLs) as the first run.
    expect(second.report.temporalUi).toBe(r1.temporalUi);
  }, 150_000);
});

describe('embedded Postgres (the default without DATABASE_URL)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ca-pg-'));
    // mkdtemp makes the folder 0700; run as root, Postgres runs as the `postgres` user, which must reach it.
    await fsp.chmod(dir, 0o755);
  });

  afterAll(async () => {
    if (dir) await fsp.rm(dir, { recursive: true, force: true });
  });

  it('creates a cluster, creates and migrates the database, and keeps the data across a restart', async () => {
    const port = await freePort();
    const opts = { dir: path.join(dir, 'postgres'), port, logFile: path.join(dir, 'postgres.log') };
    const first = await startEmbeddedPostgres(opts);
    try {
      expect(first.created).toBe(true);
      expect(first.url).toMatch(new RegExp(`^postgres://postgres:[^@]+@127\\.0\\.0\\.1:${port}/catalog_assets$`));
      const db = createDb(first.url, { poolSize: 2 });
      try {
        await migrateToLatest(db);
        await upsertCatalog(db, { id: 'embedded-check', name: 'kept across restarts' });
      } finally {
        await db.destroy();
      }
    } finally {
      await first.stop();
    }
    expect(first.process.running()).toBe(false);

    const second = await startEmbeddedPostgres(opts);
    try {
      expect(second.created).toBe(false);
      expect(second.url).toBe(first.url);
      const db = createDb(second.url, { poolSize: 2 });
      try {
        expect((await getCatalog(db, 'embedded-check'))?.name).toBe('kept across restarts');
      } finally {
        await db.destroy();
      }
    } finally {
      await second.stop();
    }
  }, 90_000);
});
