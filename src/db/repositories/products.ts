import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, ProductStatus } from '../schema';
import { restoreRetiredAssets } from './pimChanges';

type Db = Kysely<Database> | Transaction<Database>;

export interface ProductUpsert {
  catalogId: string;
  sku: string;
  name: string;
  attributes: Record<string, unknown>;
  attributesFingerprint: string;
  source: string;
  pimUpdatedAt?: Date | null;
  status?: ProductStatus;
}

/** Upserts on (catalog_id, sku): importing the same product twice changes nothing the second time. */
export async function upsertProducts(db: Db, products: ProductUpsert[]): Promise<void> {
  if (products.length === 0) return;
  await db
    .insertInto('products')
    .values(
      products.map((p) => ({
        catalog_id: p.catalogId,
        sku: p.sku,
        name: p.name,
        attributes: JSON.stringify(p.attributes),
        attributes_fingerprint: p.attributesFingerprint,
        source: p.source,
        pim_updated_at: p.pimUpdatedAt ?? null,
        status: p.status ?? 'active',
        updated_at: sql<Date>`now()`,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['catalog_id', 'sku']).doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'),
        attributes: eb.ref('excluded.attributes'),
        attributes_fingerprint: eb.ref('excluded.attributes_fingerprint'),
        source: eb.ref('excluded.source'),
        pim_updated_at: eb.ref('excluded.pim_updated_at'),
        status: eb.ref('excluded.status'),
        updated_at: sql<Date>`now()`,
      })),
    )
    .execute();
}

export async function getProduct(db: Db, catalogId: string, sku: string) {
  return db
    .selectFrom('products')
    .select(['catalog_id', 'sku', 'name', 'attributes', 'attributes_fingerprint', 'status', 'source', 'pim_updated_at', 'updated_at'])
    .where('catalog_id', '=', catalogId)
    .where('sku', '=', sku)
    .executeTakeFirst();
}

/**
 * Whether the product is in the catalog and not removed: a paid step asks right before it pays, so a
 * `product.removed` that lands while a plan runs stops the next purchase.
 */
export async function isProductActive(db: Db, catalogId: string, sku: string): Promise<boolean> {
  const row = await db.selectFrom('products').select('status').where('catalog_id', '=', catalogId).where('sku', '=', sku).executeTakeFirst();
  return row?.status === 'active';
}

/** A product of an import file, checked and fingerprinted. */
export interface ImportBatchRow {
  sku: string;
  name: string;
  attributes: Record<string, unknown>;
  fingerprint: string;
}

/** One transaction: the batch's upsert (changed rows only) and the reactivation of returning products' assets. */
export async function writeImportBatch(db: Kysely<Database>, catalogId: string, rows: ImportBatchRow[], source: string): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    // The catalog is created with its first products (not before: a file that fails to open creates nothing).
    await trx
      .insertInto('catalogs')
      .values({ id: catalogId, name: catalogId, settings: '{}', updated_at: sql<Date>`now()` })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    // One statement for the whole batch: rows travel as arrays (unnest), so the statement stays small
    // and Postgres parses and plans it once whatever the batch size.
    const changed = await sql<{ sku: string }>`
      insert into products as p (catalog_id, sku, name, attributes, attributes_fingerprint, status, source, updated_at)
      select ${catalogId}, t.sku, t.name, t.attributes::jsonb, t.fingerprint, 'active', ${source}, now()
      from unnest(${rows.map((r) => r.sku)}::text[], ${rows.map((r) => r.name)}::text[], ${rows.map((r) => JSON.stringify(r.attributes))}::text[],
                  ${rows.map((r) => r.fingerprint)}::text[]) as t(sku, name, attributes, fingerprint)
      on conflict (catalog_id, sku) do update set
        name = excluded.name, attributes = excluded.attributes, attributes_fingerprint = excluded.attributes_fingerprint,
        status = excluded.status, source = excluded.source, updated_at = now()
      where p.attributes_fingerprint <> excluded.attributes_fingerprint or p.status <> 'active'
      returning p.sku`.execute(trx);
    const skus = changed.rows.map((c) => c.sku);
    await restoreRetiredAssets(trx, catalogId, skus);
    return skus;
  });
}

/** Each product's attributes fingerprint, by SKU. */
export async function productFingerprints(db: Db, catalogId: string): Promise<Map<string, string>> {
  const rows = await db.selectFrom('products').select(['sku', 'attributes_fingerprint']).where('catalog_id', '=', catalogId).execute();
  return new Map(rows.map((r) => [r.sku, r.attributes_fingerprint]));
}
