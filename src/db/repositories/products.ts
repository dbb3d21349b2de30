import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, ProductStatus } from '../schema';

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
