/**
 * Applying a batch of PIM change events to the catalog snapshot, in ONE transaction:
 *
 * - an event id already seen for the catalog (or repeated inside the batch) is a duplicate and changes
 *   nothing; a redelivered batch starts nothing new;
 * - per SKU only the newest event of the batch counts (the others are `superseded`), and it applies
 *   only if it is not older than the product's last applied event (`products.pim_updated_at`): an
 *   event that arrives late never overwrites newer data (`stale`);
 * - created/updated upserts the product; when name and attributes are unchanged it only moves
 *   `pim_updated_at` (`unchanged`, no workflow);
 * - removed marks the product `removed` and its assets `retired`. The current_assets mapping rows
 *   are KEPT: the history stays intact, and a product that comes back (a later created/updated event,
 *   or an import) gets its retired assets back as current, so unchanged slots need no new images.
 *   A removal of a SKU the snapshot has never seen leaves a tombstone row (status removed), so an
 *   older `created` event that arrives afterwards cannot resurrect it.
 *
 * The caller starts product workflows AFTER the commit, for `toTrigger`, and then marks those events
 * triggered (or failed). A redelivery retries the failed ones, and the ones claimed more than
 * TRIGGER_CLAIM_TIMEOUT_MS ago and never settled (the process died in between); one still being
 * started by a concurrent delivery is left alone, so concurrent redeliveries start nothing twice.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, WebhookEventOutcome } from '../schema';
import { productFingerprint } from '../../catalog/fingerprint';

export type PimAction = 'created' | 'updated' | 'removed';

export interface PimChange {
  eventId: string;
  action: PimAction;
  sku: string;
  at: Date;
  /** For created/updated. */
  name?: string;
  attributes?: Record<string, unknown>;
}

export interface PimTrigger {
  sku: string;
  productName: string;
  eventIds: string[];
}

export interface PimApplyResult {
  /** Events not seen before (whatever they did). */
  accepted: number;
  duplicates: number;
  /** Accepted events that changed nothing because newer data was already applied (or came in the same batch). */
  stale: number;
  /** Accepted events whose product data was already what they carried. */
  unchanged: number;
  /** SKUs marked removed by this batch. */
  removed: string[];
  /** SKUs whose product workflow must be started (new or changed products, and retries of earlier triggers). */
  toTrigger: PimTrigger[];
}

type Trx = Transaction<Database>;

const RETRYABLE_PG_CODES = new Set(['40P01', '40001']);

/** A trigger claimed longer ago than this without success or failure recorded is retried. */
export const TRIGGER_CLAIM_TIMEOUT_MS = 2 * 60 * 1000;

export async function applyPimChanges(db: Kysely<Database>, catalogId: string, changes: PimChange[]): Promise<PimApplyResult> {
  // Deadlocks and serialization failures are transient: the whole batch is retried from scratch.
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute((trx) => applyInTransaction(trx, catalogId, changes));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (attempt >= 3 || typeof code !== 'string' || !RETRYABLE_PG_CODES.has(code)) throw err;
    }
  }
}

/** Records how starting the events' product workflows went: started (`none`) or `failed` (retried on redelivery). */
export async function settleTriggers(db: Kysely<Database>, catalogId: string, eventIds: string[], state: 'none' | 'failed'): Promise<void> {
  if (eventIds.length === 0) return;
  await db
    .updateTable('webhook_events')
    .set({ trigger_state: state })
    .where('catalog_id', '=', catalogId)
    .where('event_id', 'in', eventIds)
    .where('trigger_state', '=', 'pending')
    .execute();
}

/** Drops seen event ids older than the retention: a redelivery older than that is re-applied, which the
 * out-of-order guard makes harmless (older data never overwrites newer, unchanged data starts nothing). */
