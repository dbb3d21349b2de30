/** What `catalog-assets assets show|rollback|release` does, loaded when it runs. */
import { releaseSlot, RollbackError, rollbackSlot } from '../../db/repositories/assets';
import { skuAssets, skuStatus, type SkuAssets } from '../../db/repositories/summaries';
import { withDatabase } from '../database';
import { CliError, configOrExit } from '../context';
import { publishRollback } from './publish.run';
import { cell, palette, table } from '../views';

function showText(a: SkuAssets): string {
  const c = palette();
  const lines = [c.bold(`SKU ${cell(a.sku)} in catalog ${cell(a.catalogId)}`)];
  for (const slot of a.slots) {
    lines.push(`${c.bold(slot.slot)} ${slot.currentVersion === null ? c.yellow('(no current version)') : `(current v${slot.currentVersion})`}`);
    if (slot.versions.length === 0) {
      lines.push(c.dim('  no versions'));
      continue;
    }
    lines.push(
      table(
        slot.versions.map((v) => [
          v.current ? c.green('*') : ' ',
          `v${v.version}`,
          v.current ? c.green(v.status) : v.status === 'rejected' ? c.red(v.status) : v.status,
          v.fingerprint.slice(0, 12),
          `${v.variants} variants`,
          `$${v.costUsd.toFixed(2)}`,
          c.dim(v.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')),
        ]),
      ),
    );
  }
  return lines.join('\n');
}

export async function show(f: { catalog: string; sku: string; json: boolean }): Promise<void> {
  await withDatabase(async (db) => {
    const a = await skuAssets(db, f.catalog, f.sku);
    process.stdout.write(f.json ? `${JSON.stringify(a)}\n` : `${showText(a)}\n`);
  });
}


export async function rollback(f: { catalog: string; sku: string; slot: string; by: string; json: boolean }): Promise<void> {
  await withDatabase(async (db) => {
    await skuStatus(db, f.catalog, f.sku); // unknown catalog or SKU: a clear message, exit 1
    let r: { from: number; to: number };
    try {
      r = await rollbackSlot(db, f.catalog, f.sku, f.slot, { actor: f.by });
    } catch (err) {
      if (err instanceof RollbackError) throw new CliError(`nothing to roll back: ${err.message}`, 1);
      throw err;
    }
    // The destinations show the chosen version again (a publish run; nothing generated).
    const publish = await publishRollback(db, configOrExit(), { catalogId: f.catalog, sku: f.sku, slot: f.slot, from: r.from, to: r.to });
    const result = { catalogId: f.catalog, sku: f.sku, slot: f.slot, from: r.from, to: r.to, ...(publish.destinations.length > 0 ? { publish } : {}) };
    process.stdout.write(
      f.json
        ? `${JSON.stringify(result)}\n`
        : `rolled back ${cell(f.sku)} ${f.slot}: v${r.from} -> v${r.to} (v${r.from} kept as superseded; held until its inputs change or \`assets release\`)\n` +
            (publish.workflowId ? `publishing v${r.to} to ${publish.destinations.join(', ')} (${publish.workflowId})\n` : publish.note ? `${publish.note}\n` : ''),
    );
  });
}


export async function release(f: { catalog: string; sku: string; slot: string; json: boolean }): Promise<void> {
  await withDatabase(async (db) => {
    await skuStatus(db, f.catalog, f.sku);
    const r = await releaseSlot(db, f.catalog, f.sku, f.slot);
    const result = { catalogId: f.catalog, sku: f.sku, slot: f.slot, pinReleased: r.pin, declinedReleased: r.declined };
    const what = [r.pin ? 'its rollback' : '', r.declined ? `${r.declined} declined fingerprint(s)` : ''].filter(Boolean).join(' and ');
    process.stdout.write(f.json ? `${JSON.stringify(result)}\n` : `${cell(f.sku)} ${f.slot}: ${what ? `released ${what}` : 'nothing held it'}\n`);
  });
}
