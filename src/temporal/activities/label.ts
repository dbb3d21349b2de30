/**
 * The label check: read the label text of a paid step's outputs back with OCR (imaging queue, CPU),
 * record every reading, and settle a mismatch in the ledger (workflows queue, Postgres): marked
 * unusable with reason `label-mismatch` while another purchase is allowed, kept for review otherwise.
 */
import { Context, log } from '@temporalio/activity';
import { ocrLanguageFor, readText } from '../../imaging/ocr';
import { getLedgerEntry, markUnusable, unreleasedUnusable } from '../../db/repositories/jobs';
import { recordLabelReading } from '../../db/repositories/labelReadings';
import { labelSimilarity, labelVerdict } from '../../label/compare';
import { FailureType } from '../../shared';
import {
  LABEL_MISMATCH_REASON, type LabelReadingSummary, type ReadLabelInput, type SettledLabelMismatch, type SettleLabelMismatchInput,
} from '../../shared/label';
import type { ActivityDeps } from './deps';
import { fail, toFailure } from './failures';

function heartbeat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // called outside an activity (a test): nothing to report to
  }
}

/** Whether the plan reads this locale (its own list, if any; every locale with a reader otherwise). */
function localeListed(locale: string | null, locales: string[] | undefined): boolean {
  if (!locales) return true;
  const norm = (l: string) => l.trim().toLowerCase().replace('-', '_');
  const wanted = norm(locale ?? 'en');
  return locales.some((l) => norm(l) === wanted || norm(l) === wanted.split('_')[0]);
}

function quote(text: string, max = 120): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max - 1)}…` : text);
}

export function createLabelReadingActivities(deps: ActivityDeps) {
  return {
    /** OCR of every output of one paid step against the label text its slot asked for. */
    async readLabel(input: ReadLabelInput): Promise<LabelReadingSummary> {
      const { label } = input;
      const language = localeListed(label.locale, label.locales) ? ocrLanguageFor(label.locale) : undefined;
      const base = { catalogId: input.catalogId, sku: input.sku, slot: input.slot, idempotencyKey: input.idempotencyKey, providerJobId: input.jobId };
      const summary = (s: Omit<LabelReadingSummary, 'expected' | 'threshold' | 'locale' | 'jobId'>): LabelReadingSummary => ({
        ...s,
        expected: label.expected,
        threshold: label.threshold,
        locale: label.locale,
        jobId: input.jobId,
      });
      if (!language) {
        // No reader for this locale: recorded as unchecked, never as passed.
        const reason = `not checked: no OCR traineddata for locale ${JSON.stringify(label.locale ?? 'en')}${label.locales ? ' in the plan\'s locales' : ''}`;
        for (const output of input.outputs) {
          await recordLabelReading(deps.db, {
            ...base, outputIndex: output.index, storageKey: output.storageKey, expected: label.expected, readText: null, similarity: null,
            threshold: label.threshold, verdict: 'unchecked', locale: label.locale, language: null, confidence: null, ocrMs: null,
          });
        }
        return summary({ verdict: 'unchecked', read: null, similarity: null, language: null, reason });
      }
      let worst: { read: string; similarity: number } | undefined;
      for (const output of input.outputs) {
        heartbeat({ index: output.index });
        let bytes: Buffer;
        try {
          bytes = await deps.storage.get(output.storageKey);
        } catch (err) {
          throw toFailure(err, `reading stored output ${output.index} of step ${input.idempotencyKey}`);
        }
        let reading;
        try {
          reading = await readText(bytes, language, deps.outputLimits);
        } catch (err) {
          throw fail(FailureType.invalidImage, `output ${output.index} of step ${input.idempotencyKey} could not be read for its label: ${(err as Error).message}`);
        }
        const similarity = labelSimilarity(label.expected, reading.text);
        await recordLabelReading(deps.db, {
          ...base, outputIndex: output.index, storageKey: output.storageKey, expected: label.expected, readText: reading.text.slice(0, 4_000),
          similarity, threshold: label.threshold, verdict: labelVerdict(similarity, label.threshold), locale: label.locale, language,
          confidence: reading.confidence, ocrMs: reading.prepareMs + reading.readMs,
        });
        if (!worst || similarity < worst.similarity) worst = { read: reading.text, similarity };
      }
      if (!worst) return summary({ verdict: 'unchecked', read: null, similarity: null, language, reason: 'not checked: the step has no outputs' });
      const verdict = labelVerdict(worst.similarity, label.threshold);
      const reason = `label read ${quote(worst.read)} for ${quote(label.expected)}: similarity ${worst.similarity.toFixed(2)} ${verdict === 'pass' ? '≥' : '<'} ${label.threshold}`;
      log.info(`label ${verdict}`, { sku: input.sku, slot: input.slot, similarity: worst.similarity });
      return summary({ verdict, read: worst.read.slice(0, 500), similarity: Math.round(worst.similarity * 1000) / 1000, language, reason });
    },
  };
}

export function createLabelLedgerActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    /**
     * A label that read back wrong: while this generation has had fewer mismatches than allowed and the
     * paid attempt cap leaves room for one more purchase, the step is marked unusable (`label-mismatch`,
     * counted against the cap) and the slot regenerates; otherwise the step stays as it is, to be kept
     * and reviewed. Idempotent: a retry after the mark answers `regenerate` again.
     */
    async settleLabelMismatch(input: SettleLabelMismatchInput): Promise<SettledLabelMismatch> {
      const entry = await getLedgerEntry(db, input.idempotencyKey);
      if (!entry) throw fail(FailureType.invalidProductData, `no ledger row for step ${input.idempotencyKey}`);
      if (entry.status === 'unusable' && entry.unusable_reason === LABEL_MISMATCH_REASON) return { regenerate: true, reason: 'already marked' };
      const cap = deps.maxPaidAttempts;
      const limit = Math.min(input.maxMismatches ?? cap, cap);
      const spent = (await unreleasedUnusable(db, input)).filter((j) => j.idempotency_key !== input.idempotencyKey).length;
      if (input.mismatches >= limit || spent + 1 >= cap) {
        const why =
          input.mismatches >= limit
            ? `${input.mismatches} label mismatch${input.mismatches === 1 ? '' : 'es'} (at most ${limit} before review)`
            : `the paid attempt cap (${cap}) leaves no room for another purchase`;
        return { regenerate: false, reason: `${why}: ${input.reading.reason}` };
      }
      await markUnusable(db, input.idempotencyKey, LABEL_MISMATCH_REASON, 'LabelMismatch', input.reading.reason.slice(0, 2_000));
      return { regenerate: true, reason: input.reading.reason };
    },
  };
}
