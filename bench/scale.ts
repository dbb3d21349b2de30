/**
 * Scale: Postgres import time for a large CSV export, a DRY-RUN refresh over all of it (the refresh
 * workflow's history must stay bounded: the largest run of its continue-as-new chain is reported),
 * events / workflow tasks / activities of a product workflow on the default three-slot plan, and the
 * size of the tables per 1,000 SKUs with their assets.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { sql } from 'kysely';
import { upsertCatalog } from '../src/db/repositories/catalogs';
import { upsertProducts, type ProductUpsert } from '../src/db/repositories/products';
import { DEFAULT_VARIANTS } from '../src/imaging';
import { startSimulator } from '../src/provider/simulator';
import { productWorkflowId } from '../src/shared/ids';
import { refreshResult, startRefresh } from '../src/temporal/client/refresh';
import {
  benchAttributes,
  benchSku,
  chainHistoryLengths,
  createBenchDatabase,
  fetchAnalysis,
  HERO_ONLY_PLAN,
  log,
  OUT_DIR,
  round,
  startImageServer,
  startBenchWorker,
  type WorkerProcess,
  stats,
  type BenchDatabase,
  type HistoryAnalysis,
  type TemporalServer,
} from './harness';

export interface ScaleOptions {
  skus: number;
  /** SKUs refreshed for real (three-slot plan, default variants on tiny outputs) to size the asset tables. */
  tableSkus: number;
  dryRunPageSize: number;
  dryRunSkusPerRun: number;
  historySamples: number;
}

const CSV_COLUMNS = ['sku', 'name', 'brand', 'category', 'colour', 'material', 'label_text', 'locale'] as const;
const MAPPING = {
  sku: 'sku',
  name: 'name',
  attributes: { brand: 'brand', category: 'category', colour: 'colour', material: 'material', labelText: 'label_text', locale: 'locale' },
};

/** A PIM export: products whose attributes make the hero slot valid, and no packshot. */
async function writeCsv(file: string, n: number): Promise<number> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file);
  const quote = (v: unknown) => {
    const s = typeof v === 'string' || typeof v === 'number' ? String(v) : '';
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  out.write(`${CSV_COLUMNS.join(',')}\n`);
  for (let i = 0; i < n; i++) {
    const a = benchAttributes(i);
    const row = [benchSku(i), a.name, a.brand, a.category, a.colour, a.material, a.labelText, a.locale].map(quote).join(',');
    if (!out.write(`${row}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return (await fs.stat(file)).size;
}

/** Imports with the project's importer (src/import) when it is there, else upsertProducts batches. */
async function importCsv(database: BenchDatabase, catalogId: string, file: string): Promise<{ importer: string; imported: number; failed: number }> {
  let importer: typeof import('../src/import').importFile | undefined;
  try {
    importer = (await import('../src/import')).importFile;
  } catch (err) {
    log(`scale: src/import could not be loaded (${(err as Error).message.split('\n')[0]}); falling back to upsertProducts batches`);
  }
  if (importer) {
    const r = await importer(database.db, { catalogId, file, format: 'csv', mapping: MAPPING });
    return { importer: 'importFile (src/import)', imported: r.imported, failed: r.failed.length };
  }
  // Fallback: csv-parse and 1,000-row multi-row upserts, the same batch shape as the importer.
  await upsertCatalog(database.db, { id: catalogId });
  let batch: ProductUpsert[] = [];
  let imported = 0;
  const parser = createReadStream(file).pipe(parse({ columns: true }));
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    const attributes = Object.fromEntries(Object.entries(MAPPING.attributes).map(([attr, col]) => [attr, row[col]]));
    batch.push({ catalogId, sku: row.sku!, name: row.name!, attributes, attributesFingerprint: JSON.stringify({ name: row.name, attributes }), source: 'import' });
    if (batch.length === 1000) {
      await upsertProducts(database.db, batch);
      imported += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) {
    await upsertProducts(database.db, batch);
    imported += batch.length;
  }
  return { importer: 'FALLBACK: upsertProducts batches of 1,000 (src/import not available)', imported, failed: 0 };
}

async function tableSizes(database: BenchDatabase): Promise<Record<string, number>> {
  const { rows } = await sql<{ name: string; bytes: string }>`
    select c.relname as name, pg_total_relation_size(c.oid)::text as bytes
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r' and c.relname not like 'kysely_%'`.execute(database.db);
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.bytes)]));
}

