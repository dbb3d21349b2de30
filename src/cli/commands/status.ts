/**
 * `catalog-assets status`: a catalog at a glance, or one SKU's slots. Reads Postgres only (DATABASE_URL).
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { Kysely } from 'kysely';
import { createDb } from '../../db/connect';
import type { Database } from '../../db/schema';
import { catalogSummary, NotFoundError, skuStatus, type CatalogSummary, type SkuStatus } from '../../db/repositories/summaries';
import { CliError, configOrExit } from '../context';
import { readCatalogPlan } from '../../db/repositories/catalogs';
import { destinationSummary } from '../../db/repositories/publications';

/** Opens DATABASE_URL for one command; exit 3 when it is not configured. */
export async function withDatabase<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const config = configOrExit();
  if (!config.databaseUrl) throw new CliError('DATABASE_URL is not set: say which Postgres holds the catalog (e.g. postgres://postgres@127.0.0.1:5432/catalog)', 3);
  const db = createDb(config.databaseUrl, { poolSize: 4, applicationName: 'catalog-assets-cli' });
  try {
    return await fn(db);
  } catch (err) {
    if (err instanceof NotFoundError) throw new CliError(err.message, 1);
    throw err;
  } finally {
    await db.destroy();
  }
}

/** ANSI colour only when stdout is a terminal and NO_COLOR is unset. */
export function palette(stream: NodeJS.WriteStream = process.stdout) {
  const on = stream.isTTY === true && !process.env.NO_COLOR;
  const wrap = (open: number, close: number) => (s: string) => (on ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return { red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

export function positiveInt(value: string): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return Number(value);
}

/** Cuts a value for a one-line table cell; control characters from the database never reach the terminal. */
export function cell(value: string | null | undefined, max = 80): string {
  const s = String(value ?? '').replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function table(rows: string[][], indent = '  '): string {
  const visible = (s: string) => s.replace(/\u001b\[\d+m/g, '').length;
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(c))));
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - visible(c)))).join('  ').trimEnd()).join('\n');
}

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

function catalogText(s: CatalogSummary): string {
  const c = palette();
  const lines: string[] = [];
  lines.push(`${c.bold(`catalog ${cell(s.catalog.id)}`)} (${cell(s.catalog.name)}) · slots: ${s.slots.join(', ') || '-'}`);
  lines.push(`products   ${s.products.active} active, ${s.products.removed} removed`);
  const complete = `${s.skus.allSlotsCurrent} with all slots current`;
  lines.push(
    `SKUs       ${s.skus.allSlotsCurrent === s.products.active ? c.green(complete) : complete}, ` +
      `${s.skus.withFailures ? c.red(`${s.skus.withFailures} with failed slots`) : '0 with failed slots'}, ${s.skus.changedSinceGenerated} changed since generated`,
  );
  const byStatus = Object.entries(s.ledger.byStatus).map(([k, v]) => `${v} ${k}`).join(', ');
  lines.push(`ledger     ${s.ledger.jobs} jobs${byStatus ? ` (${byStatus})` : ''}, ${s.ledger.imagesBilled} images billed, $${s.ledger.costUsd.toFixed(2)}`);
  const m = s.money;
  const usd = (cents: number) => `$${(cents / 100).toFixed(2)}`;
  const unusable = m.unusable.map((u) => `${u.images} ${u.reason}`).join(', ');
  lines.push(
    `money      billed ${m.billedImages} images ${usd(m.billedCents)}: kept ${m.keptImages} (${usd(m.keptCents)}), ` +
      `delivered not yet kept ${m.deliveredImages}, ` +
      (m.unusable.length ? c.yellow(`paid but unusable ${m.unusable.reduce((t, u) => t + u.images, 0)} (${unusable})`) : 'paid but unusable 0') +
      `, ${m.ambiguousSteps ? c.red(`ambiguous ${m.ambiguousSteps} steps (up to ${m.ambiguousImagesAtRisk} images)`) : 'ambiguous 0'}` +
      (m.providerReportedUsd !== null ? `; the provider reported $${m.providerReportedUsd.toFixed(2)}` : ''),
  );
  if (s.ambiguous.length > 0) {
    lines.push(c.red('ambiguous  sent, maybe billed, not sent again: resolve with `catalog-assets ledger resolve --key <key> --job-id <id> | --resubmit | --not-billed`'));
    lines.push(table(s.ambiguous.map((a) => [cell(a.sku, 40), cell(a.slot), cell(a.idempotencyKey, 70), cell(a.message, 80), c.dim(when(a.at))])));
  }
  if (s.failures.total === 0) lines.push(`failures   ${c.green('none')}`);
  else {
    lines.push(`failures   ${c.red(`${s.failures.total} failed slots`)}: ${s.failures.byType.map((t) => `${cell(t.errorType, 40)} ${t.count}`).join(', ')}`);
    lines.push(table(s.failures.recent.map((f) => [cell(f.sku, 40), cell(f.slot), c.red(cell(f.errorType ?? 'failed', 30)), cell(f.message, 90), c.dim(when(f.at))])));
    if (s.failures.total > s.failures.recent.length) lines.push(c.dim(`  ... and ${s.failures.total - s.failures.recent.length} more (--top <n> to see more)`));
  }
  if (s.refreshRuns.length === 0) lines.push('refreshes  none recorded');
  else {
    lines.push('refreshes');
    lines.push(
      table(
        s.refreshRuns.map((r) => [
          c.dim(when(r.startedAt)),
          cell(r.trigger),
          r.status === 'failed' ? c.red(cell(r.status)) : cell(r.status),
          r.dryRun ? 'dry run' : `$${r.costUsd.toFixed(2)}`,
          Object.entries(r.counts ?? {}).filter(([k]) => ['planned', 'generated', 'skipped', 'failed'].includes(k)).map(([k, v]) => `${v} ${k}`).join(', '),
          c.dim(cell(r.workflowId, 60)),
        ]),
      ),
    );
  }
  return lines.join('\n');
}

