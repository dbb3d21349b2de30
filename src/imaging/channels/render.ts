/**
 * Channel variants and their checks, from the pixels renderVariants already decoded (never a second
 * decode). Per profile: flatten on white, trim a near-white background, pad on white (square, to the
 * fill target), downscale to the limits (never enlarge), then measure the pixels that are encoded and
 * check every rule the profile names. What processing cannot fix fails with its figures.
 */
import sharp from 'sharp';
import type { ChannelCheckSummary, ChannelFigures, ChannelProfile, ChannelRuleFailure } from '../../shared/channelProfiles';
import { sha256Hex } from '../inspect';
import { type Box, edgeFigures, type EdgeFigures, fillRatio, hasBorder, hasWhiteBackground, productBox, type RawImage } from './measure';

const WHITE = { r: 255, g: 255, b: 255 };
const WHITE_ALPHA = { r: 255, g: 255, b: 255, alpha: 1 };

export const CHANNEL_MEDIA = {
  jpeg: { ext: 'jpg', contentType: 'image/jpeg' },
  png: { ext: 'png', contentType: 'image/png' },
  webp: { ext: 'webp', contentType: 'image/webp' },
} as const;

export interface RenderedChannel {
  /** The stored variant: named after the profile. */
  variant: { name: string; format: ChannelProfile['format']; width: number; height: number; bytes: number; sha256: string; data: Buffer };
  check: ChannelCheckSummary;
}

/** The decode size renderVariants needs so every channel gets the pixels it may use. */
export function channelDecodeEdge(profiles: readonly ChannelProfile[]): number {
  // A trimmed product is enlarged relative to the frame, so it needs the source's full resolution.
  return Math.max(0, ...profiles.map((p) => (p.processing.trim ? 16_384 : p.maxEdge)));
}

/** What every profile shares: the flattened pixels and the background analysis, computed once. */
interface Analysis {
  flat: RawImage;
  source: RawImage;
  edges: EdgeFigures;
  whiteBackground: boolean;
  box: Box | undefined;
}

async function analyse(decoded: RawImage, transparent: boolean): Promise<Analysis> {
  let flat = decoded;
  if (decoded.channels === 4 || decoded.channels === 2) {
    const data = transparent
      ? await sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: decoded.channels as 4 } }).flatten({ background: WHITE }).raw().toBuffer()
      : await sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: decoded.channels as 4 } }).removeAlpha().raw().toBuffer();
    flat = { data, width: decoded.width, height: decoded.height, channels: 3 };
  }
  const edges = edgeFigures(flat);
  return { flat, source: decoded, edges, whiteBackground: hasWhiteBackground(edges), box: productBox(flat) };
}

/** Renders and checks every profile against one decoded image. */
export async function renderChannels(decoded: RawImage, profiles: readonly ChannelProfile[], transparent: boolean, xmp?: string): Promise<RenderedChannel[]> {
  if (profiles.length === 0) return [];
  const analysis = await analyse(decoded, transparent);
  // Profiles that ask for the same pixels share one processing and one measurement; the same pixels in
  // the same encoding share one encode (Google and Shopify usually want the very same file).
  const layouts = new Map<string, Promise<Processed>>();
  const encodes = new Map<string, Promise<Buffer>>();
  return Promise.all(
    profiles.map(async (profile) => {
      const layout = planLayout(analysis, profile, transparent);
      const lkey = JSON.stringify(layout.key);
      if (!layouts.has(lkey)) layouts.set(lkey, processAndMeasure(layout, profile.rules.noBorder === true));
      const processed = await layouts.get(lkey)!;
      if (profile.rules.noBorder && processed.border === undefined) processed.border = hasBorder(processed.view);
      const ekey = `${lkey}|${profile.format}|${profile.quality}`;
      if (!encodes.has(ekey)) encodes.set(ekey, encode(processed.pixels, profile, xmp));
      const data = await encodes.get(ekey)!;
      return finish(analysis, profile, layout, processed, data);
    }),
  );
}

interface Layout {
  src: RawImage;
  crop: Box;
  /** Output size and where the (scaled) crop sits in it. */
  outW: number;
  outH: number;
  cropW: number;
  cropH: number;
  padLeft: number;
  padTop: number;
  keepAlpha: boolean;
  scale: number;
  done: string[];
  key: unknown[];
}