export async function runScale(temporal: TemporalServer, o: ScaleOptions) {
  const database = await createBenchDatabase(20);
  const storageDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-bench-scale-'));
  const images = await startImageServer();
  // Tiny outputs (41 px): the default variant set is never enlarged, so its 12 encodes cost little.
  const sim = await startSimulator({ latencyMs: { min: 20, max: 60 }, maxRunning: 32, outputScale: 0.02, seed: 5 });
  let worker: WorkerProcess | undefined;
  try {
    // 1. Import a CSV export.
    const csvFile = path.join(OUT_DIR, `catalog-${o.skus}.csv`);
    const csvBytes = await writeCsv(csvFile, o.skus);
    const bigCatalog = 'bench-scale';
    await upsertCatalog(database.db, { id: bigCatalog, plan: HERO_ONLY_PLAN });
    const beforeImport = await tableSizes(database);
    log(`scale: importing ${o.skus} products from ${path.relative(process.cwd(), csvFile)} (${(csvBytes / 1024 / 1024).toFixed(1)} MB)`);
    const t0 = performance.now();
    const imported = await importCsv(database, bigCatalog, csvFile);
    const importSeconds = (performance.now() - t0) / 1000;
    if (imported.imported !== o.skus) throw new Error(`scale: imported ${imported.imported} of ${o.skus} products (${imported.failed} failed)`);
    await sql`vacuum full analyze products`.execute(database.db);
    const afterImport = await tableSizes(database);
    log(`scale: import ${importSeconds.toFixed(1)} s`);

    // 2. The worker (default variants: the sample refresh below must write realistic variant rows).
    const prefix = `bench-scale-${process.pid}`;
    worker = await startBenchWorker({ temporal, database, sim }, {
      taskQueuePrefix: prefix,
      databasePoolSize: 20,
      storageDir,
      variants: [...DEFAULT_VARIANTS],
      poll: { initialMs: 50, maxIntervalMs: 200, maxWaitMs: 10 * 60_000 },
      providerConcurrency: 200,
      providerRatePerSecond: 1_000,
      imagingConcurrency: 4 * os.availableParallelism(),
      allowPrivateHosts: [new URL(images.url).host],
    });

    // 3. A dry run over every imported SKU: estimates only, the refresh's own history is what grows.
    log(`scale: dry-run refresh over ${o.skus} SKUs (page ${o.dryRunPageSize}, ${o.dryRunSkusPerRun} SKUs per run)`);
    const t1 = performance.now();
    const dry = await startRefresh(temporal.client, prefix, {
      catalogId: bigCatalog,
      selection: 'all',
      dryRun: true,
      trigger: 'manual',
      pageSize: o.dryRunPageSize,
      skusPerRun: o.dryRunSkusPerRun,
    });
    const dryResult = await refreshResult(temporal.client, dry.workflowId);
    const dryRunSeconds = (performance.now() - t1) / 1000;
    if (dryResult.planned !== o.skus) throw new Error(`scale: the dry run planned ${dryResult.planned} of ${o.skus} SKUs`);
    const chain = await chainHistoryLengths(temporal.client, dry.workflowId);
    const dryStats = await worker.stats(true);
    log(`scale: dry run ${dryRunSeconds.toFixed(1)} s, ${chain.length} runs, largest ${Math.max(...chain.map((c) => c.events))} events`);

    // 4. A real refresh of a sample on the default three-slot plan: history shape and table growth.
    //    Two halves, measured after each: the slope between them leaves out what a table costs empty
    //    (its first pages and index roots), which would swamp a small sample.
    const sampleCatalog = 'bench-tables';
    await upsertCatalog(database.db, { id: sampleCatalog, settings: { sceneReferences: [`${images.url}/scene-kitchen.jpg`] } });
    const half = Math.max(1, Math.floor(o.tableSkus / 2));
    const sampleProducts = Array.from({ length: o.tableSkus }, (_, k) => {
      const i = 2_000_000 + k;
      const attributes = benchAttributes(i, images.url);
      return { catalogId: sampleCatalog, sku: benchSku(i), name: attributes.name as string, attributes, attributesFingerprint: JSON.stringify(attributes), source: 'bench' };
    });
    for (let i = 0; i < sampleProducts.length; i += 1000) await upsertProducts(database.db, sampleProducts.slice(i, i + 1000));
    log(`scale: real refresh of ${o.tableSkus} SKUs (two halves) on the three-slot plan with the default variant set (tiny outputs)`);
    const t2 = performance.now();
    const refreshSample = async (skus: string[]) => {
      const r = await startRefresh(temporal.client, prefix, { catalogId: sampleCatalog, selection: { skus }, dryRun: false, trigger: 'manual', window: 64 });
      const result = await refreshResult(temporal.client, r.workflowId);
      if (result.generated !== skus.length || result.failed > 0) {
        throw new Error(`scale: sample refresh generated ${result.generated}/${skus.length}, ${result.failed} failed`);
      }
      // Compact size: update churn (ledger rows are written three times) leaves dead tuples whose
      // reuse depends on autovacuum timing; VACUUM FULL makes the figure reproducible (a lower bound).
      await sql`vacuum full analyze`.execute(database.db);
      return tableSizes(database);
    };
    const skuList = sampleProducts.map((p) => p.sku);
    const afterFirstHalf = await refreshSample(skuList.slice(0, half));
    const afterSample = await refreshSample(skuList.slice(half));
    const sampleSeconds = (performance.now() - t2) / 1000;
    const slopeSkus = o.tableSkus - half;
    const analyses: HistoryAnalysis[] = [];
    for (let k = 0; k < Math.min(o.historySamples, o.tableSkus); k++) {
      const i = 2_000_000 + Math.floor(((k + 0.5) * o.tableSkus) / o.historySamples);
      analyses.push(await fetchAnalysis(temporal.client, productWorkflowId(sampleCatalog, benchSku(i))));
    }
    const mean = (f: (a: HistoryAnalysis) => number) => round(stats(analyses.map(f)).mean, 1);
    const activityTypes: Record<string, number> = {};
    for (const a of analyses) for (const [name, v] of Object.entries(a.activity)) activityTypes[name] = (activityTypes[name] ?? 0) + v.count / analyses.length;

    // Tables per 1,000 SKUs: products from the big import; asset tables from the sample refresh.
    const per1000: Record<string, number> = {};
    const perRefresh = ['catalogs', 'refresh_runs', 'webhook_events', 'review_decisions'];
    for (const [name, bytes] of Object.entries(afterSample)) {
      if (perRefresh.includes(name)) continue;
      if (name === 'products') per1000[name] = Math.round((((afterImport[name] ?? 0) - (beforeImport[name] ?? 0)) / o.skus) * 1000);
      else per1000[name] = Math.max(0, Math.round((((bytes ?? 0) - (afterFirstHalf[name] ?? 0)) / slopeSkus) * 1000));
    }
    for (const k of Object.keys(per1000)) if (per1000[k] === 0) delete per1000[k];
    const rows = await sql<{ assets: string; variants: string; jobs: string }>`
      select (select count(*) from assets)::text as assets, (select count(*) from asset_variants)::text as variants, (select count(*) from generation_jobs)::text as jobs`.execute(database.db);

    return {
      history: {
        skus: o.skus,
        eventsPerProductWorkflow: mean((a) => a.events),
        workflowTasksPerProductWorkflow: mean((a) => a.workflowTasks),
        activitiesPerSku: mean((a) => a.activities),
        localActivitiesPerSku: mean((a) => a.localActivities),
        activityTypesPerSku: Object.fromEntries(Object.entries(activityTypes).map(([k, v]) => [k, round(v, 2)])),
        productWorkflowPlan: 'default three-slot plan (hero, label, lifestyle), all generated',
        largestRefreshRunEvents: Math.max(...chain.map((c) => c.events)),
        refreshRuns: chain.length,
        refreshRunEvents: stats(chain.map((c) => c.events)),
        dryRun: {
          seconds: round(dryRunSeconds, 1),
          skusPerSecond: round(o.skus / dryRunSeconds, 0),
          pageSize: o.dryRunPageSize,
          skusPerRun: o.dryRunSkusPerRun,
          estimatedImages: dryResult.estimatedImages,
          estimatedCostUsd: dryResult.estimatedCostUsd,
          estimatePageMs: dryStats.activities.estimatePage ? round(dryStats.activities.estimatePage.execMs.mean, 0) : undefined,
        },
      },
      import: {
        products: imported.imported,
        seconds: round(importSeconds, 2),
        productsPerSecond: Math.round(imported.imported / importSeconds),
        importer: imported.importer,
        csvBytes,
      },
      tables: {
        bytesPer1000Skus: Object.values(per1000).reduce((s, b) => s + b, 0),
        byTable: per1000,
        method: `pg_total_relation_size (heap + indexes + TOAST) after VACUUM FULL ANALYZE (compact size; update churn adds dead space until autovacuum reuses it). products: growth over the ${o.skus}-product import; asset tables: growth between refreshing ${half} and ${o.tableSkus} SKUs for real on the three-slot plan with the ${DEFAULT_VARIANTS.length}-variant default set (so empty-table overhead is left out)`,
        sampleRows: { assets: Number(rows.rows[0]?.assets), variants: Number(rows.rows[0]?.variants), jobs: Number(rows.rows[0]?.jobs) },
        sampleRefreshSeconds: round(sampleSeconds, 1),
      },
    };
  } finally {
    await worker?.stop();
    await sim.close();
    await images.close();
    await database.drop();
    await fs.rm(storageDir, { recursive: true, force: true });
  }
}
