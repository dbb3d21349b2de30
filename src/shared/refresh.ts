/** The catalog refresh workflow's shapes. Workflow-safe (no schema library: see check.ts). */
import { arrayOf, at, bool, InputCheckError, num, objectOf, oneOf, optional, str } from './check';

export const SELECTIONS = ['changed', 'stale', 'all'] as const;
/** A listed selection names at most this many SKUs. */
export const MAX_LISTED_SKUS = 10_000;
export const MAX_SKU_LENGTH = 200;
export type RefreshSelection = (typeof SELECTIONS)[number] | { skus: string[] };

export interface RefreshBudget {
  images?: number;
  usd?: number;
}

export interface RefreshCounts {
  planned: number;
  skipped: number;
  generated: number;
  failed: number;
  coalesced: number;
  submissions: number;
  imagesBilled: number;
  costCents: number;
  /** Dry run: what a real run would generate. */
  estimatedImages: number;
  invalid: number;
}

export const emptyCounts = (): RefreshCounts => ({
  planned: 0, skipped: 0, generated: 0, failed: 0, coalesced: 0, submissions: 0, imagesBilled: 0, costCents: 0, estimatedImages: 0, invalid: 0,
});

export const REFRESH_TRIGGERS = ['manual', 'schedule', 'webhook', 'import'] as const;

/** What starts a refresh (defaults in parseRefreshWorkflowInput). */
export interface RefreshWorkflowInput {
  catalogId: string;
  /** Default 'stale'. */
  selection?: RefreshSelection;
  dryRun?: boolean;
  budget?: RefreshBudget;
  trigger?: (typeof REFRESH_TRIGGERS)[number];
  /** Product workflows in flight at once (1..1000, default 16). */
  window?: number;
  /** 1..1000, default 100. */
  pageSize?: number;
  /** SKUs per run before continue-as-new keeps the history bounded (1..5000, default 500). */
  skusPerRun?: number;
  /** Carried across continue-as-new. */
  carry?: RefreshCarry;
}

export interface RefreshCarry {
  cursor: string | null;
  counts: RefreshCounts;
  startedAt: string;
  runs: number;
  budgetExhausted: boolean;
}

export type RefreshWorkflowArgs = Required<Omit<RefreshWorkflowInput, 'budget' | 'carry'>> & Pick<RefreshWorkflowInput, 'budget' | 'carry'>;

export function parseSelection(v: unknown, path: string): RefreshSelection {
  if (typeof v === 'string') return oneOf(v, path, SELECTIONS);
  if (typeof v !== 'object' || v === null) throw new InputCheckError(path, `expected one of ${SELECTIONS.join(', ')} or { skus: [...] }`);
  const o = objectOf(v, path, ['skus']);
  return { skus: arrayOf(o.skus, at(path, 'skus'), (x, p) => str(x, p, { min: 1, max: MAX_SKU_LENGTH }), { min: 1, max: MAX_LISTED_SKUS }) };
}

export function parseBudget(v: unknown, path: string): RefreshBudget {
  const o = objectOf(v, path, ['images', 'usd']);
  const images = optional(o.images, at(path, 'images'), (x, p) => num(x, p, { int: true, min: 0 }));
  const usd = optional(o.usd, at(path, 'usd'), (x, p) => num(x, p, { min: 0 }));
  return { ...(images !== undefined ? { images } : {}), ...(usd !== undefined ? { usd } : {}) };
}

const COUNT_KEYS = Object.keys(emptyCounts()) as Array<keyof RefreshCounts>;

function parseCarry(v: unknown, path: string): RefreshCarry {
  const o = objectOf(v, path, ['cursor', 'counts', 'startedAt', 'runs', 'budgetExhausted']);
  const c = objectOf(o.counts, `${path}.counts`, COUNT_KEYS);
  const counts = emptyCounts();
  for (const k of COUNT_KEYS) counts[k] = num(c[k], `${path}.counts.${k}`, { int: true });
  return {
    cursor: o.cursor === null ? null : str(o.cursor, `${path}.cursor`),
    counts,
    startedAt: str(o.startedAt, `${path}.startedAt`),
    runs: num(o.runs, `${path}.runs`, { int: true }),
    budgetExhausted: bool(o.budgetExhausted, `${path}.budgetExhausted`),
  };
}

/** Checks and defaults a refresh workflow's input; throws InputCheckError naming the field. */
export function parseRefreshWorkflowInput(raw: unknown): RefreshWorkflowArgs {
  const o = objectOf(raw, '', ['catalogId', 'selection', 'dryRun', 'budget', 'trigger', 'window', 'pageSize', 'skusPerRun', 'carry']);
  const budget = optional(o.budget, 'budget', parseBudget);
  const carry = optional(o.carry, 'carry', parseCarry);
  return {
    catalogId: str(o.catalogId, 'catalogId', { min: 1, max: 200 }),
    selection: optional(o.selection, 'selection', parseSelection) ?? 'stale',
    dryRun: optional(o.dryRun, 'dryRun', bool) ?? false,
    ...(budget ? { budget } : {}),
    trigger: optional(o.trigger, 'trigger', (x, p) => oneOf(x, p, REFRESH_TRIGGERS)) ?? 'manual',
    window: optional(o.window, 'window', (x, p) => num(x, p, { int: true, min: 1, max: 1_000 })) ?? 16,
    pageSize: optional(o.pageSize, 'pageSize', (x, p) => num(x, p, { int: true, min: 1, max: 1_000 })) ?? 100,
    skusPerRun: optional(o.skusPerRun, 'skusPerRun', (x, p) => num(x, p, { int: true, min: 1, max: 5_000 })) ?? 500,
    ...(carry ? { carry } : {}),
  };
}

export interface RefreshProgress {
  catalogId: string;
  selection: RefreshSelection;
  dryRun: boolean;
  counts: RefreshCounts;
  inFlight: number;
  cursor: string | null;
  runs: number;
  budgetExhausted: boolean;
  done: boolean;
}

export interface RefreshResult extends RefreshCounts {
  catalogId: string;
  dryRun: boolean;
  budgetExhausted: boolean;
  costUsd: number;
  estimatedCostUsd: number;
  runs: number;
}

export interface RefreshPage {
  skus: Array<{ sku: string; name: string }>;
  /** Upper bound of images one SKU can cost: what the budget reserves per product in flight. */
  imagesPerSku: number;
}

export interface PageEstimate {
  skus: number;
  wouldGenerateSkus: number;
  estimatedImages: number;
  invalid: number;
}
