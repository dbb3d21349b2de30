import { StorageError } from './types';

/** Fixed extensions only: nothing caller-supplied (SKU, file name) ever becomes part of a key. */
export const ASSET_EXTENSIONS = ['avif', 'webp', 'jpg', 'png', 'gif', 'tiff'] as const;
export type AssetExtension = (typeof ASSET_EXTENSIONS)[number];

const SHA256 = /^[0-9a-f]{64}$/;
const PREFIX = /^[a-z0-9][a-z0-9_-]{0,62}(?:\/[a-z0-9][a-z0-9_-]{0,62})*$/;
const KEY = new RegExp(
  `^((?:[a-z0-9][a-z0-9_-]{0,62}/)*)([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})\\.(${ASSET_EXTENSIONS.join('|')})$`,
);

/**
 * Builds `[prefix/]ab/cd/<sha256>.<ext>`. The two-level fan-out keeps directories (and S3 listings)
 * small. prefix is a fixed namespace such as 'variants', never user data.
 */
export function contentKey(sha256: string, ext: AssetExtension, prefix?: string): string {
  if (!SHA256.test(sha256)) throw new StorageError('invalid_key', `not a lowercase hex SHA-256: ${JSON.stringify(sha256.slice(0, 80))}`);
  if (!(ASSET_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new StorageError('invalid_key', `extension ${JSON.stringify(ext)} is not one of ${ASSET_EXTENSIONS.join(', ')}`);
  }
  if (prefix !== undefined && !PREFIX.test(prefix)) {
    throw new StorageError('invalid_key', `key prefix ${JSON.stringify(prefix)} must be lowercase slug segments separated by "/"`);
  }
  const base = `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}.${ext}`;
  return prefix ? `${prefix}/${base}` : base;
}

export interface ParsedKey {
  prefix: string | undefined;
  sha256: string;
  ext: AssetExtension;
}

/**
 * Accepts only keys of exactly the form contentKey() builds, so no key can contain '..', an absolute
 * path, a backslash or anything else a filesystem or S3 would interpret.
 */
export function parseContentKey(key: string): ParsedKey {
  const m = typeof key === 'string' ? KEY.exec(key) : null;
  const [, prefixPart = '', a, b, sha256, ext] = m ?? [];
  if (!m || !sha256 || !ext || a !== sha256.slice(0, 2) || b !== sha256.slice(2, 4)) {
    throw new StorageError('invalid_key', `unsafe or malformed asset key ${JSON.stringify(String(key).slice(0, 200))}; expected [prefix/]ab/cd/<sha256>.<ext>`, {
      key: String(key),
    });
  }
  return { prefix: prefixPart ? prefixPart.slice(0, -1) : undefined, sha256, ext: ext as AssetExtension };
}
