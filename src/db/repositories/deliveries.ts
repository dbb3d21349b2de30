/**
 * The delivery log of outbound events: one row per attempt, numbered per (catalog, destination,
 * event) by the database, so attempts made by different activity runs or workers count on.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema';

type Db = Kysely<Database> | Transaction<Database>;

export type DeliveryOutcome = 'delivered' | 'retryable' | 'rejected';

/** One attempt, as the webhook destination reports it (src/publish/destination.ts `DeliveryAttempt`). */
export interface DeliveryAttemptInput {
  catalogId: string;
  destination: string;
  eventId: string;
  type: string;
  outcome: DeliveryOutcome;
  status?: number;
  answer?: string;
  durationMs: number;
  error?: string;
  attemptedAt: Date;
}

export interface DeliveryRow {
  id: string;
  catalogId: string;
  destination: string;
  eventId: string;
  type: string;
  attempt: number;
  outcome: DeliveryOutcome;
  status: number | null;
  answer: string | null;
  durationMs: number;
  error: string | null;
  attemptedAt: Date;
}

const ANSWER_MAX = 500;
const ERROR_MAX = 2000;
const COLUMNS = ['id', 'catalog_id', 'destination', 'event_id', 'event_type', 'attempt', 'outcome', 'http_status', 'answer', 'duration_ms', 'error', 'attempted_at'] as const;

function cut(text: string | undefined, max: number): string | null {
  if (text === undefined) return null;
  return text.length > max ? text.slice(0, max) : text;
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/** Appends one attempt, numbered after the ones already logged for the same event and destination. */
export async function recordDeliveryAttempt(db: Db, entry: DeliveryAttemptInput): Promise<DeliveryRow> {
  for (let tries = 0; ; tries++) {
    try {
      const row = await db
        .insertInto('outbound_deliveries')
        .values({
          catalog_id: entry.catalogId,
          destination: entry.destination,
          event_id: entry.eventId,
          event_type: entry.type,
          attempt: sql<number>`(select coalesce(max(attempt), 0) + 1 from outbound_deliveries
            where catalog_id = ${entry.catalogId} and destination = ${entry.destination} and event_id = ${entry.eventId})`,
          outcome: entry.outcome,
          http_status: entry.status ?? null,
          answer: cut(entry.answer, ANSWER_MAX),
          duration_ms: Math.max(0, Math.round(entry.durationMs)),
          error: cut(entry.error, ERROR_MAX),
          attempted_at: entry.attemptedAt,
        })
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
      return fromRow(row);
    } catch (err) {
      // Two attempts of one event logged at the same instant took the same number: count again.
      if (isUniqueViolation(err) && tries < 5) continue;
      throw err;
    }
  }
}

/** Where an attempt that names no catalog is logged (an event without `data.catalogId`), rather than lost. */
export const NO_CATALOG = '-';

/**
 * A `recordDelivery` for DestinationContext. The webhook destination names the catalog of each
 * attempt (the item's, or the event's `data.catalogId`); `catalogId` is the fallback for a context
 * built per catalog.
 */
export function deliveryRecorder(db: Kysely<Database>, catalogId?: string) {
  return async (entry: Omit<DeliveryAttemptInput, 'catalogId'> & { catalogId?: string }): Promise<void> => {
    await recordDeliveryAttempt(db, { ...entry, catalogId: entry.catalogId ?? catalogId ?? NO_CATALOG });
  };
}

type Row = { id: string; catalog_id: string; destination: string; event_id: string; event_type: string; attempt: number; outcome: DeliveryOutcome; http_status: number | null; answer: string | null; duration_ms: number; error: string | null; attempted_at: Date };

function fromRow(r: Row): DeliveryRow {
  return {
    id: String(r.id),
    catalogId: r.catalog_id,
    destination: r.destination,
    eventId: r.event_id,
    type: r.event_type,
    attempt: r.attempt,
    outcome: r.outcome,
    status: r.http_status,
    answer: r.answer,
    durationMs: r.duration_ms,
    error: r.error,
    attemptedAt: new Date(r.attempted_at),
  };
}

/** The last attempts of a catalog, newest first (optionally one destination's, or one event's). */
export async function listDeliveries(db: Db, filter: { catalogId: string; destination?: string; eventId?: string; limit?: number }): Promise<DeliveryRow[]> {
  let q = db.selectFrom('outbound_deliveries').select(COLUMNS).where('catalog_id', '=', filter.catalogId);
  if (filter.destination !== undefined) q = q.where('destination', '=', filter.destination);
  if (filter.eventId !== undefined) q = q.where('event_id', '=', filter.eventId);
  const rows = await q
    .orderBy('attempted_at', 'desc')
    .orderBy('id', 'desc')
    .limit(Math.min(Math.max(1, filter.limit ?? 20), 1000))
    .execute();
  return rows.map(fromRow);
}
