/** `catalog-assets migrate`: applies the database migrations (safe to run from several processes). */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('migrate')
    .description('Apply the database migrations in migrations/ to DATABASE_URL.')
    .option('--json', 'print the result as JSON', false)
    .addHelpText('after', '\nExample:\n  $ DATABASE_URL=postgres://postgres@127.0.0.1:5432/catalog catalog-assets migrate')
    .action(async (flags) => (await import('./migrate.run')).migrate(flags));
}
