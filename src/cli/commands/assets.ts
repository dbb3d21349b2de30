/**
 * `catalog-assets assets show|rollback|release`: a SKU's asset versions per slot, rolling a slot back to
 * the previous version (held there until the slot's inputs change), and releasing a slot from a
 * rollback or a declined review. Postgres only (DATABASE_URL).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { releaseSlot, RollbackError, rollbackSlot } from '../../db/repositories/assets';
import { skuAssets, skuStatus, type SkuAssets } from '../../db/repositories/summaries';
import { CliError, configOrExit } from '../context';
import { publishRollback } from './publish';
import { cell, palette, table, withDatabase } from './status';

function slotName(value: string): string {
  if (!/^[a-z][a-z0-9_-]{0,31}$/.test(value)) throw new InvalidArgumentError('a lowercase slot name such as hero, label or lifestyle');
  return value;
}

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

export function registerAssetsCommand(program: Command): void {
  const assets = program
    .command('assets')
    .description("Show, roll back or release a SKU's generated assets.")
    .addHelpText(
      'after',
      `
Examples:
  $ catalog-assets assets show --catalog acme --sku NC-001
  $ catalog-assets assets rollback --catalog acme --sku NC-001 --slot label
  $ catalog-assets assets release --catalog acme --sku NC-001 --slot label`,
    );
  const catalog = () => new Option('--catalog <id>', 'catalog id').makeOptionMandatory();
  const sku = () => new Option('--sku <sku>', 'the SKU').makeOptionMandatory();

  assets
    .command('show')
    .description("Each slot's versions, newest first, with status (current marked *), fingerprint and variant count.")
    .addOption(catalog())
    .addOption(sku())
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 unknown catalog or SKU, 2 bad usage, 3 DATABASE_URL missing.
Examples:
  $ catalog-assets assets show --catalog acme --sku NC-001
  $ catalog-assets assets show --catalog acme --sku NC-001 --json | jq '.slots[] | {slot, currentVersion}'`,
    )
    .action(async (f: { catalog: string; sku: string; json: boolean }) => {
      await withDatabase(async (db) => {
        const a = await skuAssets(db, f.catalog, f.sku);
        process.stdout.write(f.json ? `${JSON.stringify(a)}\n` : `${showText(a)}\n`);
      });
    });

  assets
    .command('rollback')
    .description(
      "Point a SKU's slot back at its previous version. The version rolled away from is kept (superseded). The slot stays on the " +
        'chosen version (refreshes, `stale`, `all` and PIM triggers leave it) until its inputs change or it is released.',
    )
    .addOption(catalog())
    .addOption(sku())
    .requiredOption('--slot <slot>', 'the slot, e.g. hero, label, lifestyle', slotName)
    .option('--by <name>', 'who rolls back (recorded)', process.env.USER ?? 'operator')
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .addHelpText(
      'after',
      `
Exit codes: 0 rolled back, 1 nothing to roll back to (or unknown catalog/SKU), 2 bad usage, 3 DATABASE_URL missing.
Examples:
  $ catalog-assets assets rollback --catalog acme --sku NC-001 --slot label
  $ catalog-assets assets rollback --catalog acme --sku NC-001 --slot hero --json`,
    )
    .action(async (f: { catalog: string; sku: string; slot: string; by: string; json: boolean }) => {
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
    });

  assets
    .command('release')
    .description(
      "Let go of a slot: a rollback no longer holds it, and fingerprints a review declined may be bought again. Nothing is " +
        'generated now; the next trigger or refresh of the SKU decides by fingerprint as usual.',
    )
    .addOption(catalog())
    .addOption(sku())
    .requiredOption('--slot <slot>', 'the slot, e.g. hero, label, lifestyle', slotName)
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .addHelpText(
      'after',
      `
Exit codes: 0 released (or nothing held it), 1 unknown catalog or SKU, 2 bad usage, 3 DATABASE_URL missing.
Examples:
  $ catalog-assets assets release --catalog acme --sku NC-001 --slot hero
  $ catalog-assets refresh --catalog acme --select NC-001 --wait      # then regenerate it`,
    )
    .action(async (f: { catalog: string; sku: string; slot: string; json: boolean }) => {
      await withDatabase(async (db) => {
        await skuStatus(db, f.catalog, f.sku);
        const r = await releaseSlot(db, f.catalog, f.sku, f.slot);
        const result = { catalogId: f.catalog, sku: f.sku, slot: f.slot, pinReleased: r.pin, declinedReleased: r.declined };
        const what = [r.pin ? 'its rollback' : '', r.declined ? `${r.declined} declined fingerprint(s)` : ''].filter(Boolean).join(' and ');
        process.stdout.write(f.json ? `${JSON.stringify(result)}\n` : `${cell(f.sku)} ${f.slot}: ${what ? `released ${what}` : 'nothing held it'}\n`);
      });
    });
}
