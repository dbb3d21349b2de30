/**
 * The data behind the results page: one page of a catalog's SKUs with, per slot, the current asset and
 * its variants, the last attempt (with its failure reason) and the recent versions.
 *
 * Set-based: a fixed number of queries per page whatever the number of SKUs on it (the catalog, a count,
 * the page of products, then current assets, their variants, the last attempts and the versions of the
 * page's SKUs, each one query), so a page of 200 SKUs costs the same handful of round trips as a page of 2.
 */
import { sql, type Kysely } from 'kysely';
import { ledgerTotals, moneyFigures, type MoneyFigures } from './jobs';
import type { Database } from '../schema';
import { enabledSlotNames } from './catalogs';
import { latestLabelReadings } from './labelReadings';
import { channelChecksColumn, toChannelChecks, type StoredChannelCheck } from './channelChecks';

export const DEFAULT_PAGE_SIZE = 200;
export const MAX_PAGE_SIZE = 1_000;
/** Versions listed per SKU and slot in the details panel (the newest ones; the total is shown). */
export const VERSIONS_PER_SLOT = 20;

/*
 * The page's row shapes are the queries' own rows (camelCase aliases in the select lists), so a column
 * is named once, in its query; timestamps become ISO strings on the way out.
 */
type Db = Kysely<Database>;
type Row<Q extends (...args: never[]) => { execute(): Promise<unknown[]> }> = Awaited<ReturnType<ReturnType<Q>['execute']>>[number];
/** What the page shows of a row: its timestamps as ISO strings, its status words as text. */
type Shown<T, Dates extends keyof T> = { [P in keyof T]: P extends Dates | 'status' | 'outcome' ? string : T[P] };

function currentAssetsOf(db: Db, catalogId: string, skus: string[]) {
  return db
    .selectFrom('current_assets as c')
    .innerJoin('assets as a', 'a.id', 'c.asset_id')
    .select([
      'c.sku', 'c.slot', 'a.id', 'a.version', 'a.status', 'a.fingerprint', 'a.checksum', 'a.prompt', 'a.cost_cents as costCents', 'a.width',
      'a.height', 'a.format', 'a.storage_key as storageKey', 'a.placeholder', 'a.dominant_color as dominantColor', 'a.created_at as createdAt',
      // Where this version went, in the same query (the page stays a fixed number of queries).
      sql<PublicationCell[] | null>`(select json_agg(json_build_object('destination', p.destination, 'kind', p.destination_kind, 'status', p.status, 'remoteId', p.remote_id, 'error', p.last_error, 'sentAt', p.sent_at) order by p.destination) from publications p where p.asset_id = a.id)`.as(
        'publications',
      ),
    ])
    .select((eb) => channelChecksColumn(eb.ref('a.id')).as('channelChecks'))
    .where('c.catalog_id', '=', catalogId)
    .where('c.sku', 'in', skus);
}

/** One destination a current version was offered to: status, its remote id, the last error. */
export interface ResultsPublication {
  destination: string;
  kind: string;
  status: string;
  remoteId: string | null;
  error: string | null;
  sentAt: string | null;
}
type PublicationCell = ResultsPublication;

function currentVariantsOf(db: Db, catalogId: string, skus: string[]) {
  return db
    .selectFrom('asset_variants as v')
    .innerJoin('current_assets as c', 'c.asset_id', 'v.asset_id')
    .select(['v.asset_id as assetId', 'v.name', 'v.format', 'v.width', 'v.height', 'v.bytes', 'v.storage_key as storageKey'])
    .where('c.catalog_id', '=', catalogId)
    .where('c.sku', 'in', skus)
    .orderBy('v.asset_id')
    .orderBy('v.width', 'desc')
    .orderBy('v.name');
}

function lastAttemptsOf(db: Db, catalogId: string, skus: string[]) {
  return db
    .selectFrom('slot_attempts')
    .select(['sku', 'slot', 'outcome', 'fingerprint', 'error_type as errorType', 'error_message as errorMessage', 'workflow_id as workflowId', 'attempted_at as attemptedAt'])
    .where('catalog_id', '=', catalogId)
    .where('sku', 'in', skus);
}

