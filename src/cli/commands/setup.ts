/** `catalog-assets setup`: registers the custom search attributes on the configured namespace. */
import type { Command } from 'commander';
import { connectClient } from '../../temporal/client/connection';
import { registerSearchAttributes } from '../../temporal/client/setup';
import { configOrExit } from '../context';

export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description('Register the search attributes operators filter by (CatalogId, Sku, AssetSlots, RefreshTrigger, AssetOutcome, PublishOutcome). Safe to run again.')
    .option('--json', 'print the result as JSON', false)
    .addHelpText('after', '\nExample:\n  $ TEMPORAL_ADDRESS=temporal.internal:7233 TEMPORAL_NAMESPACE=catalog catalog-assets setup')
    .action(async (flags: { json: boolean }) => {
      const config = configOrExit();
      const { connection } = await connectClient(config);
      try {
        const result = await registerSearchAttributes(connection, config.temporal.namespace);
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(result)}\n`
            : `namespace ${config.temporal.namespace}: ${result.added.length ? `added ${result.added.join(', ')}` : 'nothing to add'}; already present: ${result.present.join(', ') || 'none'}\n`,
        );
      } finally {
        await connection.close();
      }
    });
}
