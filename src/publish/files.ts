/**
 * Which stored file of an asset goes to a destination: the variant its settings name for the slot,
 * the `original`, or by default the largest variant (JPEG first among equals: every destination takes it).
 */
import type { AssetVariantsTable } from '../db/schema';
import type { PublishFile } from './destination';

/** A stored variant as `asset_variants` holds it. */
export type StoredVariant = Omit<AssetVariantsTable, 'asset_id'>;

export interface StoredAsset {
  format: string;
  width: number;
  height: number;
  checksum: string;
  storage_key: string;
  variants: StoredVariant[];
}

const CONTENT_TYPES: Record<string, string> = { jpeg: 'image/jpeg', jpg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif', png: 'image/png' };
const FORMAT_RANK: Record<string, number> = { jpeg: 0, jpg: 0, png: 1, webp: 2, avif: 3 };

export class FileChoiceError extends Error {
  override readonly name = 'FileChoiceError';
}

function publishFormat(format: string, what: string): PublishFile['format'] {
  const f = format === 'jpg' ? 'jpeg' : format;
  if (f === 'jpeg' || f === 'webp' || f === 'avif' || f === 'png') return f;
  throw new FileChoiceError(`${what} is ${format}; destinations take JPEG, PNG, WebP or AVIF`);
}

export function publicUrlOf(base: string | undefined, storageKey: string): string | undefined {
  if (!base) return undefined;
  return `${base.replace(/\/+$/, '')}/${storageKey.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * The file for one slot at one destination. `choice` is the destination's `slots[slot]` (undefined:
 * the largest variant). `bytesOfOriginal` is asked only for `original` (the asset row keeps no size).
 */
export async function chooseFile(
  asset: StoredAsset,
  choice: string | undefined,
  o: { publicBaseUrl?: string; field: string; bytesOfOriginal(key: string): Promise<number> },
): Promise<PublishFile> {
  if (choice === 'original') {
    const format = publishFormat(asset.format, 'the original');
    return {
      variant: 'original',
      format,
      contentType: CONTENT_TYPES[format]!,
      width: asset.width,
      height: asset.height,
      bytes: await o.bytesOfOriginal(asset.storage_key),
      sha256: asset.checksum,
      storageKey: asset.storage_key,
      ...(o.publicBaseUrl ? { publicUrl: publicUrlOf(o.publicBaseUrl, asset.storage_key) } : {}),
    };
  }
  let v: StoredVariant | undefined;
  if (choice !== undefined) {
    v = asset.variants.find((x) => x.name === choice);
    if (!v) {
      throw new FileChoiceError(`${o.field}: variant "${choice}" is not one of this asset's variants (${asset.variants.map((x) => x.name).join(', ') || 'none'}, or original)`);
    }
  } else {
    v = [...asset.variants]
      .filter((x) => x.format in FORMAT_RANK)
      .sort((a, b) => b.width * b.height - a.width * a.height || FORMAT_RANK[a.format]! - FORMAT_RANK[b.format]! || a.name.localeCompare(b.name))[0];
    if (!v) return chooseFile(asset, 'original', o);
  }
  const format = publishFormat(v.format, `variant ${v.name}`);
  return {
    variant: v.name,
    format,
    contentType: CONTENT_TYPES[format]!,
    width: v.width,
    height: v.height,
    bytes: v.bytes,
    sha256: v.sha256,
    storageKey: v.storage_key,
    ...(o.publicBaseUrl ? { publicUrl: publicUrlOf(o.publicBaseUrl, v.storage_key) } : {}),
  };
}