export async function pruneWebhookEvents(db: Kysely<Database>, olderThan: Date): Promise<number> {
  const r = await db.deleteFrom('webhook_events').where('received_at', '<', olderThan).where('trigger_state', '=', 'none').executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Serialises concurrent batches that touch the same SKUs (locks taken in one global order: no deadlock). */
async function lockSkus(trx: Trx, catalogId: string, skus: string[]): Promise<void> {
  if (skus.length === 0) return;
  const keys = skus.map((sku) => JSON.stringify(['pim', catalogId, sku]));
  await sql`select pg_advisory_xact_lock(k) from (select hashtextextended(x, 0) as k from unnest(${keys}::text[]) as x order by 1) as ordered`.execute(trx);
}

interface ExistingProduct {
  sku: string;
  name: string;
  attributes_fingerprint: string;
  status: string;
  pim_updated_at: Date | null;
}

async function applyInTransaction(trx: Trx, catalogId: string, changes: PimChange[]): Promise<PimApplyResult> {
  // The first occurrence of an event id in the batch is the event; later ones are duplicates.
  const firstById = new Map<string, { change: PimChange; index: number }>();
  changes.forEach((change, index) => {
    if (!firstById.has(change.eventId)) firstById.set(change.eventId, { change, index });
  });
  let duplicates = changes.length - firstById.size;

  const allSkus = [...new Set(changes.map((c) => c.sku))].sort();
  await lockSkus(trx, catalogId, allSkus);

  const ids = [...firstById.keys()];
  const seen = ids.length
    ? await trx
        .selectFrom('webhook_events')
        .select(['event_id', 'sku', 'trigger_state', 'trigger_claimed_at'])
        .where('catalog_id', '=', catalogId)
        .where('event_id', 'in', ids)
        .execute()
    : [];
  const seenIds = new Set(seen.map((s) => s.event_id));
  duplicates += seenIds.size;
  const fresh = [...firstById.values()].filter((e) => !seenIds.has(e.change.eventId));
  const claimExpired = Date.now() - TRIGGER_CLAIM_TIMEOUT_MS;
  const pendingRetries = seen.filter(
    (s) => s.trigger_state === 'failed' || (s.trigger_state === 'pending' && (s.trigger_claimed_at?.getTime() ?? 0) < claimExpired),
  );

  const skusToRead = [...new Set([...fresh.map((e) => e.change.sku), ...pendingRetries.map((p) => p.sku)])];
  const existing = new Map<string, ExistingProduct>();
  if (skusToRead.length) {
    const rows = await trx
      .selectFrom('products')
      .select(['sku', 'name', 'attributes_fingerprint', 'status', 'pim_updated_at'])
      .where('catalog_id', '=', catalogId)
      .where('sku', 'in', skusToRead)
      .execute();
    for (const r of rows) existing.set(r.sku, r);
  }

  // Per SKU, the newest fresh event wins; a tie goes to the later one in the batch.
  const bySku = new Map<string, Array<{ change: PimChange; index: number }>>();
  for (const e of fresh) {
    const list = bySku.get(e.change.sku) ?? [];
    list.push(e);
    bySku.set(e.change.sku, list);
  }

  const outcomes = new Map<string, { outcome: WebhookEventOutcome; pending: boolean }>();
  const upserts: Array<{ sku: string; name: string; attributes: Record<string, unknown>; fingerprint: string; at: Date; status: 'active' | 'removed' }> = [];
  const removals: Array<{ sku: string; at: Date }> = [];
  const retire: string[] = [];
  const restore: string[] = [];
  const triggers = new Map<string, PimTrigger>();
  let stale = 0;
  let unchanged = 0;

  for (const [sku, events] of bySku) {
    const winner = events.reduce((a, b) => (b.change.at.getTime() >= a.change.at.getTime() ? b : a));
    for (const e of events) {
      if (e !== winner) {
        outcomes.set(e.change.eventId, { outcome: 'superseded', pending: false });
        stale++;
      }
    }
    const change = winner.change;
    const current = existing.get(sku);
    if (current?.pim_updated_at && change.at.getTime() < current.pim_updated_at.getTime()) {
      outcomes.set(change.eventId, { outcome: 'stale', pending: false });
      stale++;
      continue;
    }
    if (change.action === 'removed') {
      if (!current) {
        const attributes = {};
        upserts.push({ sku, name: sku, attributes, fingerprint: productFingerprint({ name: sku, attributes }), at: change.at, status: 'removed' });
      } else {
        removals.push({ sku, at: change.at });
        if (current.status !== 'removed') retire.push(sku);
      }
      const changed = current?.status !== 'removed';
      outcomes.set(change.eventId, { outcome: changed ? 'applied' : 'unchanged', pending: false });
      if (!changed) unchanged++;
      continue;
    }
    const name = change.name ?? sku;
    const attributes = change.attributes ?? {};
    const fingerprint = productFingerprint({ name, attributes });
    upserts.push({ sku, name, attributes, fingerprint, at: change.at, status: 'active' });
    if (current?.status === 'removed') restore.push(sku);
    const changed = !current || current.status !== 'active' || current.attributes_fingerprint !== fingerprint;
    outcomes.set(change.eventId, { outcome: changed ? 'applied' : 'unchanged', pending: changed });
    if (changed) triggers.set(sku, { sku, productName: name, eventIds: [change.eventId] });
    else unchanged++;
  }

  // Earlier deliveries whose workflows could not be started: retried now, unless the product is gone.
  const removedNow = new Set([...removals.map((r) => r.sku), ...upserts.filter((u) => u.status === 'removed').map((u) => u.sku)]);
  const reclaimed: string[] = [];
  const noLongerNeeded: string[] = [];
  for (const p of pendingRetries) {
    const current = existing.get(p.sku);
    const t = triggers.get(p.sku);
    if (t) {
      t.eventIds.push(p.event_id);
      reclaimed.push(p.event_id);
    } else if (current?.status === 'active' && !removedNow.has(p.sku)) {
      triggers.set(p.sku, { sku: p.sku, productName: current.name, eventIds: [p.event_id] });
      reclaimed.push(p.event_id);
    } else noLongerNeeded.push(p.event_id);
  }
  // Claimed in this transaction: a concurrent redelivery (blocked on the SKU lock until now) sees a fresh claim and leaves it.
  if (reclaimed.length) {
    await trx
      .updateTable('webhook_events')
      .set({ trigger_state: 'pending', trigger_claimed_at: sql<Date>`now()` })
      .where('catalog_id', '=', catalogId)
      .where('event_id', 'in', reclaimed)
      .execute();
  }
  if (noLongerNeeded.length) {
    await trx.updateTable('webhook_events').set({ trigger_state: 'none' }).where('catalog_id', '=', catalogId).where('event_id', 'in', noLongerNeeded).execute();
  }

  if (upserts.length) {
    await trx
      .insertInto('products')
      .values(
        upserts.map((u) => ({
          catalog_id: catalogId,
          sku: u.sku,
          name: u.name,
          attributes: JSON.stringify(u.attributes),
          attributes_fingerprint: u.fingerprint,
          status: u.status,
          source: 'webhook',
          pim_updated_at: u.at,
          updated_at: sql<Date>`now()`,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['catalog_id', 'sku'])
          .doUpdateSet((eb) => ({
            name: eb.ref('excluded.name'),
            attributes: eb.ref('excluded.attributes'),
            attributes_fingerprint: eb.ref('excluded.attributes_fingerprint'),
            status: eb.ref('excluded.status'),
            source: eb.ref('excluded.source'),
            pim_updated_at: eb.ref('excluded.pim_updated_at'),
            updated_at: sql<Date>`now()`,
          }))
          // Belt and braces: the decision above was taken under the SKU lock, this guard holds anyway.
          .where((eb) => eb.or([eb('products.pim_updated_at', 'is', null), eb('products.pim_updated_at', '<=', eb.ref('excluded.pim_updated_at'))])),
      )
      .execute();
  }
  if (removals.length) {
    await sql`
      update products as p set status = 'removed', pim_updated_at = v.at, updated_at = now()
      from unnest(${removals.map((r) => r.sku)}::text[], ${removals.map((r) => r.at)}::timestamptz[]) as v(sku, at)
      where p.catalog_id = ${catalogId} and p.sku = v.sku and (p.pim_updated_at is null or p.pim_updated_at <= v.at)`.execute(trx);
  }
  await retireAssets(trx, catalogId, retire);
  await restoreRetiredAssets(trx, catalogId, restore);

  if (fresh.length) {
    await trx
      .insertInto('webhook_events')
      .values(
        fresh.map(({ change }) => {
          const o = outcomes.get(change.eventId)!;
          return {
            catalog_id: catalogId,
            event_id: change.eventId,
            action: `product.${change.action}`,
            sku: change.sku,
            event_datetime: change.at,
            outcome: o.outcome,
            trigger_state: o.pending ? ('pending' as const) : ('none' as const),
            trigger_claimed_at: o.pending ? sql<Date>`now()` : null,
          };
        }),
      )
      .onConflict((oc) => oc.columns(['catalog_id', 'event_id']).doNothing())
      .execute();
  }

  return {
    accepted: fresh.length,
    duplicates,
    stale,
    unchanged,
    removed: [...removedNow].filter((sku) => existing.get(sku)?.status !== 'removed').sort(),
    toTrigger: [...triggers.values()],
  };
}

/** A removed product's assets are retired, not deleted: files, rows and mapping stay for history and return. */
export async function retireAssets(trx: Trx | Kysely<Database>, catalogId: string, skus: string[]): Promise<void> {
  if (skus.length === 0) return;
  await trx
    .updateTable('assets')
    .set({ status: 'retired', updated_at: sql<Date>`now()` })
    .where('catalog_id', '=', catalogId)
    .where('sku', 'in', skus)
    .where('status', '=', 'current')
    .execute();
}

/** A product that comes back gets its mapped (retired) assets back as current. */
export async function restoreRetiredAssets(trx: Trx | Kysely<Database>, catalogId: string, skus: string[]): Promise<void> {
  if (skus.length === 0) return;
  await sql`
    update assets set status = 'current', updated_at = now()
    where status = 'retired'
      and id in (select asset_id from current_assets where catalog_id = ${catalogId} and sku = any(${skus}::text[]))`.execute(trx);
}
