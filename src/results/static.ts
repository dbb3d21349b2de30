/**
 * The results page written to static files, for sharing or archiving without running the service.
 *
 * Every page of the catalog is written: `<out>.html` is the first page, `<out>-2.html`, `<out>-3.html`...
 * the others, linked to each other with relative links. Images come from one of two places:
 *
 * - `assetBaseUrl`: every image and link is `<assetBaseUrl>/<storage key>`. Point it at the HTTP service's
 *   `/assets` route (`https://assets-ops.example.com/assets`), a CDN or public bucket that serves the
 *   store by key, or a path relative to the output file (for local storage: the relative path to ASSET_DIR).
 * - `copyAssetsFrom`: the image shown in each grid cell is copied next to the page into
 *   `<out>_files/<storage key>` and linked relatively, so the folder stands alone (open it from disk,
 *   zip it, attach it). Only the displayed variant is copied, never the whole variant set: the details
 *   panel lists the other variants and versions without links.
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import type { AssetStorage } from '../storage/types';
import { clampPage, loadResultsData, type ResultsData } from '../db/repositories/results';
import { pickDisplayVariant } from './display';
import { assetPath, renderResultsPage, resultsPageCsp } from './render';

export interface WriteResultsOptions {
  assetBaseUrl?: string;
  copyAssetsFrom?: AssetStorage;
  /** SKUs per file (default 200, at most 1000). */
  pageSize?: number;
  includeRemoved?: boolean;
}

export interface WriteResultsResult {
  catalogId: string;
  files: string[];
  pages: number;
  skus: number;
  /** Where copied images went (copyAssetsFrom only). */
  assetDir: string | undefined;
  copiedAssets: number;
}

export class ResultsWriteError extends Error {
  override readonly name = 'ResultsWriteError';
}

function pageFile(outFile: string, page: number): string {
  if (page === 1) return outFile;
  const ext = path.extname(outFile);
  return `${outFile.slice(0, outFile.length - ext.length)}-${page}${ext || '.html'}`;
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/** Copies the displayed variant of every cell on the page; returns the set of keys now available. */
async function copyDisplayed(data: ResultsData, storage: AssetStorage, assetDir: string, copied: Set<string>): Promise<void> {
  const keys = new Set<string>();
  for (const row of data.rows) for (const cell of row.cells) {
    const v = cell.asset ? pickDisplayVariant(cell.asset.variants) : undefined;
    if (v && assetPath(v.storageKey) && !copied.has(v.storageKey)) keys.add(v.storageKey);
  }
  const queue = [...keys];
  const worker = async () => {
    for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
      const target = path.join(assetDir, ...key.split('/'));
      const present = await stat(target).then((s) => s.isFile(), () => false);
      if (!present) {
        const bytes = await storage.get(key);
        await mkdir(path.dirname(target), { recursive: true });
        const tmp = `${target}.tmp-${process.pid}`;
        await writeFile(tmp, bytes);
        await rename(tmp, target);
      }
      copied.add(key);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

export async function writeResultsPage(db: Kysely<Database>, catalogId: string, outFile: string, options: WriteResultsOptions = {}): Promise<WriteResultsResult> {
  if (Boolean(options.assetBaseUrl) === Boolean(options.copyAssetsFrom)) {
    throw new ResultsWriteError('writeResultsPage: give exactly one of assetBaseUrl (link images) or copyAssetsFrom (copy them next to the page)');
  }
  const out = path.resolve(outFile);
  const outDir = path.dirname(out);
  const { limit } = clampPage({ limit: options.pageSize });
  const assetDirName = `${path.basename(out, path.extname(out))}_files`;
  const assetDir = options.copyAssetsFrom ? path.join(outDir, assetDirName) : undefined;
  const copied = new Set<string>();

  const base = options.assetBaseUrl?.replace(/\/+$/, '');
  const assetUrl = base
    ? (key: string) => assetPath(key, base)
    : (key: string) => (copied.has(key) ? assetPath(key, encodePath(assetDirName)) : undefined);
  let imageSources: string[] = ['file:'];
  if (base && /^https?:\/\//i.test(base)) imageSources = [new URL(base).origin];
  const metaCsp = resultsPageCsp(imageSources, { meta: true });

  await mkdir(outDir, { recursive: true });
  const files: string[] = [];
  let skus = 0;
  let total = 0;
  for (let page = 1, offset = 0; ; page++, offset += limit) {
    const data = await loadResultsData(db, catalogId, { limit, offset, includeRemoved: options.includeRemoved });
    if (!data) throw new ResultsWriteError(`no catalog ${JSON.stringify(catalogId)}`);
    total = data.page.total;
    if (options.copyAssetsFrom && assetDir) await copyDisplayed(data, options.copyAssetsFrom, assetDir, copied);
    const html = renderResultsPage(data, {
      assetUrl,
      pageHref: (o, l) => encodeURIComponent(path.basename(pageFile(out, Math.floor(o / l) + 1))),
      metaCsp,
    });
    const file = pageFile(out, page);
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, html);
    await rename(tmp, file);
    files.push(file);
    skus += data.rows.length;
    if (offset + limit >= total) break;
  }
  return { catalogId, files, pages: files.length, skus, assetDir, copiedAssets: copied.size };
}
