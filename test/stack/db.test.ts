import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createDb } from '../../src/db/connect';
import { migrateToLatest, createMigrator } from '../../src/db/migrate';
import { createEmptyDatabase, databaseUrl, dropDatabase } from '../helpers/pg';

describe('migrations against a real Postgres', () => {
  const created: string[] = [];
  afterAll(async () => {
    for (const name of created) await dropDatabase(name, inject('pgAdminUrl'));
  });

  it('migrate a fresh database, from several connections at once, and roll back down', async () => {
    const name = await createEmptyDatabase(inject('pgAdminUrl'));
    created.push(name);
    const dbs = [0, 1, 2].map(() => createDb(databaseUrl(name, inject('pgAdminUrl')), { poolSize: 2 }));
    try {
      // Three processes starting at once must not race: the Migrator holds an advisory lock.
      const results = await Promise.all(dbs.map((db) => migrateToLatest(db)));
      const applied = results.flatMap((r) => r.results ?? []).filter((r) => r.status === 'Success');
      expect(applied.map((r) => r.migrationName)).toContain('20261124T1900_initial');
      expect(new Set(applied.map((r) => r.migrationName)).size).toBe(applied.length);

      const db = dbs[0]!;
      const tables = await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = 'public'`.execute(db);
      expect(tables.rows.map((r) => r.tablename)).toEqual(
        expect.arrayContaining(['catalogs', 'products', 'generation_jobs', 'assets', 'asset_variants', 'current_assets', 'slot_attempts']),
      );

      const migrator = createMigrator(db);
      const migrations = await migrator.getMigrations();
      let down = await migrator.migrateDown();
      while (!down.error && (down.results?.length ?? 0) > 0) down = await migrator.migrateDown();
      expect(down.error).toBeUndefined();
      const after = await sql<{ n: string }>`select count(*)::text as n from pg_tables where schemaname = 'public' and tablename = 'products'`.execute(db);
      expect(after.rows[0]?.n).toBe('0');
      expect(migrations.length).toBeGreaterThan(0);
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
    }
  });
});

describe('the migration index', () => {
  it('lists every migration file in migrations/', async () => {
    const { readdir } = await import('node:fs/promises');
    const { migrations } = await import('../../migrations/index');
    const files = (await readdir(new URL('../../migrations/', import.meta.url)))
      .filter((f) => /^\d{8}T\d{4}_.+\.ts$/.test(f))
      .map((f) => f.replace(/\.ts$/, ''));
    expect(Object.keys(migrations).sort()).toEqual(files.sort());
  });
});
