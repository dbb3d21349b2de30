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
export async function renderChannels(decoded: RawImage, profiles: readonly ChannelProfile[], transparent: boolean): Promise<RenderedChannel[]> {
  if (profiles.length === 0) return [];
  const analysis = await analyse(decoded, transparent);
  return Promise.all(profiles.map((p) => renderChannel(analysis, p, transparent)));
}

async function renderChannel(a: Analysis, profile: ChannelProfile, transparent: boolean): Promise<RenderedChannel> {
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

  let p = sharp(src.data, { raw: { width: src.width, height: src.height, channels: src.channels as 3 | 4 } });
  if (crop.width !== src.width || crop.height !== src.height) p = p.extract(crop);
  if (cropW !== crop.width || cropH !== crop.height) {
    p = p.resize(cropW, cropH, { fit: 'fill' });
    done.push(`downscaled to ${cropW}x${cropH}`);
  }
  if (outW !== cropW || outH !== cropH) {
    p = p.extend({ top: padTop, bottom: outH - cropH - padTop, left: padLeft, right: outW - cropW - padLeft, background: keepAlpha ? WHITE_ALPHA : WHITE });
    done.push(`padded on white to ${outW}x${outH}`);
  }
  const out = await p.raw().toBuffer({ resolveWithObject: true });
  const pixels: RawImage = { data: out.data, width: out.info.width, height: out.info.height, channels: out.info.channels };

  let enc = sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: pixels.channels as 3 | 4 } });
  if (profile.format === 'jpeg') enc = enc.jpeg({ quality: profile.quality, mozjpeg: true });
  else if (profile.format === 'webp') enc = enc.webp({ quality: profile.quality });
  else enc = enc.png({ compressionLevel: 6, adaptiveFiltering: true });
  const data = await enc.toBuffer();

  // Measured on the flattened view of what is encoded (a transparent PNG counts as shown on white).
  const view = pixels.channels === 4 ? await flatView(pixels) : pixels;
  const edges = edgeFigures(view);
  const figures: ChannelFigures = {
    edgeMin: edges.min,
    edgeMean: Math.round(edges.mean * 10) / 10,
    fill: Math.round(fillRatio(productBox(view), view.width, view.height) * 1000) / 1000,
    width: pixels.width,
    height: pixels.height,
    megapixels: Math.round((pixels.width * pixels.height) / 1e4) / 100,
    format: profile.format,
    colourSpace: 'srgb',
    bytes: data.length,
    border: rules.noBorder ? hasBorder(view) : false,
  };
  const { failures, notes } = checkRules(profile, figures, { source: { width: a.source.width, height: a.source.height }, downscaled: scale < 1, whiteBackground: a.whiteBackground });
  return {
    variant: { name: profile.name, format: profile.format, width: pixels.width, height: pixels.height, bytes: data.length, sha256: sha256Hex(data), data },
    check: { profile: profile.name, pass: failures.length === 0, failures, notes, processing: done, figures },
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
