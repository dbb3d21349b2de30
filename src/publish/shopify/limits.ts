import { createHash } from 'node:crypto';
import { PublishError, type PublishFile, type PublishItem } from '../destination';

/** Shopify's published limits for product images. */
export const SHOPIFY_IMAGE_LIMITS = Object.freeze({ maxSide: 4472, maxPixels: 20_000_000, maxBytes: 20 * 1024 * 1024, maxAltLength: 512 });

const CONTENT_TYPES: Partial<Record<PublishFile['format'], { mime: string; ext: string }>> = {
  jpeg: { mime: 'image/jpeg', ext: 'jpg' },
  png: { mime: 'image/png', ext: 'png' },
  webp: { mime: 'image/webp', ext: 'webp' },
};

/** Refuses, with the figures, a file Shopify would refuse: checked before anything is sent. */
export function checkShopifyLimits(file: PublishFile): { mime: string; ext: string } {
  const type = CONTENT_TYPES[file.format];
  if (!type) {
    throw new PublishError(
      `files[${file.variant}].format: ${file.format} is not taken as Shopify product media here; send a jpeg, png or webp variant to Shopify`,
      'rejected',
      false,
    );
  }
  const { maxSide, maxPixels, maxBytes } = SHOPIFY_IMAGE_LIMITS;
  const pixels = file.width * file.height;
  if (file.width > maxSide || file.height > maxSide) {
    throw new PublishError(`files[${file.variant}]: ${file.width}x${file.height} px is over Shopify's ${maxSide} px a side`, 'rejected', false);
  }
  if (pixels > maxPixels) {
    throw new PublishError(
      `files[${file.variant}]: ${file.width}x${file.height} is ${(pixels / 1e6).toFixed(1)} MP, over Shopify's ${maxPixels / 1e6} MP`,
      'rejected',
      false,
    );
  }
  if (file.bytes > maxBytes) {
    throw new PublishError(`files[${file.variant}]: ${file.bytes} bytes is over Shopify's ${maxBytes} bytes (20 MB)`, 'rejected', false);
  }
  return type;
}

/**
 * The file name an uploaded version carries, and the marker re-publishing looks for. Shopify keeps the
 * uploaded file name in the media's CDN URL (appending `_<uuid>` when the name is already taken), so
 * the name is the one fact about our upload that survives in the product's media without a second
 * write. It is readable (SKU, slot, version) and ends in a hash of the publication key, which is what
 * is matched: lower-case letters, digits and dashes only, so Shopify's own file name cleaning leaves it.
 */
export function publicationFileName(item: Pick<PublishItem, 'sku' | 'slot' | 'version' | 'publicationKey'>, ext: string): { fileName: string; marker: string } {
  const marker = publicationMarker(item.publicationKey);
  const readable = `${slug(item.sku)}-${slug(item.slot)}-v${item.version}`.slice(0, 80);
  return { fileName: `${readable}-${marker}.${ext}`, marker };
}

export function publicationMarker(publicationKey: string): string {
  return `ca${createHash('sha256').update(publicationKey).digest('hex').slice(0, 20)}`;
}

/** True when a media URL's file name carries the marker (`…-<marker>.jpg` or `…-<marker>_<uuid>.jpg`). */
export function urlCarriesMarker(url: string | null | undefined, marker: string): boolean {
  if (!url) return false;
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return false;
  }
  const base = decodeURIComponent(pathname.slice(pathname.lastIndexOf('/') + 1)).toLowerCase();
  const at = base.indexOf(`-${marker}`);
  if (at < 0) return false;
  const next = base.charAt(at + marker.length + 1);
  return next === '.' || next === '_';
}

/** Shopify's alt text is at most 512 characters: cut at a word where one is near. */
export function shopifyAlt(alt: string): string {
  const max = SHOPIFY_IMAGE_LIMITS.maxAltLength;
  const text = alt.replace(/\s+/g, ' ').trim();
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > max - 60 ? cut.slice(0, space) : cut}…`;
}

function slug(s: string): string {
  return (
    s
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'x'
  );
}
