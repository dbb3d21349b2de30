/**
 * The imaging baseline: the least a script can do to produce the same variants with the same encoder
 * settings. One decode to raw pixels, one clone per variant (resize + encode), outputs written to
 * files. No header checks, no colour-space or orientation handling, no placeholder, no hashing, no
 * fsync: everything the project's materialize step adds on top is what the ratio measures.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { FORMAT_DEFAULTS, FORMAT_MEDIA, type VariantSpec } from '../src/imaging';

export async function minimalVariants(bytes: Buffer, specs: readonly VariantSpec[], outDir?: string): Promise<Array<{ name: string; bytes: number }>> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const base = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  return Promise.all(
    specs.map(async (spec) => {
      let p = base.clone().resize(spec.maxEdge, spec.maxEdge, { fit: 'inside', withoutEnlargement: true });
      const quality = spec.quality ?? FORMAT_DEFAULTS[spec.format].quality;
      const effort = spec.effort ?? FORMAT_DEFAULTS[spec.format].effort;
      if (spec.format === 'avif') p = p.avif({ quality, effort });
      else if (spec.format === 'webp') p = p.webp({ quality, effort });
      else p = p.jpeg({ quality, mozjpeg: true });
      const out = await p.toBuffer();
      if (outDir) await fs.writeFile(path.join(outDir, `${spec.name}.${FORMAT_MEDIA[spec.format].ext}`), out);
      return { name: spec.name, bytes: out.length };
    }),
  );
}
