/**
 * Real pictures for simulated jobs, drawn with sharp. Everything visible is derived from the request
 * (a hash of the canonical body and the output index), so the same body always gives byte-identical
 * outputs and a different prompt gives a different picture. Each reference is decoded once per job,
 * straight to the size it is drawn at; each output is encoded once.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { LIMITS, type OutputFormat } from '../contract';
import { sha256Hex } from './canonical';
import { JobFailure } from './httpErrors';
import type { LoadedReference } from './references';

export interface RenderSpec {
  operation: 'generate' | 'edit' | 'compose';
  /** The canonical body hash: the root of everything drawn. */
  seed: string;
  prompt: string;
  width: number;
  height: number;
  format: OutputFormat;
  quality: 'standard' | 'high';
  watermark: boolean;
  /** Fault: the label text of an edit is printed misspelled (see `misspellLabel` in faults.ts). */
  misspellLabel?: boolean;
}

export interface RenderedImage {
  bytes: Buffer;
  contentType: string;
  width: number;
  height: number;
}

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

/** Renders the given output indexes of one job. */
export async function renderOutputs(spec: RenderSpec, references: LoadedReference[], indexes: number[]): Promise<Map<number, RenderedImage>> {
  const out = new Map<number, RenderedImage>();
  if (indexes.length === 0) return out;
  const layers = spec.operation === 'generate' ? [] : await decodeLayers(spec, references);
  for (const index of indexes) {
    const palette = paletteFor(spec.seed, index);
    const base =
      spec.operation === 'edit'
        ? sharp(layers[0]!.input as Buffer, { raw: layers[0]!.raw })
        : sharp({ create: { width: spec.width, height: spec.height, channels: 3, background: palette.background } });
    const overlay = Buffer.from(overlaySvg(spec, palette));
    const composites: OverlayOptions[] = spec.operation === 'compose' ? [...layers, { input: overlay }] : [{ input: overlay }];
    const image = base.composite(composites);
    const bytes =
      spec.format === 'png'
        ? await image.png({ compressionLevel: 6 }).toBuffer()
        : await image.jpeg({ quality: spec.quality === 'high' ? 92 : 80 }).toBuffer();
    out.set(index, { bytes, contentType: `image/${spec.format}`, width: spec.width, height: spec.height });
  }
  return out;
}

/** Edit: the source covering the frame. Compose: the first reference as hero on the left, the rest stacked right. */
async function decodeLayers(spec: RenderSpec, references: LoadedReference[]): Promise<OverlayOptions[]> {
  const { width: W, height: H } = spec;
  const cells =
    spec.operation === 'edit' || references.length === 1
      ? [{ left: 0, top: 0, width: W, height: H }]
      : composeCells(W, H, references.length - 1);
  return Promise.all(
    cells.map(async (cell, i) => {
      const ref = references[i]!;
      try {
        const { data, info } = await sharp(ref.bytes, { failOn: 'error', limitInputPixels: LIMITS.maxReferencePixels })
          .autoOrient()
          .resize(cell.width, cell.height, { fit: 'cover' })
          .toColourspace('srgb')
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true });
        return { input: data, raw: { width: info.width, height: info.height, channels: info.channels }, left: cell.left, top: cell.top };
      } catch (err) {
        throw new JobFailure('reference_invalid', `${ref.field}: the image could not be decoded (${err instanceof Error ? err.message : String(err)})`);
      }
    }),
  );
}

function composeCells(W: number, H: number, others: number) {
  const gap = Math.max(1, Math.round(Math.min(W, H) * 0.055));
  const heroWidth = Math.max(1, Math.round(W * 0.6) - gap);
  const cells = [{ left: 0, top: 0, width: heroWidth, height: H }];
  const x = heroWidth + gap;
  const colWidth = Math.max(1, W - x);
  const cellHeight = Math.max(1, Math.floor((H - gap * (others - 1)) / others));
  for (let i = 0; i < others; i++) {
    const top = Math.min(H - 1, i * (cellHeight + gap));
    cells.push({ left: Math.min(W - 1, x), top, width: Math.min(colWidth, W - Math.min(W - 1, x)), height: Math.min(cellHeight, H - top) });
  }
  return cells;
}

interface Palette {
  background: string;
  accent: string[];
  tint: string;
  bytes: Buffer;
}

