/** One export row to one product of the snapshot, or the reason it cannot be imported. */
import { productFingerprint } from '../catalog/fingerprint';
import { invalidHttpUrl, invalidSku, unstorableText } from '../catalog/text';
import { urlAttributesOf, type FieldMapping } from './mapping';
import type { SourceRow } from './source';

export const MAX_FIELD_CHARS = 65_536;
export const MAX_NAME_CHARS = 1_000;

export interface ImportedProduct {
  line: number;
  sku: string;
  name: string;
  attributes: Record<string, unknown>;
  fingerprint: string;
}

export type RowOutcome = { ok: true; product: ImportedProduct } | { ok: false; line: number; reason: string };

/** Normalises a cell: strings are trimmed, empty means absent; JSON-lines numbers and booleans stay typed. */
function cell(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') {
    const t = value.trim();
    return t === '' ? undefined : t;
  }
  return value;
}

function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export function rowValidator(mapping: FieldMapping): (row: SourceRow) => RowOutcome {
  const urlAttributes = urlAttributesOf(mapping);
  // In key order, so the attributes record is already canonical for its fingerprint.
  const attributeEntries = Object.entries(mapping.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return (row) => {
    if ('error' in row) return { ok: false, line: row.line, reason: row.error };
    const fail = (reason: string): RowOutcome => ({ ok: false, line: row.line, reason });

    const rawSku = cell(row.get(mapping.sku));
    if (rawSku === undefined) return fail(`missing SKU (column "${mapping.sku}")`);
    const sku = asText(rawSku);
    if (sku === undefined) return fail(`SKU (column "${mapping.sku}") must be text`);
    const skuProblem = invalidSku(sku);
    if (skuProblem) return fail(`SKU (column "${mapping.sku}") ${skuProblem}`);

    const rawName = cell(row.get(mapping.name));
    if (rawName === undefined) return fail(`missing name (column "${mapping.name}")`);
    const name = asText(rawName);
    if (name === undefined) return fail(`name (column "${mapping.name}") must be text`);
    if (name.length > MAX_NAME_CHARS) return fail(`name (column "${mapping.name}") is longer than ${MAX_NAME_CHARS} characters`);
    const nameProblem = unstorableText(name);
    if (nameProblem) return fail(`name (column "${mapping.name}") ${nameProblem}`);

    const attributes: Record<string, unknown> = Object.create(null);
    for (const [attribute, column] of attributeEntries) {
      const value = cell(row.get(column));
      if (value === undefined) continue;
      if (typeof value === 'string') {
        if (value.length > MAX_FIELD_CHARS) return fail(`column "${column}" is longer than ${MAX_FIELD_CHARS} characters`);
        const problem = unstorableText(value);
        if (problem) return fail(`column "${column}" ${problem}`);
      } else if (JSON.stringify(value).length > MAX_FIELD_CHARS) {
        return fail(`column "${column}" is larger than ${MAX_FIELD_CHARS} characters`);
      }
      if (urlAttributes.has(attribute)) {
        const problem = typeof value === 'string' ? invalidHttpUrl(value) : 'is not a URL';
        if (problem) return fail(`${attribute} (column "${column}") ${problem}: ${JSON.stringify(value).slice(0, 100)}`);
      }
      attributes[attribute] = value;
    }
    const plain = { ...attributes };
    return { ok: true, product: { line: row.line, sku, name, attributes: plain, fingerprint: productFingerprint({ name, attributes: plain }) } };
  };
}
