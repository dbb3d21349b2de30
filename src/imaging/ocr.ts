/**
 * Reading text back from an image: tesseract.js with traineddata installed from npm
 * (`@tesseract.js-data/<lang>`), so nothing is downloaded at run time. One worker per process and
 * language, created on first use and reused; the image is turned grey and brought to at most
 * OCR_MAX_SIDE pixels on its longest side first, so the CPU an output costs is bounded whatever
 * size the provider returns.
 */
import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { createWorker, OEM, PSM, type Worker } from 'tesseract.js';
import { untrustedInputOptions, DEFAULT_IMAGE_LIMITS, type ImageLimits } from './inspect';

/** The longest side the reader sees: large enough for label text, small enough to bound the CPU. */
export const OCR_MAX_SIDE = 1_200;
/** Small outputs are enlarged up to this side: the reader needs text of about 20 px or more. */
export const OCR_MIN_SIDE = 1_000;

/** Traineddata packages installed with the product, by locale language (`en`, `en-GB`, `en_US` → eng). */
const TRAINEDDATA: Record<string, { code: string; pkg: string }> = {
  en: { code: 'eng', pkg: '@tesseract.js-data/eng' },
};

/** The tesseract language for a locale, when its traineddata is installed; undefined otherwise. */
export function ocrLanguageFor(locale: string | null | undefined): string | undefined {
  const lang = (locale ?? 'en').trim().toLowerCase().split(/[-_]/)[0] || 'en';
  return TRAINEDDATA[lang]?.code;
}

export interface OcrPaths {
  /** Folder holding `<code>.traineddata.gz`, inside the installed npm package. */
  langPath: string;
  /** Where tesseract.js may keep the unpacked traineddata (writable). */
  cachePath: string;
  gzip: true;
  /** tesseract.js-core's folder, inside node_modules (never a CDN). */
  corePath: string;
}

const require = createRequire(import.meta.url);

/**
 * Where the reader's files come from: all local. LSTM-only recognition, so the `4.0.0_best_int`
 * model (the one tesseract.js would otherwise fetch from a CDN for that engine), gzipped in the package.
 */
export function ocrPaths(code = 'eng', cacheRoot = process.env.OCR_CACHE_DIR): OcrPaths {
  const entry = Object.values(TRAINEDDATA).find((t) => t.code === code);
  if (!entry) throw new Error(`no traineddata installed for OCR language ${JSON.stringify(code)}`);
  const pkgDir = path.dirname(require.resolve(`${entry.pkg}/package.json`));
  return {
    langPath: path.join(pkgDir, '4.0.0_best_int'),
    cachePath: path.join(cacheRoot ?? path.join(os.tmpdir(), 'catalog-assets-ocr'), code),
    gzip: true,
    corePath: path.dirname(require.resolve('tesseract.js-core/package.json')),
  };
}

const workers = new Map<string, Promise<Worker>>();

async function startWorker(code: string): Promise<Worker> {
  const paths = ocrPaths(code);
  await mkdir(paths.cachePath, { recursive: true });
  const worker = await createWorker(code, OEM.LSTM_ONLY, {
    langPath: paths.langPath,
    cachePath: paths.cachePath,
    corePath: paths.corePath,
    gzip: paths.gzip,
    // The unpacked model is cached per language folder; a damaged cache is replaced, not trusted (`refresh`
    // would re-read the package every start, `write` reads the cache first).
    cacheMethod: 'write',
    errorHandler: () => undefined,
  });
  // Packaging text is a few short lines anywhere in the frame, not a page of prose.
  await worker.setParameters({ tessedit_pageseg_mode: PSM.SPARSE_TEXT, user_defined_dpi: '300' });
  return worker;
}

/** The process's reader for a language: created on first use, then reused (one at a time inside). */
function workerFor(code: string): Promise<Worker> {
  let w = workers.get(code);
  if (!w) {
    w = startWorker(code);
    workers.set(code, w);
    // A worker that failed to start is not kept: the next call tries again.
    w.catch(() => workers.delete(code));
  }
  return w;
}

/** Stops every reader this process started (tests, shutdown). */
export async function closeOcr(): Promise<void> {
  const all = [...workers.values()];
  workers.clear();
  await Promise.all(all.map(async (w) => (await w.catch(() => undefined))?.terminate()));
}

export interface OcrReading {
  text: string;
  /** Tesseract's mean word confidence, 0 to 100. */
  confidence: number;
  /** The size the reader saw. */
  width: number;
  height: number;
  /** Time spent preparing the image and reading it, ms. */
  prepareMs: number;
  readMs: number;
}

/**
 * The image as the reader sees it: decoded once, grey, longest side within bounds, and flattened
 * against its local background (each pixel divided by the background estimated by a morphological
 * closing, which removes dark strokes thinner than its width and keeps the edges of panels and bands). Without that, tesseract's global threshold turns a white label on a
 * mid-tone pack into a white hole in a black page and misses the text; with it, dark print is dark on
 * white wherever it sits, and light print on dark bands fades out.
 */
export async function prepareForOcr(bytes: Buffer, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<{ data: Buffer; width: number; height: number }> {
  const meta = await sharp(bytes, untrustedInputOptions(limits)).metadata();
  const longest = Math.max(meta.width ?? 1, meta.height ?? 1);
  const target = Math.min(OCR_MAX_SIDE, Math.max(OCR_MIN_SIDE, longest));
  const grey = await sharp(bytes, untrustedInputOptions(limits))
    .autoOrient()
    .resize(target, target, { fit: 'inside', kernel: 'lanczos3' })
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = grey.info;
  // The background is estimated at half the size (a dilation costs its width squared per pixel); each
  // step is its own pipeline, so sharp's fixed operation order cannot move the resizes around the filters.
  const q = { width: Math.max(1, Math.round(width / 2)), height: Math.max(1, Math.round(height / 2)), channels: 1 as const };
  const radius = Math.max(2, Math.round(Math.max(q.width, q.height) / 60));
  const half = await sharp(grey.data, { raw: { width, height, channels: 1 } }).resize(q.width, q.height, { fit: 'fill' }).raw().toBuffer();
  const halfBackground = await sharp(half, { raw: q }).dilate(radius).blur(radius).raw().toBuffer();
  const background = await sharp(halfBackground, { raw: q }).resize(width, height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
  const flat = Buffer.allocUnsafe(grey.data.length);
  for (let i = 0; i < flat.length; i++) {
    const bg = Math.max(1, background[i]!);
    flat[i] = Math.min(255, Math.round((grey.data[i]! * 255) / bg));
  }
  const data = await sharp(flat, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png({ compressionLevel: 1 }).toBuffer();
  return { data, width, height };
}

/** Reads the text of one image in the given tesseract language (`eng`). */
export async function readText(bytes: Buffer, code = 'eng', limits?: ImageLimits): Promise<OcrReading> {
  const t0 = performance.now();
  const prepared = await prepareForOcr(bytes, limits);
  const t1 = performance.now();
  const worker = await workerFor(code);
  const result = await worker.recognize(prepared.data);
  const t2 = performance.now();
  return {
    text: result.data.text.replace(/\s+/g, ' ').trim(),
    confidence: result.data.confidence,
    width: prepared.width,
    height: prepared.height,
    prepareMs: t1 - t0,
    readMs: t2 - t1,
  };
}