/** The newest VERSIONS_PER_SLOT versions of each SKU and slot, with the total (`n`). */
function recentVersionsOf(db: Db, catalogId: string, skus: string[]) {
  return db
    .selectFrom((eb) =>
      eb
        .selectFrom('assets')
        .select([
          'id', 'sku', 'slot', 'version', 'status', 'fingerprint', 'cost_cents as costCents', 'storage_key as storageKey', 'created_at as createdAt',
          sql<string>`row_number() over (partition by sku, slot order by version desc)`.as('rn'),
          sql<string>`count(*) over (partition by sku, slot)`.as('n'),
        ])
        .where('catalog_id', '=', catalogId)
        .where('sku', 'in', skus)
        .as('v'),
    )
    .selectAll()
    .where('rn', '<=', String(VERSIONS_PER_SLOT))
    .orderBy('sku')
    .orderBy('slot')
    .orderBy('version', 'desc');
}

export type ResultsVariant = Omit<Row<typeof currentVariantsOf>, 'assetId'>;

export type ResultsAsset = Shown<Omit<Row<typeof currentAssetsOf>, 'sku' | 'slot' | 'channelChecks' | 'publications'>, 'createdAt'> & {
  variants: ResultsVariant[];
  /** The asset's checks against its slot's channel profiles (a badge each). */
  channels?: StoredChannelCheck[];
  /** Where this version went: one entry per destination it was offered to. */
  publications?: ResultsPublication[];
};

export type ResultsAttempt = Shown<Omit<Row<typeof lastAttemptsOf>, 'sku' | 'slot'>, 'attemptedAt'>;

export type ResultsVersion = Shown<Omit<Row<typeof recentVersionsOf>, 'sku' | 'slot' | 'rn' | 'n'>, 'createdAt'>;

/** The newest label OCR reading of a slot (see labelReadings.ts). */
export interface ResultsLabelReading {
  verdict: string;
  expected: string;
  read: string | null;
  similarity: number | null;
  threshold: number;
  locale: string | null;
  readAt: string;
}

export interface ResultsCell {
  slot: string;
  /** The newest label reading, where the slot's label is checked. */
  label?: ResultsLabelReading;
  /** The current (published) asset, when the slot has one. */
  asset: ResultsAsset | undefined;
  /** The slot's last attempt, when there was one. */
  attempt: ResultsAttempt | undefined;
  /** The newest versions, newest first (at most VERSIONS_PER_SLOT). */
  versions: ResultsVersion[];
  versionCount: number;
}

export interface ResultsRow {
  sku: string;
  name: string;
  status: string;
  /** One per slot of ResultsData.slots, in that order. */
  cells: ResultsCell[];
}

export interface ResultsData {
  catalog: { id: string; name: string };
  /** Column order: the catalog's plan (enabled slots), then any other slot that has assets on this page. */
  slots: string[];
  rows: ResultsRow[];
  page: { offset: number; limit: number; total: number };
  totals: { failedSlots: number; jobs: number; imagesBilled: number; costCents: number };
  /** Billed, kept, unusable (and why), ambiguous: the same figures as `catalog-assets status`. */
  money: MoneyFigures;
  generatedAt: string;
}

export interface LoadResultsOptions {
  limit?: number;
  offset?: number;
  /** Also list products the PIM removed (default: active products only). */
  includeRemoved?: boolean;
}

const iso = (d: Date | string) => new Date(d).toISOString();

export function clampPage(o: { limit?: number; offset?: number }): { limit: number; offset: number } {
  const limit = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.trunc(o.limit ?? DEFAULT_PAGE_SIZE)));
  const offset = Math.max(0, Math.trunc(o.offset ?? 0));
  return { limit, offset };
}

