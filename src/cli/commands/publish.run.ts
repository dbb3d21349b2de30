/** What `catalog-assets publish` and `destinations list|test` do, loaded when they run. */
import type { Kysely } from 'kysely';
import { CatalogSettingsError, readCatalogPlan } from '../../db/repositories/catalogs';
import { unpublishedCurrentAssets, type UnpublishedAsset } from '../../db/repositories/publications';
import type { Database } from '../../db/schema';
import { DESTINATION_KINDS } from '../../publish/kinds';
import { configuredDestinations, type AnyKind } from '../../publish/settings';
import { publishRunResult, startPublishRuns } from '../../temporal/client/publish';
import { connectClient } from '../../temporal/client/connection';
import type { Config } from '../../config';
import { configOrExit } from '../context';
import { withDatabase } from '../database';
import { CliError } from '../errors';
import { cell, palette, table } from '../views';

/** The catalog's destinations as this build reads them; exit 1 for an unknown catalog or bad settings. */
async function destinationsOf(db: Kysely<Database>, catalogId: string, kinds: readonly AnyKind[] = DESTINATION_KINDS) {
  const catalog = await readCatalogPlan(db, catalogId);
  if (!catalog) throw new CliError(`catalog ${JSON.stringify(catalogId)} does not exist`, 1);
  try {
    return { catalog, destinations: configuredDestinations(catalog.publish, catalog.publishProblem, kinds) };
  } catch (err) {
    if (err instanceof CatalogSettingsError) throw new CliError(`catalog ${JSON.stringify(catalogId)}: ${err.message}`, 1);
    throw err;
  }
}

/** The (SKU, destination) pairs with something to send, and the assets behind them. */
export async function publishPlan(
  db: Kysely<Database>,
  q: { catalogId: string; destinations: Array<{ name: string; slots?: Record<string, string | false> }>; skus?: string[]; slots?: string[] },
): Promise<UnpublishedAsset[]> {
  const rows = await unpublishedCurrentAssets(db, { catalogId: q.catalogId, destinations: q.destinations.map((d) => d.name), skus: q.skus, slots: q.slots });
  return rows.filter((r) => q.destinations.find((d) => d.name === r.destination)?.slots?.[r.slot] !== false);
}

/**
 * After `assets rollback`: a publish run of the slot to the catalog's enabled destinations, so they
 * show the chosen version again. Temporal down: the rollback stands, and the note says how to publish.
 */
export async function publishRollback(
  db: Kysely<Database>,
  config: Config,
  r: { catalogId: string; sku: string; slot: string; from: number; to: number },
): Promise<{ destinations: string[]; workflowId?: string; note?: string }> {
  const catalog = await readCatalogPlan(db, r.catalogId);
  const destinations = (catalog?.publish?.destinations ?? []).filter((d) => d.enabled && d.slots?.[r.slot] !== false).map((d) => d.name);
  if (destinations.length === 0) return { destinations };
  try {
    const { client, connection } = await connectClient(config);
    try {
      const runKey = `rollback-${r.sku}-${r.slot}-v${r.from}-v${r.to}-${Date.now().toString(36)}`;
      const [run] = await startPublishRuns(client, config.temporal.taskQueuePrefix, { catalogId: r.catalogId, skus: [r.sku], slots: [r.slot], destinations, requestedBy: 'rollback' }, runKey);
      return { destinations, workflowId: run!.workflowId };
    } finally {
      await connection.close();
    }
  } catch (err) {
    return { destinations, note: `not published yet (${err instanceof Error ? err.message : String(err)}): run catalog-assets publish --catalog ${r.catalogId} --sku ${r.sku}` };
  }
}

