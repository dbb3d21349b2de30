import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits, type InputFormat, readImageHeader, sha256Hex, toImageRejection, untrustedInputOptions } from './inspect';
import type { ChannelProfile } from '../shared/channelProfiles';
import { channelDecodeEdge, renderChannels, type RenderedChannel } from './channels';
import { buildXmpPacket, type ProvenanceFacts } from './provenance';
import { FORMAT_DEFAULTS, type VariantFormat, type VariantSpec, variantSetSchema } from './variantSpec';

export interface RenderOptions {
  limits?: ImageLimits;
  /** Channel profiles to make a variant of and check, from the same decoded pixels. */
  channels?: readonly ChannelProfile[];
  /** When given, every variant carries this provenance as XMP and an sRGB ICC profile. */
  provenance?: ProvenanceFacts;
}

export interface RenderedVariant {
  name: string;
  format: VariantFormat;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  data: Buffer;
}

export interface Placeholder {
  /** Base64 ThumbHash of the image (alpha preserved). */
  thumbhash: string;
  /** '#rrggbb', the dominant colour as shown on a white page. */
  dominantColor: string;
}

export interface RenderResult {
  source: { width: number; height: number; format: InputFormat; sha256: string };
  variants: RenderedVariant[];
  placeholder: Placeholder;
  /** One per requested channel profile: its variant and its check. */
  channels: RenderedChannel[];
}

/** ThumbHash accepts at most 100x100 input. */
const PLACEHOLDER_EDGE = 100;
const WHITE = { r: 255, g: 255, b: 255 };

/**
 * Turns one untrusted image into a set of variants plus a placeholder.
 *
 * The input is decoded exactly once, into oriented 8-bit sRGB pixels no larger than the largest variant
 * (CMYK, 16-bit, greyscale and ICC-tagged inputs all end up there). Every variant is then one clone of
 * that decoded image: one resize, one encode. Nothing from the input's metadata is copied to outputs; with
 * `provenance`, each output carries that XMP packet and an sRGB profile (same facts, same bytes).
 * Encodes run concurrently so libvips' thread pool is busy.
 */
export async function renderVariants(bytes: Buffer, variants: readonly VariantSpec[], opts: RenderOptions = {}): Promise<RenderResult> {
  const specs = variantSetSchema.parse(variants);
  const limits = opts.limits ?? DEFAULT_IMAGE_LIMITS;
  const xmp = opts.provenance ? buildXmpPacket(opts.provenance) : undefined;
  const { info } = await readImageHeader(bytes, limits);

  const profiles = opts.channels ?? [];
  const largest = Math.max(PLACEHOLDER_EDGE, ...specs.map((s) => s.maxEdge), channelDecodeEdge(profiles));
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(bytes, untrustedInputOptions(limits))
      .autoOrient()
      // fastShrinkOnLoad off: JPEG shrink-on-load may otherwise leave slight moiré on zoom images.
      .resize(largest, largest, { fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: false })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw toImageRejection(err, bytes);
  }

  const { width, height, channels } = decoded.info;
  const base = sharp(decoded.data, { raw: { width, height, channels } });
  const alpha = channels === 4 ? (hasTransparency(decoded.data) ? 'transparent' : 'opaque') : 'none';

  const [checked, [placeholder, ...rendered]] = await Promise.all([
    renderChannels({ data: decoded.data, width, height, channels }, profiles, alpha === 'transparent', xmp),
    Promise.all([renderPlaceholder(base.clone()), ...specs.map((spec) => renderOne(base.clone(), spec, alpha, xmp))]),
  ]);
  return {
    source: { width: info.width, height: info.height, format: info.format, sha256: info.sha256 },
    variants: rendered,
    placeholder,
    channels: checked,
  };
}

async function renderOne(pipeline: Sharp, spec: VariantSpec, alpha: 'none' | 'opaque' | 'transparent', xmp?: string): Promise<RenderedVariant> {
  let p = pipeline.resize(spec.maxEdge, spec.maxEdge, { fit: 'inside', withoutEnlargement: true });
  // An alpha channel that is fully opaque only costs bytes; JPEG has no alpha at all, so flatten on white
  // (the storefront background) rather than let transparent pixels turn black.
  if (alpha === 'opaque') p = p.removeAlpha();
  else if (alpha === 'transparent' && spec.format === 'jpeg') p = p.flatten({ background: WHITE });

  const quality = spec.quality ?? FORMAT_DEFAULTS[spec.format].quality;
  const effort = spec.effort ?? FORMAT_DEFAULTS[spec.format].effort;
  switch (spec.format) {
    case 'avif':
      p = p.avif({ quality, effort });
      break;
    case 'webp':
      p = p.webp({ quality, effort });
      break;
    case 'jpeg':
      p = p.jpeg({ quality, mozjpeg: true });
      break;
  }
  // The pixels are already sRGB: the profile tags them so (libvips writes it as ICC in JPEG and WebP and
  // as the colr box in AVIF), and the packet goes where each container keeps XMP (APP1, `XMP `, a mime item).
  if (xmp) p = p.withIccProfile('srgb').withXmp(xmp);
  const { data, info } = await p.toBuffer({ resolveWithObject: true });
  return { name: spec.name, format: spec.format, width: info.width, height: info.height, bytes: data.length, sha256: sha256Hex(data), data };
}

async function renderPlaceholder(pipeline: Sharp): Promise<Placeholder> {
  const small = await pipeline
    .resize(PLACEHOLDER_EDGE, PLACEHOLDER_EDGE, { fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = small.info;
  const thumbhash = Buffer.from(rgbaToThumbHash(width, height, small.data)).toString('base64');

  // stats() reads its input, not the pipeline's result, so flatten first into a separate raw buffer.
  const flat = await sharp(small.data, { raw: { width, height, channels: 4 } }).flatten({ background: WHITE }).raw().toBuffer();
  const { dominant } = await sharp(flat, { raw: { width, height, channels: 3 } }).stats();
  return { thumbhash, dominantColor: toHex(dominant) };
}

function hasTransparency(rgba: Buffer): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return true;
  return false;
}

function toHex({ r, g, b }: { r: number; g: number; b: number }): string {
  return `#${[r, g, b].map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
}
