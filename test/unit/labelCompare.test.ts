import { describe, expect, it } from 'vitest';
import { labelSimilarity, labelVerdict, normaliseLabel, substringEditDistance } from '../../src/label/compare';
import { labelExpectation } from '../../src/label/expectation';
import { labelTextOf, misspell } from '../../src/provider/simulator/render';
import { DEFAULT_PLAN, planSchema, renderTemplate } from '../../src/shared/plan';

describe('label text normalisation', () => {
  it('folds case, accents, punctuation and whitespace', () => {
    expect(normaliseLabel('  Night-Cream,\n 50\tml! ')).toBe(normaliseLabel('night cream 50 ml'));
    expect(normaliseLabel('Night Cream 50 ml')).toBe('nlghtcream5oml');
    expect(normaliseLabel('Crème  Brûlée')).toBe(normaliseLabel('creme brulee'));
    expect(normaliseLabel('ﬁne ２５０ g')).toBe(normaliseLabel('fine 250 g')); // compatibility forms
    expect(normaliseLabel('...')).toBe('');
  });

  it('reads the glyphs a sans-serif label makes alike as one another: l, I, 1, | and O, 0', () => {
    expect(normaliseLabel('Oat Milk 1 l')).toBe(normaliseLabel('OAT MlLK 11'));
    expect(normaliseLabel('100 g')).toBe(normaliseLabel('1OO g'));
    expect(normaliseLabel('Night')).not.toBe(normaliseLabel('Nighf'));
  });
});

describe('label similarity', () => {
  it('is 1 for the same text however it is cased, spaced or punctuated', () => {
    expect(labelSimilarity('Night Cream 50 ml', 'NIGHT  CREAM — 50 ML.')).toBe(1);
  });

  it('ignores the other text on the packshot around the label', () => {
    expect(labelSimilarity('Night Cream 50 ml', 'LOCAL SIMULATOR Night Cream 50 ml AI GENERATED edit: Change only')).toBe(1);
  });

  it('counts every wrong, missing or extra character inside the label', () => {
    expect(substringEditDistance('nightcream', 'xxnigthcreamyy')).toBe(2); // a transposition is two edits
    expect(labelSimilarity('Night Cream 50 ml', 'Night Cram 50 ml')).toBeCloseTo(1 - 1 / 14, 5);
    expect(labelSimilarity('Night Cream 50 ml', 'Night Cream 500 ml')).toBeCloseTo(1 - 1 / 14, 5);
    expect(labelSimilarity('Night Cream 50 ml', 'Day Lotion')).toBeLessThan(0.5);
    expect(labelSimilarity('Night Cream 50 ml', '')).toBe(0);
  });

  it('an OCR slip passes the default threshold; the simulator\'s misspelling does not', () => {
    expect(labelSimilarity('Night Cream 50 ml, with Shea Butter', 'Night Cream 50 ml, with Shea Buttor')).toBeGreaterThanOrEqual(0.85);
    for (const label of ['Night Cream 50 ml', 'Organic Green Tea, 20 bags', 'Vitamin C Serum 30 ml', 'Oat Milk 1 l', 'Dark Chocolate 70% 100 g']) {
      for (const offset of [0, 1, 2]) {
        const wrong = misspell(label, offset);
        expect(wrong).not.toBe(label);
        expect(normaliseLabel(wrong).length).toBe(normaliseLabel(label).length);
        expect(labelSimilarity(label, wrong), `${label} → ${wrong}`).toBeLessThan(0.85);
      }
    }
  });
});

describe('label verdicts', () => {
  it('passes at or above the threshold, mismatches below, and is unchecked without a reading', () => {
    expect(labelVerdict(0.85, 0.85)).toBe('pass');
    expect(labelVerdict(0.849, 0.85)).toBe('mismatch');
    expect(labelVerdict(null, 0.85)).toBe('unchecked');
  });
});

describe('the label slot of the default plan', () => {
  const slot = DEFAULT_PLAN.slots.find((s) => s.name === 'label')!;

  it('checks labelText at 0.85, with the locale from the locale attribute', () => {
    expect(slot.labelCheck).toEqual({ attribute: 'labelText', threshold: 0.85, localeAttribute: 'locale' });
    expect(labelExpectation(slot, { labelText: ' Night Cream 50 ml ', locale: 'de_DE' })).toEqual({ expected: 'Night Cream 50 ml', locale: 'de_DE', threshold: 0.85 });
    expect(labelExpectation(slot, { labelText: 'Night Cream 50 ml' })).toEqual({ expected: 'Night Cream 50 ml', locale: null, threshold: 0.85 });
    expect(labelExpectation(slot, {})).toBeUndefined();
    expect(labelExpectation(DEFAULT_PLAN.slots[0]!, { labelText: 'x' })).toBeUndefined();
  });

  it('the simulator finds the requested text in the rendered prompt, quotes and locale note included', () => {
    const prompt = (labelText: string, locale?: string) => renderTemplate(slot.promptTemplate, { labelText, ...(locale ? { locale } : {}) });
    expect(labelTextOf(prompt('Night Cream 50 ml'))).toBe('Night Cream 50 ml');
    expect(labelTextOf(prompt('Night Cream 50 ml', 'de'))).toBe('Night Cream 50 ml');
    expect(labelTextOf(prompt('The "Original" Tonic. 200 ml'))).toBe('The "Original" Tonic. 200 ml');
    expect(labelTextOf('Studio product photograph of a jar')).toBeUndefined();
  });

  it('rejects a bad labelCheck naming the field', () => {
    const bad = structuredClone(DEFAULT_PLAN) as unknown as { slots: Array<Record<string, unknown>> };
    bad.slots[1]!.labelCheck = { attribute: 'labelText', threshold: 1.5 };
    const parsed = planSchema.safeParse(bad);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.path).toEqual(['slots', 1, 'labelCheck', 'threshold']);
  });
});