function paletteFor(seed: string, index: number): Palette {
  const bytes = Buffer.from(sha256Hex(`${seed}:${index}`), 'hex');
  const hsl = (i: number, s: number, l: number) => `hsl(${Math.round((bytes[i]! / 256) * 360)},${s}%,${l}%)`;
  return { background: hsl(0, 55, 45), accent: [hsl(1, 70, 60), hsl(2, 65, 35), hsl(3, 80, 70), hsl(4, 60, 50)], tint: hsl(5, 85, 50), bytes };
}

/** Shapes (generate only), a tint (edit and compose), the prompt as a caption, marks. */
function overlaySvg(spec: RenderSpec, p: Palette): string {
  const { width: W, height: H } = spec;
  const b = (i: number) => p.bytes[i % p.bytes.length]! / 255;
  const parts: string[] = [];
  if (spec.operation === 'generate') {
    parts.push(
      `<defs><linearGradient id="g" x1="0" y1="0" x2="${b(6).toFixed(2)}" y2="1"><stop offset="0" stop-color="${p.background}"/><stop offset="1" stop-color="${p.accent[1]}"/></linearGradient></defs>`,
      `<rect width="${W}" height="${H}" fill="url(#g)"/>`,
    );
    for (let i = 0; i < 5; i++) {
      const cx = Math.round(b(7 + i * 4) * W);
      const cy = Math.round(b(8 + i * 4) * H);
      const r = Math.max(2, Math.round((0.08 + b(9 + i * 4) * 0.22) * Math.min(W, H)));
      const fill = p.accent[i % p.accent.length];
      parts.push(
        b(10 + i * 4) < 0.5
          ? `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${fill}" fill-opacity="0.75"/>`
          : `<rect x="${cx - r}" y="${cy - r}" width="${r * 2}" height="${Math.round(r * 1.4)}" fill="${fill}" fill-opacity="0.7"/>`,
      );
    }
  } else {
    parts.push(`<rect width="${W}" height="${H}" fill="${p.tint}" fill-opacity="0.3"/>`);
  }
  // An edit that asks for label text prints it on a label panel, as the model would on the packaging.
  const label = spec.operation === 'edit' ? labelTextOf(spec.prompt) : undefined;
  if (label !== undefined) parts.push(labelPanelSvg(spec.misspellLabel ? misspell(label, p.bytes[7]! % 3) : label, W, H));
  // The caption band: the prompt's first words, sized to fit the width.
  const caption = `${spec.operation === 'generate' ? '' : `${spec.operation}: `}${firstWords(spec.prompt)}`;
  const bandHeight = Math.max(4, Math.round(H * 0.14));
  const fontSize = Math.max(3, Math.min(bandHeight * 0.55, (W * 0.9) / Math.max(1, caption.length * 0.6)));
  parts.push(
    `<rect x="0" y="${H - bandHeight}" width="${W}" height="${bandHeight}" fill="#000" fill-opacity="0.6"/>`,
    `<text x="${Math.round(W * 0.04)}" y="${Math.round(H - bandHeight / 2 + fontSize * 0.35)}" font-family="${FONT}" font-size="${fontSize.toFixed(1)}" fill="#fff">${escapeXml(caption)}</text>`,
  );
  const tagSize = Math.max(3, Math.round(Math.min(W, H) * 0.055));
  parts.push(`<text x="${tagSize}" y="${tagSize * 1.6}" font-family="${FONT}" font-size="${tagSize}" fill="#fff" fill-opacity="0.8">LOCAL SIMULATOR</text>`);
  if (spec.watermark) {
    // Upstream marks outputs unless told not to; make the mark unmistakable.
    const size = Math.max(4, Math.round(Math.min(W, H) * 0.055));
    parts.push(
      `<text x="${W - size * 0.5}" y="${H - bandHeight - size * 0.6}" text-anchor="end" font-family="${FONT}" font-weight="bold" font-size="${size}" fill="#fff" fill-opacity="0.85" stroke="#000" stroke-width="${Math.max(1, size / 20).toFixed(1)}">AI GENERATED</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${parts.join('')}</svg>`;
}

function firstWords(prompt: string): string {
  const words = prompt.trim().split(/\s+/).slice(0, 6).join(' ');
  return words.length > 48 ? `${words.slice(0, 47)}…` : words;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/**
 * The label text an edit prompt asks for: the quoted text after "reads exactly:", as the default
 * label template words it (`... so that it reads exactly: "{{labelText}}" (language: de). Keep ...`).
 * The closing quote is the last one before the locale note, a sentence end or the end of the prompt,
 * so a label may itself contain quotes. Straight or typographic quotes.
 */
export function labelTextOf(prompt: string): string | undefined {
  const m = /reads exactly:\s*["\u201c]([\s\S]+?)["\u201d](?=\s*\(language:|\s*[.;,]|\s*$)/i.exec(prompt);
  const text = m?.[1]?.replace(/\s+/g, ' ').trim();
  return text ? text : undefined;
}

const LABEL_FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

/**
 * A white label in the middle of the frame with the text in bold black, wrapped to at most three lines
 * and sized to the frame: legible to a reader (and to OCR) at every output size the simulator is asked
 * for, down to the 128 px of the test stacks.
 */
function labelPanelSvg(text: string, W: number, H: number): string {
  const maxW = Math.round(W * 0.84);
  const maxH = Math.round(H * 0.4);
  const lines = wrapLabel(text, maxW, maxH);
  const longest = Math.max(...lines.map((l) => l.length), 1);
  // DejaVu Sans Bold averages ~0.66 em per character; capped at packaging-like proportions (text a few
  // percent of the frame tall, never a poster).
  const fontSize = Math.max(6, Math.min((maxW * 0.9) / (longest * 0.66), (maxH * 0.8) / (lines.length * 1.25), labelFontCap(W, H)));
  const lineHeight = fontSize * 1.25;
  // The panel hugs its text (a wide empty box reads to OCR as a picture, not as a label).
  const panelW = Math.min(Math.round(W * 0.94), Math.round(longest * fontSize * 0.66 + fontSize * 4));
  const panelH = Math.round(lines.length * lineHeight + fontSize * 2.2);
  const x0 = Math.round((W - panelW) / 2);
  const y0 = Math.round((H - panelH) / 2);
  const firstBaseline = y0 + panelH / 2 - (lineHeight * lines.length) / 2 + fontSize * 0.95;
  const tspans = lines
    .map((line, i) => `<text x="${Math.round(W / 2)}" y="${(firstBaseline + i * lineHeight).toFixed(1)}" text-anchor="middle" font-family="${LABEL_FONT}" font-weight="bold" font-size="${fontSize.toFixed(1)}" fill="#111">${escapeXml(line)}</text>`)
    .join('');
  return `<rect x="${x0}" y="${y0}" width="${panelW}" height="${panelH}" rx="${Math.round(fontSize * 0.3)}" fill="#fff"/>${tspans}`;
}

/** Type a few percent of the frame tall, as on a pack (never a poster), but at least 12 px on small outputs. */
function labelFontCap(W: number, H: number): number {
  return Math.max(12, Math.min(W, H) * 0.055);
}

/** Greedy word wrap into one to three lines, choosing the count that allows the largest type. */
function wrapLabel(text: string, panelW: number, panelH: number): string[] {
  const words = text.split(' ');
  let best: { lines: string[]; size: number } | undefined;
  for (let count = 1; count <= Math.min(3, words.length); count++) {
    const target = Math.ceil(text.length / count);
    const lines: string[] = [];
    let line = '';
    for (const word of words) {
      if (line && (line + ' ' + word).length > target && lines.length < count - 1) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
    const longest = Math.max(...lines.map((l) => l.length));
    const size = Math.min((panelW * 0.9) / (longest * 0.66), (panelH * 0.8) / (lines.length * 1.25), labelFontCap(panelW / 0.84, panelH / 0.4));
    if (!best || size > best.size * 1.05) best = { lines, size };
  }
  return best!.lines;
}

/**
 * The misspelling fault: every third letter or digit (from `offset`) replaced by another one, so about
 * a third of the label is wrong: far below any sensible similarity threshold, as a model's garbled
 * small text is. Case is kept; everything else (spaces, punctuation) stays where it was.
 */
export function misspell(text: string, offset = 0): string {
  let n = 0;
  return [...text]
    .map((c) => {
      const letter = /\p{L}/u.test(c);
      const digit = /\p{N}/u.test(c);
      if (!letter && !digit) return c;
      if ((n++ - offset) % 3 !== 0) return c;
      if (digit) return String.fromCharCode(48 + ((c.charCodeAt(0) - 48 + 5) % 10));
      const lower = c.toLowerCase();
      const base = /[a-z]/.test(lower) ? lower : 'a';
      const swapped = String.fromCharCode(97 + ((base.charCodeAt(0) - 97 + 7) % 26));
      return c === lower ? swapped : swapped.toUpperCase();
    })
    .join('');
}
