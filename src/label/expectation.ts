/** What a slot's label must read, from its plan's `labelCheck` and the product's attributes. */
import { attributeText, type Slot } from '../shared/plan';
import type { LabelExpectation } from '../shared/steps';

/** Undefined when the slot has no check or the product gives no label text to check against. */
export function labelExpectation(slot: Slot, attributes: Record<string, unknown>): LabelExpectation | undefined {
  const check = slot.labelCheck;
  if (!check) return undefined;
  const expected = attributeText(attributes, check.attribute);
  if (expected === undefined) return undefined;
  return {
    expected,
    locale: attributeText(attributes, check.localeAttribute) ?? null,
    threshold: check.threshold,
    ...(check.locales ? { locales: check.locales } : {}),
    ...(check.maxMismatches !== undefined ? { maxMismatches: check.maxMismatches } : {}),
  };
}
