/**
 * The results page in a real browser: real generated assets (simulator, workflows, sharp, storage),
 * served over real HTTP by registerResultsRoutes, loaded in headless Chromium through playwright-core.
 * Chromium comes from the Debian package (/usr/bin/chromium; .ci/run installs it); without it the
 * suite is skipped, and says so.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCurrentAssets } from '../../src/db/repositories/assets';
import { registerResultsRoutes } from '../../src/results/routes';
import { writeResultsPage } from '../../src/results/static';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
// Product workflow ids derive from catalog and SKU, and every test file shares one Temporal dev server:
// a catalog id of this file's own keeps its workflows from meeting another file's.
const CATALOG = 'results-browser';
const HOSTILE_SKU = '<img src=x onerror="window.__pwned=1">';
const SCREENSHOT = path.resolve('test-output/results-page.png');
const DETAILS_SCREENSHOT = path.resolve('test-output/results-page-details.png');

if (!HAS_CHROMIUM) console.warn(`[results browser test] SKIPPED: ${CHROMIUM} is missing; install it with: apt-get install -y chromium`);

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// The callbacks passed to page.evaluate run in the browser. The project compiles without the DOM
// library, so they describe the few browser shapes they use themselves.
interface BrowserImage {
  complete: boolean;
  naturalWidth: number;
  currentSrc: string;
  src: string;
  scrollIntoView(o: object): void;
  addEventListener(type: string, fn: () => void, o?: object): void;
}
interface BrowserWindow {
  document: { querySelectorAll(selector: string): Iterable<BrowserImage> };
  scrollTo(x: number, y: number): void;
  __pwned?: number;
}
type Styled = { style: { backgroundImage: string; backgroundColor: string } };

/** Scrolls every grid image into view (they load lazily) and waits until each has loaded or failed. */
async function loadAllImages(page: Page): Promise<Array<{ src: string; naturalWidth: number }>> {
  return page.evaluate(async () => {
    const window = globalThis as unknown as BrowserWindow;
    const images = [...window.document.querySelectorAll('img')];
    for (const img of images) {
      img.scrollIntoView({ block: 'center' });
      if (!img.complete) {
        await new Promise<void>((resolve) => {
          img.addEventListener('load', () => resolve(), { once: true });
          img.addEventListener('error', () => resolve(), { once: true });
          setTimeout(resolve, 10_000);
        });
      }
    }
    window.scrollTo(0, 0);
    return images.map((i) => ({ src: i.currentSrc || i.src, naturalWidth: i.naturalWidth }));
  });
}

