/** What `catalog-assets migrate` does, loaded when it runs. */
import { createDb } from '../../db/connect';
import { migrateToLatest } from '../../db/migrate';
import { CliError, configOrExit } from '../context';

export async function migrate(flags: { json: boolean }): Promise<void> {
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
}
