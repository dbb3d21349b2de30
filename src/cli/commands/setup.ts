/** `catalog-assets setup`: registers the custom search attributes on the configured namespace. */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('setup')
    .description('Register the search attributes operators filter by (CatalogId, Sku, AssetSlots, RefreshTrigger, AssetOutcome, PublishOutcome). Safe to run again.')
    .option('--json', 'print the result as JSON', false)
    .addHelpText('after', '\nExample:\n  $ TEMPORAL_ADDRESS=temporal.internal:7233 TEMPORAL_NAMESPACE=catalog catalog-assets setup')
    .action(async (flags) => (await import('./setup.run')).setup(flags));
}