describe.skipIf(!HAS_CHROMIUM)(
  HAS_CHROMIUM ? 'the results page in headless Chromium' : `the results page in headless Chromium — SKIPPED: ${CHROMIUM} is missing (apt-get install -y chromium)`,
  () => {
    let stack: TestStack;
    let app: FastifyInstance;
    let base: string;
    let browser: Browser;
    const problems: string[] = [];
    let page: Page;

    beforeAll(async () => {
      const t0 = performance.now();
      stack = await startTestStack();
      await stack.addProducts(CATALOG, [
        { sku: 'GOOD-1', name: 'Night Cream', attributes: sampleAttributes(stack, 'GOOD-1') },
        { sku: 'GOOD-2', name: 'Day Cream', attributes: sampleAttributes(stack, 'GOOD-2', { name: 'Day Cream', colour: 'peach' }) },
        { sku: HOSTILE_SKU, name: '"><script>window.__pwned=2</script>', attributes: sampleAttributes(stack, HOSTILE_SKU) },
        { sku: 'BAD-1', name: 'No label text', attributes: sampleAttributes(stack, 'BAD-1', { labelText: undefined }) },
      ]);
      const run = async (sku: string) => {
        const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
        return stack.client.workflow.getHandle(workflowId).result().then(() => 'ok', () => 'failed');
      };
      expect(await Promise.all(['GOOD-1', 'GOOD-2', HOSTILE_SKU, 'BAD-1'].map(run))).toEqual(['ok', 'ok', 'ok', 'failed']);
      // A second label version for GOOD-1, so its details list two versions.
      await stack.addProducts(CATALOG, [{ sku: 'GOOD-1', name: 'Night Cream', attributes: sampleAttributes(stack, 'GOOD-1', { labelText: 'Night Cream 75 ml' }) }]);
      expect(await run('GOOD-1')).toBe('ok');
      console.info(`[results browser test] generated assets in ${Math.round(performance.now() - t0)} ms`);

      app = Fastify();
      registerResultsRoutes(app, { db: stack.database.db, storage: stack.storage });
      await app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      browser = await launch();
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      await app?.close();
      await stack?.close();
    });

    it('shows every SKU with all its images loaded, placeholders decoded, hostile text inert', async () => {
      const t0 = performance.now();
      const response = await page.goto(`${base}/catalogs/${CATALOG}/results`);
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-security-policy']).toContain("script-src 'sha256-");
      expect(response?.headers()['content-encoding']).toBe('gzip');
      const images = await loadAllImages(page);
      // 3 slots for each of three SKUs, hero and lifestyle for BAD-1.
      expect(images).toHaveLength(11);
      for (const img of images) {
        expect(img.src).toMatch(new RegExp(`^${base}/assets/variants/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\\.jpg$`));
        expect(img.naturalWidth, img.src).toBeGreaterThan(0);
      }
      console.info(`[results browser test] page and ${images.length} images loaded in ${Math.round(performance.now() - t0)} ms`);

      const placeholders = await page.$$eval('.media[data-thumbhash]', (els) => els.map((e) => (e as unknown as Styled).style.backgroundImage));
      expect(placeholders).toHaveLength(11);
      for (const bg of placeholders) expect(bg).toMatch(/^url\("data:image\/png;base64,/);
      const colours = await page.$$eval('.media[data-thumbhash]', (els) => els.map((e) => (e as unknown as Styled).style.backgroundColor));
      for (const c of colours) expect(c).toMatch(/^rgb\(/);

      expect(await page.evaluate(() => (globalThis as unknown as BrowserWindow).__pwned)).toBeUndefined();
      const skus = await page.$$eval('th.sku .id', (els) => els.map((e) => e.textContent));
      expect(skus).toEqual(['BAD-1', 'GOOD-1', 'GOOD-2', HOSTILE_SKU].sort());
      expect(await page.locator('th.sku .name', { hasText: '<script>window.__pwned=2</script>' }).count()).toBe(1);
      expect(problems).toEqual([]);
    });

    it('shows the failed slot with its reason', async () => {
      const row = page.locator('tr', { has: page.locator('th.sku .id', { hasText: /^BAD-1$/ }) });
      const failure = row.locator('td[data-slot="label"] .failure');
      await expect.poll(() => failure.isVisible()).toBe(true);
      expect(await failure.innerText()).toMatch(/InvalidProductData[\s\S]*labelText/);
      expect(await row.locator('.badge').innerText()).toBe('incomplete');
      await fs.mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    });

    it('opens the details dialog on a click: all variants, previous versions, a loaded preview', async () => {
      const cell = page.locator('tr', { has: page.locator('th.sku .id', { hasText: /^GOOD-1$/ }) }).locator('td[data-slot="label"]');
      await cell.locator('.media').click();
      const dialog = page.locator('dialog#details');
      await expect.poll(() => dialog.isVisible()).toBe(true);
      const text = await dialog.innerText();
      expect(text).toContain('GOOD-1 · label');
      // Two storefront variants plus the label slot's channel variants (google-shopping, shopify).
      expect(text).toContain('Variants (4)');
      expect(text).toContain('Versions (2)');
      expect(text).toMatch(/v2 ★\s+current\s/);
      expect(text).toMatch(/v1\s+superseded/);
      expect(text).toContain('Night Cream 75 ml'); // the current prompt
      const preview = await dialog.locator('img.asset').evaluate(async (el) => {
        const img = el as unknown as BrowserImage;
        if (!img.complete) await new Promise<void>((r) => img.addEventListener('load', () => r(), { once: true }));
        return img.naturalWidth;
      });
      expect(preview).toBeGreaterThan(0);
      const links = await dialog.locator('table.list a').evaluateAll((as) => as.map((a) => (a as unknown as { href: string }).href));
      // Two storefront variants plus the label slot's channel variants (google-shopping, shopify).
      expect(links.filter((h) => h.includes('/assets/variants/'))).toHaveLength(4);
      // Each version links its stored original.
      const originals = links.filter((h) => h.includes('/assets/originals/'));
      expect(originals).toHaveLength(2);
      for (const href of originals) expect((await page.request.get(href)).status()).toBe(200);
      const res = await page.request.get(links[0]!);
      expect(res.status()).toBe(200);
      expect(res.headers()['content-type']).toBe('image/jpeg');
      expect(res.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
      await page.screenshot({ path: DETAILS_SCREENSHOT });

      await dialog.getByRole('button', { name: 'Close' }).click();
      await expect.poll(() => dialog.isVisible()).toBe(false);
      expect(problems).toEqual([]);
    });

    it('paginates over HTTP', async () => {
      await page.goto(`${base}/catalogs/${CATALOG}/results`);
      const order = await page.$$eval('th.sku .id', (els) => els.map((e) => e.textContent));
      await page.goto(`${base}/catalogs/${CATALOG}/results?limit=3`);
      expect(await page.locator('tbody tr').count()).toBe(3);
      await page.getByRole('link', { name: 'Next ›' }).first().click();
      await page.waitForURL(/offset=3/);
      // SKUs in the database's order (its collation decides where the hostile SKU sorts).
      expect(await page.$$eval('th.sku .id', (els) => els.map((e) => e.textContent))).toEqual([order[3]]);
      expect((await page.goto(`${base}/catalogs/${CATALOG}/results?limit=abc`))?.status()).toBe(400);
      expect((await page.goto(`${base}/catalogs/nope/results`))?.status()).toBe(404);
    });

    it('serves stored files by key only: 400 for a malformed key, 404 for an absent one, 304 on a matching ETag', async () => {
      const [asset] = await listCurrentAssets(stack.database.db, CATALOG, 'GOOD-2');
      const key = asset!.variants[0]!.storage_key;
      const ok = await fetch(`${base}/assets/${key}`);
      expect(ok.status).toBe(200);
      expect(Number(ok.headers.get('content-length'))).toBe(asset!.variants[0]!.bytes);
      const etag = ok.headers.get('etag')!;
      expect((await fetch(`${base}/assets/${key}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
      expect((await fetch(`${base}/assets/${key.replace(/[0-9a-f]{64}/, '0'.repeat(64)).replace(/\/[0-9a-f]{2}\/[0-9a-f]{2}\//, '/00/00/')}`)).status).toBe(404);
      for (const bad of ['..%2F..%2Fetc%2Fpasswd', 'variants/../../etc/passwd', '%2e%2e/%2e%2e/etc/passwd', 'variants/ab/cd/x.jpg']) {
        const r = await fetch(`${base}/assets/${bad}`);
        expect([400, 404], bad).toContain(r.status);
        expect(r.headers.get('content-type') ?? '').not.toMatch(/^image\//);
      }
    });

    it('writes a static copy that works from disk (file://) with the displayed images copied next to it', async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-results-'));
      try {
        const out = path.join(dir, 'acme results.html');
        const r = await writeResultsPage(stack.database.db, CATALOG, out, { copyAssetsFrom: stack.storage, pageSize: 2 });
        expect(r).toMatchObject({ pages: 2, skus: 4, copiedAssets: 11 });
        expect(r.files.map((f) => path.basename(f))).toEqual(['acme results.html', 'acme results-2.html']);
        const local = await browser.newPage();
        const errors: string[] = [];
        local.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
        await local.goto(pathToFileURL(out).href);
        const first = await loadAllImages(local);
        expect(first.length).toBeGreaterThan(0);
        for (const img of first) expect(img.naturalWidth, img.src).toBeGreaterThan(0);
        await local.getByRole('link', { name: 'Next ›' }).first().click();
        await local.waitForURL(/results-2\.html$/);
        const second = await loadAllImages(local);
        expect(first.length + second.length).toBe(11);
        for (const img of second) expect(img.naturalWidth, img.src).toBeGreaterThan(0);
        expect(errors).toEqual([]);
        await local.close();
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  },
);