export async function runPublish(f: { catalog: string; sku?: string[]; destination?: string[]; dryRun: boolean; wait: boolean; json: boolean }): Promise<void> {
  await withDatabase(async (db) => {
    const { destinations } = await destinationsOf(db, f.catalog);
    const unknown = (f.destination ?? []).filter((n) => !destinations.some((d) => d.settings.name === n));
    if (unknown.length > 0) throw new CliError(`catalog ${f.catalog} has no destination ${unknown.map((n) => JSON.stringify(n)).join(', ')}`, 1);
    const chosen = destinations.filter((d) => d.settings.enabled && (!f.destination || f.destination.includes(d.settings.name)));
    const plan = await publishPlan(db, { catalogId: f.catalog, destinations: chosen.map((d) => d.settings), skus: f.sku });
    const skus = [...new Set(plan.map((p) => p.sku))];
    const names = [...new Set(plan.map((p) => p.destination))];
    if (f.dryRun || plan.length === 0) {
      const out = { catalogId: f.catalog, dryRun: f.dryRun, wouldSend: plan };
      if (f.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else if (plan.length === 0) process.stdout.write(`nothing to publish: every destination of ${cell(f.catalog)} shows the current assets\n`);
      else {
        const c = palette();
        process.stdout.write(`${c.bold(`${plan.length} publication(s) would be sent`)} (${skus.length} SKU(s), ${names.join(', ')})\n`);
        process.stdout.write(
          `${table(plan.map((p) => [cell(p.sku, 40), p.slot, `v${p.version}`, p.destination, p.status ?? 'new', p.shownVersion !== null && p.shownVersion !== p.version ? `shows v${p.shownVersion}` : '']))}\n`,
        );
      }
      return;
    }
    const config = configOrExit();
    const { client, connection } = await connectClient(config);
    try {
      const runKey = `cli-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${Math.random().toString(36).slice(2, 8)}`;
      const runs = await startPublishRuns(client, config.temporal.taskQueuePrefix, { catalogId: f.catalog, skus, destinations: names, requestedBy: `cli:${process.env.USER ?? 'operator'}` }, runKey);
      if (!f.wait) {
        process.stdout.write(f.json ? `${JSON.stringify({ catalogId: f.catalog, runs })}\n` : `started ${runs.map((r) => r.workflowId).join(', ')}\n`);
        return;
      }
      const results = await Promise.all(runs.map((r) => publishRunResult(client, r.workflowId)));
      const all = results.flatMap((r) => r.results);
      const errors = results.flatMap((r) => r.errors);
      const failed = all.flatMap((r) => r.failed.map((x) => ({ sku: r.sku, destination: r.destination, ...x })));
      const summary = {
        catalogId: f.catalog,
        published: all.reduce((n, r) => n + r.published.length, 0),
        unchanged: all.reduce((n, r) => n + r.unchanged, 0),
        skipped: all.reduce((n, r) => n + r.skipped.length, 0),
        failed,
        errors,
      };
      if (f.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        process.stdout.write(`published ${summary.published}, unchanged ${summary.unchanged}, skipped ${summary.skipped}, failed ${failed.length + errors.length}\n`);
        for (const x of failed) process.stdout.write(`  ${cell(x.sku, 40)} ${x.slot} -> ${x.destination}: ${x.errorType}: ${cell(x.message, 200)}\n`);
        for (const x of errors) process.stdout.write(`  ${cell(x.sku, 40)} -> ${x.destination}: ${x.errorType}: ${cell(x.message, 200)}\n`);
      }
      if (failed.length + errors.length > 0) throw new CliError(`${failed.length + errors.length} publication(s) failed`, 1);
    } finally {
      await connection.close();
    }
  });
}

export async function listDestinations(f: { catalog?: string; json: boolean }): Promise<void> {
  const kinds = DESTINATION_KINDS.map((k) => k.kind);
  if (!f.catalog) {
    process.stdout.write(f.json ? `${JSON.stringify({ kinds })}\n` : `destination kinds: ${kinds.join(', ') || 'none in this build'}\n`);
    return;
  }
  const catalogId = f.catalog;
  await withDatabase(async (db) => {
    const { destinations: list } = await destinationsOf(db, catalogId);
    const rows = list.map((d) => ({ name: d.settings.name, kind: d.settings.kind, enabled: d.settings.enabled, profile: d.settings.profile ?? null, slots: d.settings.slots ?? {} }));
    if (f.json) process.stdout.write(`${JSON.stringify({ kinds, catalogId, destinations: rows })}\n`);
    else if (rows.length === 0) process.stdout.write(`catalog ${cell(catalogId)} publishes nowhere (no destinations in its settings)\n`);
    else
      process.stdout.write(
        `${table(rows.map((r) => [r.name, r.kind, r.enabled ? 'enabled' : 'disabled', r.profile ? `profile ${r.profile}` : '', Object.entries(r.slots).map(([s, v]) => `${s}=${String(v)}`).join(' ')]))}\n`,
      );
  });
}

export async function testDestinations(f: { catalog: string; json: boolean }): Promise<void> {
  await withDatabase(async (db) => {
    const { destinations: list } = await destinationsOf(db, f.catalog);
    const results = await Promise.all(
      list.map(async (d) => {
        try {
          const r = await d.kind.create(d.kindSettings, { env: process.env }).test(AbortSignal.timeout(30_000));
          return { name: d.settings.name, kind: d.settings.kind, ok: true, detail: r.detail };
        } catch (err) {
          return { name: d.settings.name, kind: d.settings.kind, ok: false, detail: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
    const c = palette();
    if (f.json) process.stdout.write(`${JSON.stringify({ catalogId: f.catalog, results })}\n`);
    else if (results.length === 0) process.stdout.write(`catalog ${cell(f.catalog)} publishes nowhere (no destinations in its settings)\n`);
    else process.stdout.write(`${table(results.map((r) => [r.name, r.kind, r.ok ? c.green('ok') : c.red('failed'), cell(r.detail, 200)]))}\n`);
    if (results.some((r) => !r.ok)) throw new CliError(`${results.filter((r) => !r.ok).length} destination(s) did not answer`, 1);
  });
}
