/**
 * Alt text for a published image: the slot's `altTemplate` (or its default) rendered over the
 * product's attributes in the product's locale. A PIM may send localised values as an object keyed by
 * locale (`{ "en_US": "...", "fr_FR": "..." }`); the product's `locale` picks one (exact, then the
 * same language, then the first).
 */
import { altTemplateOf, renderTemplate, type Slot } from '../shared/plan';

const norm = (l: string) => l.trim().replace('-', '_').toLowerCase();

function localised(value: unknown, locale: string | undefined): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => typeof v === 'string' || typeof v === 'number');
  if (entries.length === 0) return value;
  if (locale) {
    const want = norm(locale);
    const exact = entries.find(([k]) => norm(k) === want);
    if (exact) return exact[1];
    const lang = want.split('_')[0];
    const same = entries.find(([k]) => norm(k).split('_')[0] === lang);
    if (same) return same[1];
  }
  return entries[0]![1];
}

/** The product's locale, from its `locale` attribute where it has one. */
export function productLocale(attributes: Record<string, unknown>): string | undefined {
  const l = attributes.locale;
  return typeof l === 'string' && /^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$/.test(l.trim()) ? l.trim() : undefined;
}

export function localisedAttributes(attributes: Record<string, unknown>, locale: string | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, localised(v, locale)]));
}

/** Throws TemplateError (naming the missing attributes) when a required attribute is missing. */
export function renderAltText(slot: Pick<Slot, 'name' | 'altTemplate'>, attributes: Record<string, unknown>): { altText: string; locale?: string } {
  const locale = productLocale(attributes);
  const altText = renderTemplate(altTemplateOf(slot), localisedAttributes(attributes, locale)).slice(0, 512);
  return locale ? { altText, locale } : { altText };
}