function planLayout(a: Analysis, profile: ChannelProfile, transparent: boolean): Layout {
  const { processing: proc, rules } = profile;
  const done: string[] = [];
  const keepAlpha = transparent && !proc.flatten && profile.format !== 'jpeg';
  const src = keepAlpha ? a.source : a.flat;
  if (transparent && !keepAlpha) done.push('flattened transparency on white');

  // Trim and white padding only where the background is white: padding a scene with white would
  // fake a white background, so such an image keeps its edges and fails the rule that needs them.
  let crop: Box = { left: 0, top: 0, width: src.width, height: src.height };
  const whiteOk = a.whiteBackground || rules.whiteEdges === undefined;
  if (proc.trim && a.whiteBackground && a.box && (a.box.width < src.width || a.box.height < src.height)) {
    crop = a.box;
    done.push(`trimmed near-white margins to ${crop.width}x${crop.height}`);
  }
  // Trimmed to the product on white: margins of white put the product at the fill target.
  const fitted = proc.trim && a.whiteBackground && a.box !== undefined;
  let canvasW = fitted ? Math.max(crop.width, Math.ceil(crop.width / proc.fillTarget)) : crop.width;
  let canvasH = fitted ? Math.max(crop.height, Math.ceil(crop.height / proc.fillTarget)) : crop.height;
  if (proc.padSquare && whiteOk) {
    const side = fitted ? Math.max(canvasW, canvasH, Math.ceil(Math.max(crop.width, crop.height) / proc.fillTarget)) : Math.max(canvasW, canvasH);
    canvasW = side;
    canvasH = side;
  }

  // Downscale to the variant size and the channel's limits; never enlarge.
  const long = Math.max(canvasW, canvasH);
  let scale = Math.min(1, profile.maxEdge / long);
  if (rules.maxLongEdge !== undefined) scale = Math.min(scale, rules.maxLongEdge / long);
  if (rules.maxMegapixels !== undefined) scale = Math.min(scale, Math.sqrt((rules.maxMegapixels * 1e6) / (canvasW * canvasH)));
  const outW = Math.max(1, Math.floor(canvasW * scale));
  const outH = Math.max(1, Math.floor(canvasH * scale));
  const cropW = Math.max(1, Math.min(outW, Math.round(crop.width * scale)));
  const cropH = Math.max(1, Math.min(outH, Math.round(crop.height * scale)));
  const padLeft = Math.floor((outW - cropW) / 2);
  const padTop = Math.floor((outH - cropH) / 2);
  if (cropW !== crop.width || cropH !== crop.height) done.push(`downscaled to ${cropW}x${cropH}`);
  if (outW !== cropW || outH !== cropH) done.push(`padded on white to ${outW}x${outH}`);
  return {
    src, crop, outW, outH, cropW, cropH, padLeft, padTop, keepAlpha, scale, done,
    key: [keepAlpha, crop.left, crop.top, crop.width, crop.height, outW, outH, cropW, cropH, padLeft, padTop],
  };
}

interface Processed {
  pixels: RawImage;
  /** What is shown: the pixels flattened on white. */
  view: RawImage;
  edges: EdgeFigures;
  fill: number;
  border: boolean | undefined;
}

async function processAndMeasure(l: Layout, withBorder: boolean): Promise<Processed> {
  const { src, crop } = l;
  let p = sharp(src.data, { raw: { width: src.width, height: src.height, channels: src.channels as 3 | 4 } });
  if (crop.width !== src.width || crop.height !== src.height) p = p.extract(crop);
  if (l.cropW !== crop.width || l.cropH !== crop.height) p = p.resize(l.cropW, l.cropH, { fit: 'fill' });
  if (l.outW !== l.cropW || l.outH !== l.cropH) {
    p = p.extend({ top: l.padTop, bottom: l.outH - l.cropH - l.padTop, left: l.padLeft, right: l.outW - l.cropW - l.padLeft, background: l.keepAlpha ? WHITE_ALPHA : WHITE });
  }
  const out = await p.raw().toBuffer({ resolveWithObject: true });
  const pixels: RawImage = { data: out.data, width: out.info.width, height: out.info.height, channels: out.info.channels };
  // Measured on the flattened view of what is encoded (a transparent PNG counts as shown on white).
  const view = pixels.channels === 4 ? await flatView(pixels) : pixels;
  return {
    pixels,
    view,
    edges: edgeFigures(view),
    fill: Math.round(fillRatio(productBox(view), view.width, view.height) * 1000) / 1000,
    border: withBorder ? hasBorder(view) : undefined,
  };
}

async function encode(pixels: RawImage, profile: ChannelProfile, xmp: string | undefined): Promise<Buffer> {
  let enc = sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: pixels.channels as 3 | 4 } });
  // The same provenance as every other variant (Merchant Center wants AI images to keep it).
  if (xmp) enc = enc.withIccProfile('srgb').withXmp(xmp);
  // libjpeg-turbo with optimised Huffman tables, not mozjpeg: a channel file is a feed deliverable, and
  // mozjpeg's trellis search costs ~6x the CPU of the whole encode (bench/channels.ts).
  if (profile.format === 'jpeg') return enc.jpeg({ quality: profile.quality, optimiseCoding: true }).toBuffer();
  if (profile.format === 'webp') return enc.webp({ quality: profile.quality }).toBuffer();
  return enc.png({ compressionLevel: 6, adaptiveFiltering: true }).toBuffer();
}

