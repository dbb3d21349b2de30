import { createHash } from 'node:crypto';

/** Akeneo asset codes: letters, digits and underscores, at most 255 characters. */
export const ASSET_CODE = /^[A-Za-z0-9_]{1,255}$/;

/** Room for each readable part, so the code stays well under 255 with the version and the hash. */
const PART_MAX = 60;

function readable(part: string): string {
  const cleaned = part
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, PART_MAX)
    .replace(/_+$/, '');
  return cleaned === '' ? 'x' : cleaned;
}

/**
 * The asset code for one version of one slot of one SKU: readable (catalog, SKU, slot, version) and
 * then a hash of the exact values, because the readable parts lose characters Akeneo does not allow
 * (`AB-1` and `AB_1` would otherwise collide). The same inputs always give the same code, so a retry
 * or a re-publish finds the asset it made. The destination's name is left out on purpose: renaming a
 * destination must not publish every version again.
 */
export function akeneoAssetCode(input: { catalogId: string; sku: string; slot: string; version: number }): string {
  const hash = createHash('sha256').update(JSON.stringify([input.catalogId, input.sku, input.slot, input.version])).digest('hex').slice(0, 12);
  const code = [readable(input.catalogId), readable(input.sku), readable(input.slot), `v${input.version}`, hash].join('_');
  if (!ASSET_CODE.test(code)) throw new Error(`derived asset code is not a valid Akeneo code: ${code}`);
  return code;
}

/** A file name for the upload, with the extension Akeneo's media attribute checks against its allowed list. */
export function mediaFileName(assetCode: string, format: string): string {
  const ext = format === 'jpeg' ? 'jpg' : format;
  return `${assetCode}.${ext}`;
}

/**
 * The Akeneo locale for a product locale: the catalog's map first, then the plain rewrite of a
 * BCP 47 tag with a region (`en-GB` -> `en_GB`); a bare language (`en`) has no Akeneo equivalent.
 */
export function akeneoLocaleFor(locale: string | undefined, map: Record<string, string> | undefined, fallback: string | undefined): string | undefined {
  if (locale) {
    const mapped = map?.[locale];
    if (mapped) return mapped;
    const m = /^([a-zA-Z]{2,3})[-_]([a-zA-Z]{2}|\d{3})$/.exec(locale);
    if (m) return `${m[1]!.toLowerCase()}_${m[2]!.toUpperCase()}`;
  }
  return fallback;
}
