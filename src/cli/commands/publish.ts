/**
 * `catalog-assets publish` and `catalog-assets destinations list|test`: sending current assets to a
 * catalog's destinations outside a product plan (a new destination, failures to send again), and
 * checking the destinations' settings and credentials. The implementation is publish.run.ts.
 */
import { type Command, Option } from 'commander';

export function register(program: Command): void {
  program
    .command('publish')
    .description(
      "Send a catalog's current assets to its destinations where they are not shown yet (never sent, failed, skipped by the gate, " +
        'or rolled back since). What a destination already shows is not sent again.',
    )
    .addOption(new Option('--catalog <id>', 'catalog id').makeOptionMandatory())
    .option('--sku <sku...>', 'only these SKUs')
    .option('--destination <name...>', 'only these destinations (names from the catalog settings)')
    .option('--dry-run', 'list what would be sent, send nothing', false)
    .option('--no-wait', 'start the publish runs and return')
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 unknown catalog or destination, bad settings, or a publication failed; 2 bad usage; 3 DATABASE_URL missing.
Examples:
  $ catalog-assets publish --catalog acme --dry-run
  $ catalog-assets publish --catalog acme --sku NC-001 --destination shop-eu`,
    )
    .action(async (f: { catalog: string; sku?: string[]; destination?: string[]; dryRun: boolean; wait: boolean; json: boolean }) => (await import('./publish.run')).runPublish(f));

  const destinations = program.command('destinations').description("A catalog's destinations: list them, or check their settings and credentials.");
  destinations
    .command('list')
    .description('Every destination kind this build knows and, with --catalog, the catalog\'s destinations.')
    .option('--catalog <id>', 'catalog id')
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .action(async (f: { catalog?: string; json: boolean }) => (await import('./publish.run')).listDestinations(f));
  destinations
    .command('test')
    .description("Checks each destination's settings, and its credentials with a harmless call.")
    .addOption(new Option('--catalog <id>', 'catalog id').makeOptionMandatory())
    .option('--json', 'print machine-readable JSON (one object) instead of text', false)
    .addHelpText('after', '\nExit codes: 0 every destination answered, 1 one did not (or bad settings), 3 DATABASE_URL missing.')
    .action(async (f: { catalog: string; json: boolean }) => (await import('./publish.run')).testDestinations(f));
}

