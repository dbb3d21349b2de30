/**
 * Comparing the label text a slot asked for with what OCR read back from the output.
 *
 * Both sides are normalised (Unicode compatibility forms, accents, case, punctuation, whitespace and
 * the glyphs OCR confuses all fold away), then the similarity is that of the best-matching stretch of the reading:
 * 1 − (edits needed to turn the expected text into some substring of the reading) / (length of the
 * expected text). A packshot carries other text (brand marks, the nutrition panel, a watermark), so
 * the label must appear in the reading, not be all of it; inside that stretch every wrong, missing or
 * extra character counts. Plain normalised Levenshtein over the whole reading would fail every image
 * with any other text on it; a token-set score would pass reordered or half-missing words.
 */

/**
 * Folds what OCR cannot be held to: case, accents, punctuation and whitespace (a reader merges and
 * splits words, so spaces are dropped altogether), and the glyphs a sans-serif label makes
 * indistinguishable: l, I, 1 and | read as one another, as do O and 0.
 */
export function normaliseLabel(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}|]+/gu, '')
    .replace(/[il1|]/g, 'l')
    .replace(/0/g, 'o');
}

/**
 * The fewest single-character edits (insert, delete, substitute) that turn `needle` into a substring
 * of `haystack` (semi-global alignment: the reading's leading and trailing text is free).
 */
export function substringEditDistance(needle: string, haystack: string): number {
  const a = [...needle];
  const b = [...haystack];
  if (a.length === 0) return 0;
  // prev[j]: edits for a[0..i) ending at b[j]; a free start anywhere in b (row 0 is all zeros).
  let prev = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1);
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(prev[j - 1]! + cost, prev[j]! + 1, row[j - 1]! + 1);
    }
    prev = row;
  }
  return Math.min(...prev);
}

/** 0 to 1: how much of the expected label the reading holds, character for character. */
export function labelSimilarity(expected: string, read: string): number {
  const e = normaliseLabel(expected);
  const r = normaliseLabel(read);
  if (e.length === 0) return r.length === 0 ? 1 : 0;
  const d = substringEditDistance(e, r);
  return Math.max(0, 1 - d / [...e].length);
}

export type LabelVerdict = 'pass' | 'mismatch' | 'unchecked';

/** A reading against its threshold; `unchecked` when no reader exists for the locale. */
export function labelVerdict(similarity: number | null, threshold: number): LabelVerdict {
  if (similarity === null) return 'unchecked';
  return similarity >= threshold ? 'pass' : 'mismatch';
}
