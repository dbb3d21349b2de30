/** The label check's step shapes, workflow-safe (no Node imports, no zod). */
import type { LabelExpectation, StoredOutput } from './steps';

export type LabelVerdict = 'pass' | 'mismatch' | 'unchecked';

/** The unusable reason of a paid step whose label read back wrong. */
export const LABEL_MISMATCH_REASON = 'label-mismatch';

export interface ReadLabelInput {
  catalogId: string;
  sku: string;
  slot: string;
  idempotencyKey: string;
  jobId: string;
  outputs: StoredOutput[];
  label: LabelExpectation;
}

/** A step's reading: the worst of its outputs (a mismatch on any output is a mismatch). */
export interface LabelReadingSummary {
  verdict: LabelVerdict;
  expected: string;
  /** What OCR read (whitespace collapsed); null when unchecked. */
  read: string | null;
  similarity: number | null;
  threshold: number;
  locale: string | null;
  /** The reader's language (`eng`), null when the locale has none. */
  language: string | null;
  /** Why it was not checked, or what was read against what. */
  reason: string;
  jobId: string;
}

export interface SettleLabelMismatchInput {
  catalogId: string;
  sku: string;
  slot: string;
  fingerprint: string;
  idempotencyKey: string;
  /** Mismatches in this generation so far, this one included. */
  mismatches: number;
  maxMismatches?: number;
  reading: LabelReadingSummary;
}

export interface SettledLabelMismatch {
  /** True: the step was marked unusable (`label-mismatch`) and one more may be bought. */
  regenerate: boolean;
  /** Why not, when the slot goes to review instead. */
  reason: string;
}
