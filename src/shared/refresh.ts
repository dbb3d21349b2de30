/** The catalog refresh workflow's shapes. Workflow-safe. */
import { z } from 'zod';

export const selectionSchema = z.union([
  z.enum(['changed', 'stale', 'all']),
  z.object({ skus: z.array(z.string().min(1).max(200)).min(1).max(10_000) }).strict(),
]);
export type RefreshSelection = z.infer<typeof selectionSchema>;

export const budgetSchema = z
  .object({
    images: z.number().int().min(0).optional(),
    usd: z.number().min(0).optional(),
  })
  .strict();
export type RefreshBudget = z.infer<typeof budgetSchema>;

export const refreshCountsSchema = z.object({
  planned: z.number().int(),
  skipped: z.number().int(),
  generated: z.number().int(),
  failed: z.number().int(),
  coalesced: z.number().int(),
  submissions: z.number().int(),
  imagesBilled: z.number().int(),
  costCents: z.number().int(),
  /** Dry run: what a real run would generate. */
  estimatedImages: z.number().int(),
  invalid: z.number().int(),
});
export type RefreshCounts = z.infer<typeof refreshCountsSchema>;

export const emptyCounts = (): RefreshCounts => ({
  planned: 0, skipped: 0, generated: 0, failed: 0, coalesced: 0, submissions: 0, imagesBilled: 0, costCents: 0, estimatedImages: 0, invalid: 0,
});

export const refreshWorkflowInputSchema = z
  .object({
    catalogId: z.string().min(1).max(200),
    selection: selectionSchema.default('stale'),
    dryRun: z.boolean().default(false),
    budget: budgetSchema.optional(),
    trigger: z.enum(['manual', 'schedule', 'webhook', 'import']).default('manual'),
    /** Product workflows in flight at once. */
    window: z.number().int().min(1).max(1_000).default(16),
    pageSize: z.number().int().min(1).max(1_000).default(100),
    /** SKUs per run before continue-as-new keeps the history bounded. */
    skusPerRun: z.number().int().min(1).max(5_000).default(500),
    /** Carried across continue-as-new. */
    carry: z
      .object({
        cursor: z.string().nullable(),
        counts: refreshCountsSchema,
        startedAt: z.string(),
        runs: z.number().int(),
        budgetExhausted: z.boolean(),
      })
      .optional(),
  })
  .strict();
export type RefreshWorkflowInput = z.input<typeof refreshWorkflowInputSchema>;

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
