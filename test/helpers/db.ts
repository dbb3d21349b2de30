import type { Kysely } from 'kysely';
import { inject } from 'vitest';
import { createDb } from '../../src/db/connect';
import type { Database } from '../../src/db/schema';
import { createDatabaseFrom, databaseUrl, dropDatabase } from './pg';

export interface TestDatabase {
  db: Kysely<Database>;
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file. Call in beforeAll; call drop() in afterAll. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = inject('pgAdminUrl');
  const name = await createDatabaseFrom(inject('pgTemplate'), admin);
  const url = databaseUrl(name, admin);
  const db = createDb(url, { poolSize: 5, applicationName: 'catalog-assets-test' });
  return {
    db,
    url,
    name,
    async drop() {
      await db.destroy();
      await dropDatabase(name, admin);
    },
  };
}
