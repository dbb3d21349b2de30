/** What `catalog-assets status` does (loaded when it runs): the catalog summary or a SKU's slots, as text or JSON. */
import { catalogSummary, skuStatus, type CatalogSummary, type SkuStatus } from '../../db/repositories/summaries';
import { readCatalogPlan } from '../../db/repositories/catalogs';
import { destinationSummary } from '../../db/repositories/publications';
import { withDatabase } from '../database';
import { CliError } from '../errors';
import { cell, palette, table } from '../views';
import { channelStatus, channelText } from './statusChannels';

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
export async function showStatus(f: { catalog: string; sku?: string; top: number; json: boolean; channel?: string; failing?: boolean }): Promise<void> {
  if (f.failing && f.channel === undefined) throw new CliError('--failing needs --channel <profile>: say which channel profile', 2);
  await withDatabase(async (db) => {
    if (f.channel !== undefined) {
      const r = await channelStatus(db, { catalogId: f.catalog, profile: f.channel, failing: f.failing === true, sku: f.sku });
      process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : `${channelText(r, f.failing === true)}\n`);
      return;
    }
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
}
