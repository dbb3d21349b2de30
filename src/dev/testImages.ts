import sharp, { type Sharp } from 'sharp';
import { createRandom } from '../support/random';

export interface TestImageOptions {
  width: number;
  height: number;
  format: 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'tiff';
  /** Same seed, same picture. */
  seed?: number;
  /** Printed on the pack's label. */
  text?: string;
  /** Transparent background instead of a studio backdrop (not for JPEG). */
  transparent?: boolean;
  /** EXIF orientation tag 1-8 written into the file; pixels stay as drawn. */
  orientation?: number;
  /** 'cmyk' for JPEG/TIFF, as print-oriented PIMs export. */
  colourspace?: 'srgb' | 'cmyk';
  /** 16 bits per channel (PNG/TIFF only). */
  bitDepth?: 8 | 16;
  /** More than 1 makes an animated GIF or WebP. */
  frames?: number;
  quality?: number;
}

/**
 * Real, decodable images for tests, fixtures and the simulator's sample packshots: a seeded studio
 * backdrop with a product pack and a label, drawn as SVG and encoded by sharp.
 */
export async function makeTestImage(opts: TestImageOptions): Promise<Buffer> {
  const { format, frames = 1, seed = 1 } = opts;
  if (opts.transparent && format === 'jpeg') throw new RangeError('JPEG cannot carry transparency');
  if (opts.colourspace === 'cmyk' && format !== 'jpeg' && format !== 'tiff') throw new RangeError('CMYK needs JPEG or TIFF');
  if (opts.bitDepth === 16 && format !== 'png' && format !== 'tiff') throw new RangeError('16-bit needs PNG or TIFF');
  if (frames > 1 && format !== 'gif' && format !== 'webp') throw new RangeError('animation needs GIF or WebP');

  let image: Sharp;
  if (frames > 1) {
    const stills = await Promise.all(
      Array.from({ length: frames }, (_, i) => sharp(Buffer.from(packshotSvg({ ...opts, seed: seed + i }))).png().toBuffer()),
    );
    image = sharp(stills, { join: { animated: true } });
  } else {
    image = sharp(Buffer.from(packshotSvg(opts)));
  }
  if (opts.orientation !== undefined) image = image.withMetadata({ orientation: opts.orientation });
  if (opts.colourspace === 'cmyk') image = image.toColourspace('cmyk');
  if (opts.bitDepth === 16) image = image.toColourspace('rgb16');
  if (!opts.transparent && format !== 'gif') image = image.flatten({ background: '#ffffff' });

  const quality = opts.quality ?? 90;
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality }).toBuffer();
    case 'png':
      return image.png().toBuffer();
    case 'webp':
      return image.webp({ quality }).toBuffer();
    case 'avif':
      return image.avif({ quality: Math.min(quality, 70), effort: 0 }).toBuffer();
    case 'gif':
      return image.gif().toBuffer();
    case 'tiff':
      return image.tiff().toBuffer();
  }
}

function packshotSvg(opts: TestImageOptions & { seed?: number }): string {
  const { width: w, height: h, text = 'SAMPLE', transparent = false } = opts;
  const rand = createRandom(opts.seed ?? 1).next;
  const hue = Math.floor(rand() * 360);
  const pack = `hsl(${hue},65%,45%)`;
  const backdropTop = `hsl(${(hue + 180) % 360},25%,92%)`;
  const backdropBottom = `hsl(${(hue + 180) % 360},20%,78%)`;
  const pw = w * (0.3 + rand() * 0.1);
  const ph = h * (0.55 + rand() * 0.1);
  const px = (w - pw) / 2;
  const py = (h - ph) / 2;
  const fontSize = Math.max(6, Math.round(pw / Math.max(4, text.length * 0.7)));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">
  <defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${backdropTop}"/><stop offset="1" stop-color="${backdropBottom}"/></linearGradient></defs>
  ${transparent ? '' : `<rect width="${w}" height="${h}" fill="url(#bg)"/>`}
  <rect x="${px}" y="${py}" width="${pw}" height="${ph}" rx="${pw * 0.12}" fill="${pack}"/>
  <rect x="${px + pw * 0.08}" y="${py + ph * 0.35}" width="${pw * 0.84}" height="${ph * 0.3}" fill="#fafafa"/>
  <text x="${w / 2}" y="${py + ph * 0.5}" font-family="sans-serif" font-size="${fontSize}" text-anchor="middle" dominant-baseline="middle" fill="#222">${escapeXml(text)}</text>
</svg>`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
