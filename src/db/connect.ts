import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema';

// int8 (bigint) stays a string: ids can exceed 2^53. COUNT(*) results are parsed where used.
export function createDb(connectionString: string, options: { poolSize?: number; applicationName?: string } = {}): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'catalog-assets',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // A dropped connection must not crash the process; the next query gets a fresh one.
  pool.on('error', () => undefined);
  // The pool listens for errors of idle clients only. A connection that dies while checked out (a
  // database crash or failover mid-query or mid-transaction) emits 'error' on its client as well as
  // failing its queries; unheard, that event would take the whole worker down. Its queries have
  // already failed with the error, and the pool discards the dead client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Whether Postgres answers (the health check). */
export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
