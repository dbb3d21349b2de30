/** The catalog refresh workflow's shapes. Workflow-safe (no schema library: see check.ts). */
import { arrayOf, at, bool, InputCheckError, num, objectOf, oneOf, optional, str } from './check';

export const SELECTIONS = ['changed', 'stale', 'all'] as const;
/** A listed selection names at most this many SKUs. */
export const MAX_LISTED_SKUS = 10_000;
export const MAX_SKU_LENGTH = 200;
export type RefreshSelection = (typeof SELECTIONS)[number] | { skus: string[] };

/** One slot of one SKU that a refresh could not prepare or generate, and why. */
export interface RefreshFailure {
  sku: string;
  /** The slot, or `*` when the SKU's plan itself could not be loaded. */
  slot: string;
  errorType: string;
  reason: string;
}

/**
 * Failures listed in a refresh's result and carried across continue-as-new: the first ones only, so
 * its history stays bounded; `failureCount` counts them all (a dry run's are all in refresh_failures).
 */
export const MAX_LISTED_FAILURES = 100;
/** A listed reason is cut to this length (the full text is in slot_attempts or refresh_failures). */
export const MAX_FAILURE_REASON = 500;

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
  /** Absent in carries made before failures were listed. */
  failures?: RefreshFailure[];
  failureCount?: number;
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

function parseFailure(v: unknown, path: string): RefreshFailure {
  const o = objectOf(v, path, ['sku', 'slot', 'errorType', 'reason']);
  return {
    sku: str(o.sku, at(path, 'sku'), { max: MAX_SKU_LENGTH }),
    slot: str(o.slot, at(path, 'slot'), { max: 200 }),
    errorType: str(o.errorType, at(path, 'errorType'), { max: 200 }),
    reason: str(o.reason, at(path, 'reason'), { max: MAX_FAILURE_REASON }),
  };
}

function parseCarry(v: unknown, path: string): RefreshCarry {
  const o = objectOf(v, path, ['cursor', 'counts', 'startedAt', 'runs', 'budgetExhausted', 'failures', 'failureCount']);
  const c = objectOf(o.counts, `${path}.counts`, COUNT_KEYS);
  const counts = emptyCounts();
  for (const k of COUNT_KEYS) counts[k] = num(c[k], `${path}.counts.${k}`, { int: true });
  const failures = optional(o.failures, `${path}.failures`, (x, p) => arrayOf(x, p, parseFailure, { max: MAX_LISTED_FAILURES }));
  const failureCount = optional(o.failureCount, `${path}.failureCount`, (x, p) => num(x, p, { int: true, min: 0 }));
  return {
    ...(failures ? { failures } : {}),
    ...(failureCount !== undefined ? { failureCount } : {}),
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
  /** Slots that could not be prepared or generated so far (all of them, not only the listed ones). */
  failureCount: number;
}

export interface RefreshResult extends RefreshCounts {
  catalogId: string;
  dryRun: boolean;
  budgetExhausted: boolean;
  costUsd: number;
  estimatedCostUsd: number;
  runs: number;
  /**
   * The first MAX_LISTED_FAILURES failed slots, in the order met: in a dry run every slot that could
   * not be prepared; in a real run every slot that failed. `failureCount` counts them all.
   */
  failures: RefreshFailure[];
  failureCount: number;
}

export interface RefreshPage {
  skus: Array<{ sku: string; name: string }>;
  /** Upper bound of images one SKU can cost: what the budget reserves per product in flight. */
  imagesPerSku: number;
}

export interface PageEstimate {
  skus: number;
  /** SKUs a real run would generate for with every slot prepared. */
  wouldGenerateSkus: number;
  /** Images a real run would buy, those of the SKUs that would fail in part included. */
  estimatedImages: number;
  /** SKUs with at least one slot that cannot be prepared: a real run would fail them. */
  invalid: number;
  /** The first of this page's failed slots (as many as the caller asked for). */
  failures: RefreshFailure[];
  /** This page's failed slots, all of them (each one is in refresh_failures). */
  failureCount: number;
}
