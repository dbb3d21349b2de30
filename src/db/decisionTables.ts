/**
 * Kysely types of the tables that keep operators' decisions and refresh budgets
 * (migrations/20261201T1000_operator_decisions.ts).
 */
import type { ColumnType, Generated, Kysely, Transaction } from 'kysely';
import type { Database } from './schema';

type BigId = ColumnType<string, string | number, string | number>;

export interface SlotPinsTable {
  catalog_id: string;
  sku: string;
  slot: string;
  asset_id: BigId;
  /** The fingerprint the slot's inputs had when it was rolled back. */
  inputs_fingerprint: string;
  actor: string;
  pinned_at: Generated<Date>;
}

export interface DeclinedFingerprintsTable {
  catalog_id: string;
  sku: string;
  slot: string;
  fingerprint: string;
  asset_id: BigId;
  decision: string;
  declined_at: Generated<Date>;
}

export interface RefreshBudgetsTable {
  id: string;
  catalog_id: string;
  limit_images: number;
  created_at: Generated<Date>;
}

export interface BudgetReservationsTable {
  budget_id: string;
  idempotency_key: string;
  catalog_id: string;
  sku: string;
  slot: string;
  images: number;
  reserved_at: Generated<Date>;
}

export interface DecisionTables {
  slot_pins: SlotPinsTable;
  declined_fingerprints: DeclinedFingerprintsTable;
  refresh_budgets: RefreshBudgetsTable;
  budget_reservations: BudgetReservationsTable;
}

export type DecisionDatabase = Database & DecisionTables;

/** The same connection, typed with these tables too. */
export function withDecisionTables(db: Kysely<Database>): Kysely<DecisionDatabase>;
export function withDecisionTables(db: Transaction<Database>): Transaction<DecisionDatabase>;
export function withDecisionTables(db: Kysely<Database> | Transaction<Database>): Kysely<DecisionDatabase> | Transaction<DecisionDatabase>;
export function withDecisionTables(db: Kysely<Database> | Transaction<Database>) {
  return db as unknown as Kysely<DecisionDatabase>;
}