function finish(a: Analysis, profile: ChannelProfile, l: Layout, p: Processed, data: Buffer): RenderedChannel {
  const figures: ChannelFigures = {
    edgeMin: p.edges.min,
    edgeMean: Math.round(p.edges.mean * 10) / 10,
    fill: p.fill,
    width: p.pixels.width,
    height: p.pixels.height,
    megapixels: Math.round((p.pixels.width * p.pixels.height) / 1e4) / 100,
    format: profile.format,
    colourSpace: 'srgb',
    bytes: data.length,
    border: profile.rules.noBorder ? p.border === true : false,
  };
  const { failures, notes } = checkRules(profile, figures, { source: { width: a.source.width, height: a.source.height }, downscaled: l.scale < 1, whiteBackground: a.whiteBackground });
  return {
    variant: { name: profile.name, format: profile.format, width: p.pixels.width, height: p.pixels.height, bytes: data.length, sha256: sha256Hex(data), data },
    check: { profile: profile.name, pass: failures.length === 0, failures, notes, processing: [...l.done], figures },
  };
}

async function flatView(img: RawImage): Promise<RawImage> {
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } }).flatten({ background: WHITE }).raw().toBuffer();
  return { data, width: img.width, height: img.height, channels: 3 };
}

/** Every rule the profile names, against the figures; reasons carry the measured value and the limit. */
export function checkRules(
  profile: ChannelProfile,
  f: ChannelFigures,
  ctx: { source: { width: number; height: number }; downscaled: boolean; whiteBackground: boolean },
): { failures: ChannelRuleFailure[]; notes: string[] } {
  const r = profile.rules;
  const { source, whiteBackground } = ctx;
  const failures: ChannelRuleFailure[] = [];
  const notes: string[] = [];
  const long = Math.max(f.width, f.height);
  const small = ctx.downscaled ? '' : `; never enlarged past the source (${source.width}x${source.height})`;
  if (r.whiteEdges !== undefined && f.edgeMin < r.whiteEdges) {
    const why = whiteBackground ? '' : '; the background is not white, so padding cannot fix it';
    failures.push({ rule: 'whiteEdges', reason: `edge colour min ${f.edgeMin}, mean ${f.edgeMean}; needs every edge pixel at least ${r.whiteEdges}${why}` });
  }
  if (r.minFill !== undefined && f.fill < r.minFill) {
    failures.push({ rule: 'minFill', reason: `product fills ${pct(f.fill)} of the frame; needs at least ${pct(r.minFill)}` });
  }
  if (r.minLongEdge !== undefined && long < r.minLongEdge) {
    failures.push({ rule: 'minLongEdge', reason: `longest side ${long} px (${f.width}x${f.height}); needs at least ${r.minLongEdge} px${small}` });
  }
  if (r.minSide !== undefined && Math.min(f.width, f.height) < r.minSide) {
    failures.push({ rule: 'minSide', reason: `${f.width}x${f.height} px; needs at least ${r.minSide} px on both sides${small}` });
  }
  if (r.maxLongEdge !== undefined && long > r.maxLongEdge) {
    failures.push({ rule: 'maxLongEdge', reason: `longest side ${long} px; at most ${r.maxLongEdge} px` });
  }
  if (r.maxMegapixels !== undefined && f.megapixels > r.maxMegapixels) {
    failures.push({ rule: 'maxMegapixels', reason: `${f.megapixels} MP; at most ${r.maxMegapixels} MP` });
  }
  if (r.maxBytes !== undefined && f.bytes > r.maxBytes) {
    failures.push({ rule: 'maxBytes', reason: `${f.bytes} bytes; at most ${r.maxBytes}` });
  }
  if (r.square && f.width !== f.height) {
    failures.push({ rule: 'square', reason: `${f.width}x${f.height} is not square${whiteBackground || r.whiteEdges === undefined ? '' : '; a scene is not padded with white'}` });
  }
  if (r.formats && !r.formats.includes(f.format)) {
    failures.push({ rule: 'formats', reason: `format ${f.format}; accepted: ${r.formats.join(', ')}` });
  }
  if (r.noBorder && f.border) failures.push({ rule: 'noBorder', reason: 'a uniform frame runs around the picture' });
  if (r.zoomLongEdge !== undefined && long < r.zoomLongEdge) notes.push(`longest side ${long} px is under ${r.zoomLongEdge} px: no zoom`);
  return { failures, notes };
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
