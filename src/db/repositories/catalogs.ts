import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface CatalogSettings {
  sceneReferences?: string[];
  styleReferences?: string[];
  maxAgeDays?: number;
  [key: string]: unknown;
}

export async function upsertCatalog(db: Db, input: { id: string; name?: string; plan?: unknown; settings?: CatalogSettings }): Promise<void> {
  await db
    .insertInto('catalogs')
    .values({
      id: input.id,
      name: input.name ?? input.id,
      plan: input.plan === undefined ? null : JSON.stringify(input.plan),
      settings: JSON.stringify(input.settings ?? {}),
      updated_at: sql<Date>`now()`,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        name: input.name === undefined ? eb.ref('catalogs.name') : eb.ref('excluded.name'),
        plan: input.plan === undefined ? eb.ref('catalogs.plan') : eb.ref('excluded.plan'),
        settings: input.settings === undefined ? eb.ref('catalogs.settings') : eb.ref('excluded.settings'),
        updated_at: sql<Date>`now()`,
      })),
    )
    .execute();
}

export async function getCatalog(db: Db, id: string) {
  return db.selectFrom('catalogs').select(['id', 'name', 'plan', 'settings', 'created_at', 'updated_at']).where('id', '=', id).executeTakeFirst();
}
