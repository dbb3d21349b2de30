/** Opens DATABASE_URL for one command's implementation; exit 3 when it is not configured. */
import type { Kysely } from 'kysely';
import { createDb } from '../db/connect';
import { NotFoundError } from '../db/repositories/summaries';
import type { Database } from '../db/schema';
import { CliError, configOrExit } from './context';

export async function withDatabase<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const config = configOrExit();
  if (!config.databaseUrl) throw new CliError('DATABASE_URL is not set: say which Postgres holds the catalog (e.g. postgres://postgres@127.0.0.1:5432/catalog)', 3);
  const db = createDb(config.databaseUrl, { poolSize: 4, applicationName: 'catalog-assets-cli' });
  try {
    return await fn(db);
  } catch (err) {
    if (err instanceof NotFoundError) throw new CliError(err.message, 1);
    throw err;
  } finally {
    await db.destroy();
  }
}
