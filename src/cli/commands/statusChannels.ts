/** `status --channel <profile> [--failing]`: a catalog's live assets against one channel profile. */
import type { Kysely } from 'kysely';
import { channelReport, describeFailures, type ChannelReport } from '../../db/repositories/channelChecks';
import { readCatalogPlan } from '../../db/repositories/catalogs';
import type { Database } from '../../db/schema';
import { BUILTIN_CHANNELS, isBuiltinChannel } from '../../shared/channelProfiles';
import { CliError } from '../errors';
import { cell, palette, table } from '../views';

export async function channelStatus(
  db: Kysely<Database>,
  input: { catalogId: string; profile: string; failing: boolean; sku?: string | undefined },
): Promise<ChannelReport> {
  const catalog = await readCatalogPlan(db, input.catalogId);
  if (!catalog) throw new CliError(`no catalog ${JSON.stringify(input.catalogId)}`, 1);
  const custom = Object.keys(catalog.plan?.channelProfiles ?? {});
  if (!isBuiltinChannel(input.profile) && !custom.includes(input.profile)) {
    throw new CliError(
      `--channel: unknown channel profile ${JSON.stringify(input.profile)} for catalog ${JSON.stringify(input.catalogId)}; known: ${[...BUILTIN_CHANNELS, ...custom].join(', ')}`,
      2,
    );
  }
  return channelReport(db, { catalogId: input.catalogId, profile: input.profile, failing: input.failing, ...(input.sku ? { sku: input.sku } : {}) });
}

export function channelText(r: ChannelReport, failing: boolean): string {
  const c = palette();
  const n = r.counts;
  const lines = [
    `${c.bold(`catalog ${cell(r.catalogId)} · channel ${cell(r.profile)}`)}: ${n.checked} live assets checked, ` +
      `${c.green(`${n.passing} pass`)}, ${n.failing ? c.red(`${n.failing} fail`) : '0 fail'}, ${n.notChecked ? c.yellow(`${n.notChecked} not checked`) : '0 not checked'}`,
  ];
  if (r.checks.length === 0) {
    lines.push(failing ? c.green('  no live asset fails this profile') : '  no live asset is checked against this profile');
    return lines.join('\n');
  }
  const rows = [['sku', 'slot', 'version', 'check', 'size', 'edge min/mean', 'fill', failing ? 'failed rules' : 'failed rules / notes'].map(c.dim)];
  for (const k of r.checks) {
    const f = k.figures;
    rows.push([
      cell(k.sku, 40),
      cell(k.slot),
      `v${k.version}`,
      k.pass ? c.green('pass') : c.red('fail'),
      `${f.width}x${f.height} ${f.format}`,
      `${f.edgeMin}/${f.edgeMean}`,
      `${(f.fill * 100).toFixed(1)}%`,
      k.pass ? c.dim(cell(k.notes.join('; '), 120)) : cell(describeFailures(k), 200),
    ]);
  }
  lines.push(table(rows));
  return lines.join('\n');
}
