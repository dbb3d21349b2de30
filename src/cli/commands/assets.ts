/**
 * `catalog-assets assets show|rollback|release`: a SKU's asset versions per slot, rolling a slot back to
 * the previous version (held there until the slot's inputs change), and releasing a slot from a
 * rollback or a declined review. Postgres only (DATABASE_URL).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';

function slotName(value: string): string {
  if (!/^[a-z][a-z0-9_-]{0,31}$/.test(value)) throw new InvalidArgumentError('a lowercase slot name such as hero, label or lifestyle');
  return value;
}

export function register(program: Command): void {
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
    .action(async (f) => (await import('./assets.run')).show(f));

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
    .action(async (f) => (await import('./assets.run')).rollback(f));

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
    .action(async (f) => (await import('./assets.run')).release(f));
}
