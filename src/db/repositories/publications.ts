/**
 * The ledger of publications: one row per (catalog, SKU, slot, asset version, destination). A
 * published row is never sent again, unless a rollback made its version current once more after the
 * destination was shown a newer one: then the row is reopened and sent again (`sends` counts it).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, PublicationStatus } from '../schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface PublicationKey {
  catalogId: string;
  sku: string;
  slot: string;
  version: number;
  destination: string;
}

export type PublicationAction =
  /** Never sent (or a retry of one that was not accepted yet). */
  | 'send'
  /** Sent before, and the destination has been shown another version since (a rollback). */
  | 'republish'
  /** The destination shows this version: nothing to do. */
  | 'done';

export interface OpenedPublication {
  id: string;
  action: PublicationAction;
  status: PublicationStatus;
  attempts: number;
  /** How many times this row was published before (a republish is send number `sends + 1`). */
  sends: number;
}

const destinationLock = (k: Pick<PublicationKey, 'catalogId' | 'sku' | 'slot' | 'destination'>) =>
  sql`select pg_advisory_xact_lock(hashtextextended(${JSON.stringify(['publication', k.catalogId, k.sku, k.slot, k.destination])}, 0))`;

/** The version a destination was last shown for a SKU's slot (undefined: never). */
async function shownVersion(db: Db, k: Pick<PublicationKey, 'catalogId' | 'sku' | 'slot' | 'destination'>): Promise<number | undefined> {
  const row = await db
    .selectFrom('publications')
    .select(['version'])
    .where('catalog_id', '=', k.catalogId)
    .where('sku', '=', k.sku)
    .where('slot', '=', k.slot)
    .where('destination', '=', k.destination)
    .where('sent_at', 'is not', null)
    .orderBy('sent_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
  return row?.version;
}

/**
 * Finds or creates the publication of one asset version at one destination and says what to do with
 * it. Idempotent: a retried activity finds its row. Failed and gate-skipped rows are opened again
 * (a fixed product, a changed profile); a published row only when a rollback asks for it.
 */
export async function openPublication(
  db: Kysely<Database>,
  k: PublicationKey & { assetId: string; kind: string; requestedBy: string; retryFailed?: boolean },
): Promise<OpenedPublication> {
  return db.transaction().execute(async (trx) => {
    await destinationLock(k).execute(trx);
    const existing = await trx
      .selectFrom('publications')
      .select(['id', 'status', 'attempts', 'sends'])
      .where('catalog_id', '=', k.catalogId)
      .where('sku', '=', k.sku)
      .where('slot', '=', k.slot)
      .where('version', '=', k.version)
      .where('destination', '=', k.destination)
      .executeTakeFirst();
    if (!existing) {
      const row = await trx
        .insertInto('publications')
        .values({
          catalog_id: k.catalogId,
          sku: k.sku,
          slot: k.slot,
          version: k.version,
          asset_id: k.assetId,
          destination: k.destination,
          destination_kind: k.kind,
          requested_by: k.requestedBy,
          updated_at: sql<Date>`now()`,
        })
        .returning(['id'])
        .executeTakeFirstOrThrow();
      return { id: row.id, action: 'send', status: 'pending', attempts: 0, sends: 0 };
    }
    const reopen = async (): Promise<void> => {
      await trx
        .updateTable('publications')
        .set({ status: 'pending', requested_by: k.requestedBy, updated_at: sql<Date>`now()` })
        .where('id', '=', existing.id)
        .execute();
    };
    if (existing.status === 'published') {
      if ((await shownVersion(trx, k)) === k.version) return { id: existing.id, action: 'done', status: 'published', attempts: existing.attempts, sends: existing.sends };
      await reopen();
      return { id: existing.id, action: 'republish', status: 'pending', attempts: existing.attempts, sends: existing.sends };
    }
    if (existing.status !== 'pending') {
      if (k.retryFailed === false) return { id: existing.id, action: 'done', status: existing.status, attempts: existing.attempts, sends: existing.sends };
      await reopen();
    }
    return { id: existing.id, action: existing.sends > 0 ? 'republish' : 'send', status: 'pending', attempts: existing.attempts, sends: existing.sends };
  });
}

export async function markPublished(
  db: Db,
  id: string,
  r: { remoteId: string; alreadyPresent: boolean; details?: Record<string, string | number | boolean>; altText: string; variant: string },
): Promise<void> {
  await db
    .updateTable('publications')
    .set((eb) => ({
      status: 'published',
      remote_id: r.remoteId,
      already_present: r.alreadyPresent,
      receipt: r.details ? JSON.stringify(r.details) : null,
      alt_text: r.altText,
      variant: r.variant,
      attempts: eb('attempts', '+', 1),
      sends: eb('sends', '+', 1),
      error_code: null,
      last_error: null,
      sent_at: sql<Date>`clock_timestamp()`,
      updated_at: sql<Date>`now()`,
    }))
    .where('id', '=', id)
    .execute();
}

/** One failed try: the row stays pending for the next retry, or ends failed (`final`) with the reason. */
export async function markPublishAttempt(db: Db, id: string, f: { code: string; message: string; final: boolean }): Promise<void> {
  await db
    .updateTable('publications')
    .set((eb) => ({
      status: f.final ? 'failed' : 'pending',
      attempts: eb('attempts', '+', 1),
      error_code: f.code,
      last_error: f.message.slice(0, 2_000),
      updated_at: sql<Date>`now()`,
    }))
    .where('id', '=', id)
    .where('status', '!=', 'published')
    .execute();
}

/** The channel gate said no: nothing sent, the reason kept. */
export async function markSkipped(db: Db, id: string, reason: string): Promise<void> {
  await db
    .updateTable('publications')
    .set({ status: 'skipped', error_code: 'gate', last_error: reason.slice(0, 2_000), updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('status', '!=', 'published')
    .execute();
}

export interface UnpublishedAsset {
  sku: string;
  slot: string;
  version: number;
  assetId: string;
  destination: string;
  /** The publication's status, null when the version was never offered to the destination. */
  status: PublicationStatus | null;
  /** The version the destination was last shown, null when none. */
  shownVersion: number | null;
}

/**
 * The current assets that some destination does not show yet: never offered, pending, failed,
 * skipped, or published before a rollback showed another version. `destinations` are names.
 */
export async function unpublishedCurrentAssets(
  db: Db,
  q: { catalogId: string; destinations: string[]; skus?: string[]; slots?: string[]; limit?: number },
): Promise<UnpublishedAsset[]> {
  if (q.destinations.length === 0 || q.skus?.length === 0) return [];
  const rows = await sql<{
    sku: string;
    slot: string;
    version: number;
    asset_id: string;
    destination: string;
    status: PublicationStatus | null;
    shown_version: number | null;
  }>`
    select c.sku, c.slot, a.version, a.id::text as asset_id, d.destination, p.status,
      (select p2.version from publications p2
        where p2.catalog_id = c.catalog_id and p2.sku = c.sku and p2.slot = c.slot and p2.destination = d.destination and p2.sent_at is not null
        order by p2.sent_at desc, p2.id desc limit 1) as shown_version
    from current_assets c
    join assets a on a.id = c.asset_id
    cross join unnest(${q.destinations}::text[]) as d(destination)
    left join publications p
      on p.catalog_id = c.catalog_id and p.sku = c.sku and p.slot = c.slot and p.version = a.version and p.destination = d.destination
    where c.catalog_id = ${q.catalogId}
      ${q.skus ? sql`and c.sku = any(${q.skus}::text[])` : sql``}
      ${q.slots ? sql`and c.slot = any(${q.slots}::text[])` : sql``}
    order by c.sku, c.slot, d.destination
    ${q.limit ? sql`limit ${q.limit}` : sql``}
  `.execute(db);
  return rows.rows
    .filter((r) => !(r.status === 'published' && r.shown_version === r.version))
    .map((r) => ({
      sku: r.sku,
      slot: r.slot,
      version: r.version,
      assetId: r.asset_id,
      destination: r.destination,
      status: r.status,
      shownVersion: r.shown_version,
    }));
}

/** Every publication of a SKU, newest first (results page, `assets show`). */
export async function publicationsOfSku(db: Db, catalogId: string, sku: string) {
  return db
    .selectFrom('publications')
    .select(['slot', 'version', 'asset_id', 'destination', 'destination_kind', 'status', 'remote_id', 'already_present', 'receipt', 'variant', 'alt_text', 'attempts', 'sends', 'error_code', 'last_error', 'updated_at', 'sent_at'])
    .where('catalog_id', '=', catalogId)
    .where('sku', '=', sku)
    .orderBy('slot')
    .orderBy('destination')
    .orderBy('version', 'desc')
    .execute();
}

/** Per destination, how the catalog's current assets stand there (the `status` command). */
export async function destinationCounts(db: Db, catalogId: string): Promise<Array<{ destination: string; status: PublicationStatus; n: number }>> {
  const rows = await db
    .selectFrom('publications as p')
    .innerJoin('current_assets as c', (j) => j.onRef('c.asset_id', '=', 'p.asset_id'))
    .select(['p.destination', 'p.status', (eb) => eb.fn.countAll<string>().as('n')])
    .where('p.catalog_id', '=', catalogId)
    .groupBy(['p.destination', 'p.status'])
    .orderBy('p.destination')
    .execute();
  return rows.map((r) => ({ destination: r.destination, status: r.status, n: Number(r.n) }));
}

/** How many current assets the catalog has (what each destination should show). */
export async function currentAssetCount(db: Db, catalogId: string): Promise<number> {
  const row = await db
    .selectFrom('current_assets')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('catalog_id', '=', catalogId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface DestinationSummary {
  destination: string;
  /** Current assets the destination shows. */
  published: number;
  pending: number;
  failed: number;
  skipped: number;
  /** Current assets never offered to the destination. */
  notSent: number;
}

/** How each destination stands against the catalog's current assets (`status`, the results page). */
export async function destinationSummary(db: Db, catalogId: string, destinations: string[]): Promise<DestinationSummary[]> {
  if (destinations.length === 0) return [];
  const [counts, total] = await Promise.all([destinationCounts(db, catalogId), currentAssetCount(db, catalogId)]);
  return destinations.map((destination) => {
    const of = (status: PublicationStatus) => counts.find((c) => c.destination === destination && c.status === status)?.n ?? 0;
    const s = { destination, published: of('published'), pending: of('pending'), failed: of('failed'), skipped: of('skipped') };
    return { ...s, notSent: Math.max(0, total - s.published - s.pending - s.failed - s.skipped) };
  });
}