function skuText(s: SkuStatus): string {
  const c = palette();
  const head = `${c.bold(`SKU ${cell(s.sku)}`)} (${cell(s.name)}) in catalog ${cell(s.catalogId)} · ${s.status}, ${s.upToDate ? c.green('assets up to date') : c.yellow('data changed since last generated')}`;
  const rows = [['slot', 'current', 'fingerprint', 'variants', 'versions', 'last attempt'].map(c.dim)];
  for (const slot of s.slots) {
    const t = slot.lastAttempt;
    const attempt = !t
      ? c.dim('never attempted')
      : t.outcome === 'failed'
        ? c.red(`failed ${cell(t.errorType ?? '', 30)}: ${cell(t.errorMessage, 90)}`) + c.dim(` ${when(t.at)}`)
        : `${t.outcome} ${c.dim(when(t.at))}`;
    rows.push([
      slot.slot,
      slot.current ? `v${slot.current.version}` : c.yellow('none'),
      slot.current ? slot.current.fingerprint.slice(0, 12) : '-',
      slot.current ? String(slot.current.variants) : '-',
      String(slot.versions),
      attempt,
    ]);
  }
  return `${head}\n${table(rows)}`;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description("A catalog at a glance (products, complete SKUs, failures, spend, recent refreshes), or one SKU's slots.")
    .requiredOption('--catalog <id>', 'catalog id')
    .option('--sku <sku>', "show this SKU's slots instead of the catalog summary")
    .option('--top <n>', 'how many recent failures to list', positiveInt, 10)
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .addHelpText(
      'after',
      `
Needs only DATABASE_URL. Exit codes: 0 ok, 1 unknown catalog or SKU (or a database error), 2 bad usage, 3 configuration missing.
Examples:
  $ catalog-assets status --catalog acme
  $ catalog-assets status --catalog acme --top 50 --json | jq '.failures.recent'
  $ catalog-assets status --catalog acme --sku NC-001`,
    )
    .action(async (f: { catalog: string; sku?: string; top: number; json: boolean }) => {
      await withDatabase(async (db) => {
        if (f.sku !== undefined) {
          const s = await skuStatus(db, f.catalog, f.sku);
          process.stdout.write(f.json ? `${JSON.stringify(s)}\n` : `${skuText(s)}\n`);
          return;
        }
        const s = await catalogSummary(db, f.catalog, { top: f.top });
        if (!s) throw new CliError(`no catalog ${JSON.stringify(f.catalog)}`, 1);
        const names = ((await readCatalogPlan(db, f.catalog))?.publish?.destinations ?? []).map((d) => d.name);
        const destinations = await destinationSummary(db, f.catalog, names);
        const text = destinations.length
          ? `\nDestinations (current assets)\n${table(destinations.map((d) => [d.destination, `${d.published} published`, `${d.pending} pending`, `${d.failed} failed`, `${d.skipped} skipped`, `${d.notSent} not sent`]))}`
          : '';
        process.stdout.write(f.json ? `${JSON.stringify({ ...s, destinations })}\n` : `${catalogText(s)}${text}\n`);
      });
    });
}
