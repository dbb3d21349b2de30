/**
 * Channel checks: the latest verdict of each asset against each channel profile, with its figures.
 * Written with the asset (recordGeneratedAssets), read by the results page, `status --channel` and the
 * publish gate.
 */
import { sql, type Expression, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { ChannelGate } from '../../publish/destination';
import type { ChannelCheckSummary, ChannelFigures, ChannelFormat, ChannelRuleFailure } from '../../shared/channelProfiles';
import type { Database } from '../schema';

type Db = Kysely<Database> | Transaction<Database>;

/** Records (or replaces) the checks of one asset: idempotent per (asset, profile). */
export async function recordChannelChecks(db: Db, assetId: string, checks: readonly ChannelCheckSummary[]): Promise<void> {
  if (checks.length === 0) return;
  await db
    .insertInto('channel_checks')
    .values(
      checks.map((c) => ({
        asset_id: assetId,
        profile: c.profile,
        pass: c.pass,
        failures: JSON.stringify(c.failures),
        notes: JSON.stringify(c.notes),
        processing: JSON.stringify(c.processing),
        edge_min: c.figures.edgeMin,
        edge_mean: c.figures.edgeMean,
        fill: c.figures.fill,
        width: c.figures.width,
        height: c.figures.height,
        megapixels: c.figures.megapixels,
        format: c.figures.format,
        colour_space: c.figures.colourSpace,
        bytes: c.figures.bytes,
        border: c.figures.border,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['asset_id', 'profile']).doUpdateSet((eb) => ({
        pass: eb.ref('excluded.pass'),
        failures: eb.ref('excluded.failures'),
        notes: eb.ref('excluded.notes'),
        processing: eb.ref('excluded.processing'),
        edge_min: eb.ref('excluded.edge_min'),
        edge_mean: eb.ref('excluded.edge_mean'),
        fill: eb.ref('excluded.fill'),
        width: eb.ref('excluded.width'),
        height: eb.ref('excluded.height'),
        megapixels: eb.ref('excluded.megapixels'),
        format: eb.ref('excluded.format'),
        colour_space: eb.ref('excluded.colour_space'),
        bytes: eb.ref('excluded.bytes'),
        border: eb.ref('excluded.border'),
        checked_at: sql<Date>`now()`,
      })),
    )
    .execute();
}

export interface StoredChannelCheck extends ChannelCheckSummary {
  assetId: string;
  checkedAt: string;
}

const COLUMNS = [
  'asset_id', 'profile', 'pass', 'failures', 'notes', 'processing', 'edge_min', 'edge_mean', 'fill', 'width', 'height',
  'megapixels', 'format', 'colour_space', 'bytes', 'border', 'checked_at',
] as const;

type Row = {
  asset_id: string; profile: string; pass: boolean; failures: ChannelRuleFailure[]; notes: string[]; processing: string[];
  edge_min: number; edge_mean: number; fill: number; width: number; height: number; megapixels: number; format: string;
  colour_space: string; bytes: number; border: boolean; checked_at: Date | string;
};

function toCheck(r: Row): StoredChannelCheck {
  const figures: ChannelFigures = {
    edgeMin: r.edge_min,
    edgeMean: Number(r.edge_mean),
    fill: Number(r.fill),
    width: r.width,
    height: r.height,
    megapixels: Number(r.megapixels),
    format: r.format as ChannelFormat,
    colourSpace: 'srgb',
    bytes: r.bytes,
    border: r.border,
  };
  return {
    assetId: String(r.asset_id),
    profile: r.profile,
    pass: r.pass,
    failures: r.failures,
    notes: r.notes,
    processing: r.processing,
    figures,
    checkedAt: new Date(r.checked_at).toISOString(),
  };
}

/**
 * A column of an asset query: the asset's checks as one JSON array (profile order), so a page of assets
 * gets its checks in the same query. Read it with toChannelChecks.
 */
export function channelChecksColumn(assetId: Expression<string>): RawBuilder<unknown> {
  return sql`(select coalesce(jsonb_agg(to_jsonb(k) order by k.profile), '[]'::jsonb) from channel_checks k where k.asset_id = ${assetId})`;
}

export function toChannelChecks(column: unknown): StoredChannelCheck[] {
  return Array.isArray(column) ? column.map((r) => toCheck(r as Row)) : [];
}

/** The checks of the given assets, by asset id, in profile order. */
export async function channelChecksOf(db: Db, assetIds: readonly string[]): Promise<Map<string, StoredChannelCheck[]>> {
  const out = new Map<string, StoredChannelCheck[]>();
  if (assetIds.length === 0) return out;
  const rows = await db.selectFrom('channel_checks').select(COLUMNS).where('asset_id', 'in', [...assetIds]).orderBy('asset_id').orderBy('profile').execute();
  for (const r of rows) {
    const c = toCheck(r);
    const list = out.get(c.assetId) ?? [];
    list.push(c);
    out.set(c.assetId, list);
  }
  return out;
}

export async function latestChannelCheck(db: Db, assetId: string, profile: string): Promise<StoredChannelCheck | undefined> {
  const row = await db.selectFrom('channel_checks').select(COLUMNS).where('asset_id', '=', assetId).where('profile', '=', profile).executeTakeFirst();
  return row ? toCheck(row) : undefined;
}

export interface ListedChannelCheck extends StoredChannelCheck {
  catalogId: string;
  sku: string;
  slot: string;
  version: number;
  status: string;
}

/** What `status --channel` shows: the catalog's live assets (current or waiting for review) against one profile. */
export interface ChannelReport {
  catalogId: string;
  profile: string;
  counts: { checked: number; passing: number; failing: number; notChecked: number };
  checks: ListedChannelCheck[];
}

const LIVE = ['current', 'pending_review'] as const;

/**
 * The catalog's live assets checked against `profile` (only the failing ones with `failing`), by SKU and
 * slot; the counts cover every live asset, those never checked against the profile included.
 */
export async function channelReport(
  db: Db,
  input: { catalogId: string; profile: string; failing?: boolean; sku?: string; limit?: number },
): Promise<ChannelReport> {
  let q = db
    .selectFrom('channel_checks as c')
    .innerJoin('assets as a', 'a.id', 'c.asset_id')
    .select(COLUMNS.map((k) => `c.${k}` as const))
    .select(['a.catalog_id', 'a.sku', 'a.slot', 'a.version', 'a.status'])
    .where('c.profile', '=', input.profile)
    .where('a.catalog_id', '=', input.catalogId)
    .where('a.status', 'in', [...LIVE]);
  if (input.failing) q = q.where('c.pass', '=', false);
  if (input.sku) q = q.where('a.sku', '=', input.sku);
  let counts = db
    .selectFrom('assets as a')
    .leftJoin('channel_checks as c', (j) => j.onRef('c.asset_id', '=', 'a.id').on('c.profile', '=', input.profile))
    .select((eb) => [
      eb.fn.count<string>('c.asset_id').as('checked'),
      eb.fn.count<string>('c.asset_id').filterWhere('c.pass', '=', true).as('passing'),
      eb.fn.count<string>('c.asset_id').filterWhere('c.pass', '=', false).as('failing'),
      eb.fn.countAll<string>().filterWhere('c.asset_id', 'is', null).as('not_checked'),
    ])
    .where('a.catalog_id', '=', input.catalogId)
    .where('a.status', 'in', [...LIVE]);
  if (input.sku) counts = counts.where('a.sku', '=', input.sku);
  const [rows, n] = await Promise.all([
    q.orderBy('a.sku').orderBy('a.slot').orderBy('a.version', 'desc').limit(input.limit ?? 500).execute(),
    counts.executeTakeFirstOrThrow(),
  ]);
  return {
    catalogId: input.catalogId,
    profile: input.profile,
    counts: { checked: Number(n.checked), passing: Number(n.passing), failing: Number(n.failing), notChecked: Number(n.not_checked) },
    checks: rows.map((r) => ({ ...toCheck(r as unknown as Row), catalogId: r.catalog_id, sku: r.sku, slot: r.slot, version: r.version, status: r.status })),
  };
}

/** A one-line account of a failed check: each failed rule with its figures. */
export function describeFailures(check: Pick<ChannelCheckSummary, 'profile' | 'failures'>): string {
  return check.failures.map((f) => `${f.rule}: ${f.reason}`).join('; ');
}

/**
 * The publish gate: an asset passes a destination's profile when its check against that profile
 * passed. A failed check refuses with its failed rules; an asset never checked against the profile
 * (made before the profile was in its slot's channels, or with checks off) refuses as not checked.
 */
export function channelGate(db: Db): ChannelGate {
  return async (item, profile) => {
    const check = await latestChannelCheck(db, item.assetId, profile);
    if (!check) {
      return { pass: false, reason: `not checked: ${item.sku} ${item.slot} v${item.version} has no check against channel profile "${profile}"` };
    }
    if (check.pass) return { pass: true };
    return { pass: false, reason: `fails channel profile "${profile}": ${describeFailures(check)}` };
  };
}
