/**
 * Runs the migrations in `migrations/` with kysely's Migrator. Safe from several processes at once:
 * the Migrator takes a Postgres advisory lock around the run.
 */
import type { Kysely } from 'kysely';
// kysely 0.29 serves the migrator from its own entry point.
import { Migrator, type MigrationResultSet } from 'kysely/migration';
import { migrations } from '../../migrations/index';

export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const result = await createMigrator(db).migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    const cause = result.error instanceof Error ? result.error.message : JSON.stringify(result.error);
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${cause}`, { cause: result.error });
  }
  return result;
}
