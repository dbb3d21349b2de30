/** `catalog-assets migrate`: applies the database migrations (safe to run from several processes). */
import type { Command } from 'commander';
import { createDb } from '../../db/connect';
import { migrateToLatest } from '../../db/migrate';
import { CliError, configOrExit } from '../context';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('Apply the database migrations in migrations/ to DATABASE_URL.')
    .option('--json', 'print the result as JSON', false)
    .addHelpText('after', '\nExample:\n  $ DATABASE_URL=postgres://postgres@127.0.0.1:5432/catalog catalog-assets migrate')
    .action(async (flags: { json: boolean }) => {
      const config = configOrExit();
      if (!config.databaseUrl) throw new CliError('DATABASE_URL is not set: say which Postgres to migrate', 3);
      const db = createDb(config.databaseUrl, { poolSize: 2 });
      try {
        const result = await migrateToLatest(db);
        const applied = (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
        process.stdout.write(flags.json ? `${JSON.stringify({ applied })}\n` : applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
      } finally {
        await db.destroy();
      }
    });
}
