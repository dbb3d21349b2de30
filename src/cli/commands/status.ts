/**
 * `catalog-assets status`: a catalog at a glance, or one SKU's slots. Reads Postgres only (DATABASE_URL).
 */
import type { Command } from 'commander';
import { positiveInt } from '../arguments';

export function register(program: Command): void {
  program
    .command('status')
    .description("A catalog at a glance (products, complete SKUs, failures, spend, recent refreshes), or one SKU's slots.")
    .requiredOption('--catalog <id>', 'catalog id')
    .option('--sku <sku>', "show this SKU's slots instead of the catalog summary")
    .option('--top <n>', 'how many recent failures to list', positiveInt, 10)
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .option('--channel <profile>', "the catalog's live assets checked against this channel profile (e.g. amazon-main)")
    .option('--failing', 'with --channel: only the assets that fail it, with the failed rules and their figures', false)
    .addHelpText(
      'after',
      `
Needs only DATABASE_URL. Exit codes: 0 ok, 1 unknown catalog or SKU (or a database error), 2 bad usage, 3 configuration missing.
Examples:
  $ catalog-assets status --catalog acme
  $ catalog-assets status --catalog acme --top 50 --json | jq '.failures.recent'
  $ catalog-assets status --catalog acme --sku NC-001
  $ catalog-assets status --catalog acme --channel amazon-main --failing`,
    )
    .action(async (f) => (await import('./status.run')).showStatus(f));
}