/** Returns undefined when the catalog does not exist. */
export async function loadResultsData(db: Kysely<Database>, catalogId: string, options: LoadResultsOptions = {}): Promise<ResultsData | undefined> {
  const { limit, offset } = clampPage(options);
  const catalog = await db.selectFrom('catalogs').select(['id', 'name', 'plan']).where('id', '=', catalogId).executeTakeFirst();
  if (!catalog) return undefined;

  let products = db.selectFrom('products').where('catalog_id', '=', catalogId);
  if (!options.includeRemoved) products = products.where('status', '=', 'active');
  const [countRow, page, failedRow, ledger, money] = await Promise.all([
    products.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    products.select(['sku', 'name', 'status']).orderBy('sku').limit(limit).offset(offset).execute(),
    db
      .selectFrom('slot_attempts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('catalog_id', '=', catalogId)
      .where('outcome', '=', 'failed')
      .executeTakeFirstOrThrow(),
    ledgerTotals(db, { catalogId }),
    moneyFigures(db, { catalogId }),
  ]);

  const skus = page.map((p) => p.sku);
  const [current, variants, attempts, versions] =
    skus.length === 0
      ? [[], [], [], []]
      : await Promise.all([
          currentAssetsOf(db, catalogId, skus).execute(),
          currentVariantsOf(db, catalogId, skus).execute(),
          lastAttemptsOf(db, catalogId, skus).execute(),
          recentVersionsOf(db, catalogId, skus).execute(),
        ]);

  const key = (sku: string, slot: string) => JSON.stringify([sku, slot]);
  const variantsByAsset = new Map<string, ResultsVariant[]>();
  for (const { assetId, ...variant } of variants) {
    const list = variantsByAsset.get(assetId) ?? [];
    list.push(variant);
    variantsByAsset.set(assetId, list);
  }
  const assetBySlot = new Map<string, ResultsAsset>();
  for (const { sku, slot, channelChecks, publications, ...a } of current) {
    assetBySlot.set(key(sku, slot), {
      ...a,
      createdAt: iso(a.createdAt),
      variants: variantsByAsset.get(a.id) ?? [],
      channels: toChannelChecks(channelChecks),
      publications: (publications ?? []).map((p) => ({ ...p, sentAt: p.sentAt ? iso(p.sentAt) : null })),
    });
  }
  const attemptBySlot = new Map<string, ResultsAttempt>();
  for (const { sku, slot, ...t } of attempts) attemptBySlot.set(key(sku, slot), { ...t, attemptedAt: iso(t.attemptedAt) });
  const versionsBySlot = new Map<string, { list: ResultsVersion[]; total: number }>();
  for (const { sku, slot, rn: _rn, n, ...v } of versions) {
    const k = key(sku, slot);
    const entry = versionsBySlot.get(k) ?? { list: [], total: Number(n) };
    entry.list.push({ ...v, createdAt: iso(v.createdAt) });
    versionsBySlot.set(k, entry);
  }

  const labelBySlot = new Map<string, ResultsLabelReading>();
  for (const r of await latestLabelReadings(db, catalogId, skus)) {
    labelBySlot.set(key(r.sku, r.slot), { verdict: r.verdict, expected: r.expected, read: r.read_text, similarity: r.similarity, threshold: r.threshold, locale: r.locale, readAt: iso(r.read_at) });
  }

  const slots = enabledSlotNames(catalog.plan);
  const extra = new Set<string>();
  for (const rows of [current, attempts, versions]) for (const r of rows) if (!slots.includes(r.slot)) extra.add(r.slot);
  slots.push(...[...extra].sort());

  return {
    catalog: { id: catalog.id, name: catalog.name },
    slots,
    rows: page.map((p) => ({
      sku: p.sku,
      name: p.name,
      status: p.status,
      cells: slots.map((slot) => {
        const k = key(p.sku, slot);
        const v = versionsBySlot.get(k);
        const label = labelBySlot.get(k);
        return { slot, asset: assetBySlot.get(k), attempt: attemptBySlot.get(k), versions: v?.list ?? [], versionCount: v?.total ?? 0, ...(label ? { label } : {}) };
      }),
    })),
    page: { offset, limit, total: Number(countRow.n) },
    totals: { failedSlots: Number(failedRow.n), jobs: ledger.jobs, imagesBilled: ledger.imagesBilled, costCents: ledger.costCents },
    money,
    generatedAt: new Date().toISOString(),
  };
}
