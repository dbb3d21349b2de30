import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { rgbaToThumbHash } from 'thumbhash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordGeneratedAssets, recordSlotAttempt } from '../../src/db/repositories/assets';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { openLedgerEntry } from '../../src/db/repositories/jobs';
import { upsertProducts } from '../../src/db/repositories/products';
import type { Database } from '../../src/db/schema';
import { CHEAP_TEST_VARIANTS, DEFAULT_VARIANTS } from '../../src/imaging';
import { loadResultsData, type ResultsCell, type ResultsData, type ResultsRow } from '../../src/db/repositories/results';
import { pickDisplayVariant } from '../../src/results/display';
import { renderResultsPage, resultsPageCsp } from '../../src/results/render';
import { contentKey } from '../../src/storage/keys';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const key = (s: string, ext: 'jpg' | 'webp' = 'jpg') => contentKey(sha(s), ext, 'variants');

function gradientThumbhash(): string {
  const w = 16;
  const h = 12;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([(i % w) * 16, 90, 200 - (i % w) * 8, 255], i * 4);
  return Buffer.from(rgbaToThumbHash(w, h, rgba)).toString('base64');
}
const THUMBHASH = gradientThumbhash();

function cell(slot: string, o: { asset?: boolean; failed?: { type: string; message: string }; prompt?: string; storageKey?: string; colour?: string } = {}): ResultsCell {
  const asset =
    o.asset === false
      ? undefined
      : {
          id: `${slot}-1`,
          version: 2,
          status: 'current',
          fingerprint: sha(`fp-${slot}`),
          checksum: sha(`ck-${slot}`),
          prompt: o.prompt ?? `Studio photograph for ${slot}`,
          costCents: 4,
          width: 2048,
          height: 1536,
          format: 'jpeg',
          storageKey: contentKey(sha(`orig-${slot}`), 'jpg', 'originals'),
          placeholder: THUMBHASH,
          dominantColor: o.colour ?? '#3366aa',
          createdAt: '2026-11-24T19:00:00.000Z',
          variants: [
            { name: 'product-webp', format: 'webp', width: 1200, height: 900, bytes: 80_000, storageKey: o.storageKey ?? key(`${slot}-product`, 'webp') },
            { name: 'thumb-jpeg', format: 'jpeg', width: 200, height: 150, bytes: 9_000, storageKey: key(`${slot}-thumb`) },
          ],
        };
  return {
    slot,
    asset,
    attempt: o.failed
      ? { outcome: 'failed', fingerprint: null, errorType: o.failed.type, errorMessage: o.failed.message, workflowId: 'product:acme:x', attemptedAt: '2026-11-24T19:05:00.000Z' }
      : { outcome: 'generated', fingerprint: null, errorType: null, errorMessage: null, workflowId: 'product:acme:x', attemptedAt: '2026-11-24T19:05:00.000Z' },
    versions: asset
      ? [
          { id: asset.id, version: 2, status: 'current', fingerprint: asset.fingerprint, costCents: 4, storageKey: asset.storageKey, createdAt: asset.createdAt },
          { id: `${slot}-0`, version: 1, status: 'superseded', fingerprint: sha('old'), costCents: 4, storageKey: contentKey(sha(`old-${slot}`), 'jpg'), createdAt: asset.createdAt },
        ]
      : [],
    versionCount: asset ? 2 : 0,
  };
}

function data(rows: ResultsRow[], page = { offset: 0, limit: 200, total: rows.length }): ResultsData {
  return {
    catalog: { id: 'acme', name: 'Acme <Beauty> & "Co"' },
    slots: ['hero', 'label', 'lifestyle'],
    rows,
    page,
    totals: { failedSlots: 1, jobs: 7, imagesBilled: 6, costCents: 24 },
    money: {
      billedImages: 6,
      billedCents: 24,
      keptImages: 4,
      keptCents: 16,
      deliveredImages: 0,
      unusable: [{ reason: 'expired', jobs: 1, images: 1, cents: 4 }, { reason: '<script>', jobs: 1, images: 1, cents: 4 }],
      ambiguousSteps: 1,
      ambiguousImagesAtRisk: 1,
      providerReportedUsd: null,
    },
    generatedAt: '2026-11-24T20:00:00.000Z',
  };
}

const HOSTILE = {
  sku: '<script>alert(1)</script>',
  traversal: '../../etc/passwd',
  name: '"><img src=x onerror=alert(2)>',
  prompt: '</template></td><script>alert(3)</script><!--',
  error: `<img src=x onerror="alert(4)"> ' " \` & </dialog>`,
};

const ALLOWED_TAGS = new Set([
  'html', 'head', 'meta', 'link', 'title', 'style', 'body', 'header', 'h1', 'h2', 'h3', 'small', 'code', 'div', 'span', 'b', 'strong', 'nav', 'a', 'table',
  'thead', 'tbody', 'tr', 'th', 'td', 'img', 'details', 'summary', 'p', 'template', 'dialog', 'form', 'button', 'script', 'dl', 'dt', 'dd',
]);
const ALLOWED_ATTRS = new Set([
  'lang', 'charset', 'name', 'content', 'http-equiv', 'class', 'style', 'href', 'rel', 'target', 'src', 'alt', 'width', 'height', 'loading',
  'decoding', 'title', 'role', 'id', 'method', 'type', 'autofocus', 'aria-label', 'aria-current', 'aria-haspopup', 'tabindex', 'data-sku',
  'data-slot', 'data-thumbhash', 'scope',
]);

/** Every `<` of the page outside its own style and script must start a known tag with known, well-quoted attributes. */
function assertOnlyOwnMarkup(html: string): void {
  expect(html.match(/<script\b/g)).toHaveLength(1);
  expect(html.match(/<style\b/g)).toHaveLength(1);
  const body = html.replace(/<script>[\s\S]*?<\/script>/, '<script></script>').replace(/<style>[\s\S]*?<\/style>/, '<style></style>').replace(/^<!doctype html>/, '');
  const TAG = /^<\/?([a-z][a-z0-9]*)((?:\s+[a-z][a-z-]*(?:="[^"<>]*")?)*)\s*>/;
  for (let i = body.indexOf('<'); i !== -1; i = body.indexOf('<', i + 1)) {
    const m = TAG.exec(body.slice(i, i + 4000));
    expect(m, `unexpected markup at: ${body.slice(i, i + 80)}`).not.toBeNull();
    expect(ALLOWED_TAGS.has(m![1]!), `tag ${m![1]}`).toBe(true);
    for (const a of m![2]!.matchAll(/\s+([a-z][a-z-]*)/g)) {
      if (a.index !== undefined && m![2]!.slice(0, a.index).split('"').length % 2 === 0) continue; // inside a value
      expect(ALLOWED_ATTRS.has(a[1]!), `attribute ${a[1]} in ${m![0].slice(0, 120)}`).toBe(true);
    }
  }
}

describe('renderResultsPage', () => {
  it('renders hostile SKUs, names, prompts and error texts inert', () => {
    const html = renderResultsPage(
      data([
        { sku: HOSTILE.sku, name: HOSTILE.name, status: 'active', cells: [cell('hero', { prompt: HOSTILE.prompt }), cell('label', { failed: { type: 'ContentRejected', message: HOSTILE.error } }), cell('lifestyle')] },
        { sku: HOSTILE.traversal, name: 'Traversal', status: 'active', cells: [cell('hero'), cell('label'), cell('lifestyle')] },
      ]),
    );
    assertOnlyOwnMarkup(html);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(html).toContain('&lt;/template&gt;&lt;/td&gt;&lt;script&gt;alert(3)&lt;/script&gt;&lt;!--');
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(4)&quot;&gt; &#39; &quot; &#96; &amp; &lt;/dialog&gt;');
    expect(html).toContain('../../etc/passwd'); // as text: it is never part of a URL
    expect(html).not.toMatch(/(src|href)="[^"]*etc\/passwd/);
    expect(html).toContain('Acme &lt;Beauty&gt; &amp; &quot;Co&quot;');
  });

  it('shows where the money went: kept, paid but unusable with reasons (escaped), ambiguous', () => {
    const html = renderResultsPage(data([{ sku: 'A-1', name: 'A', status: 'active', cells: [cell('hero'), cell('label'), cell('lifestyle')] }]));
    assertOnlyOwnMarkup(html);
    expect(html).toContain('kept <b>4</b>');
    expect(html).toContain('paid but unusable <b>2</b> (1 expired, 1 &lt;script&gt;)');
    expect(html).toContain('ambiguous <b>1</b> (maybe billed: catalog-assets ledger list)');
  });

  it('builds image URLs only from content keys, percent-encoded, and drops anything else', () => {
    const good = key('hero-product', 'webp');
    const html = renderResultsPage(
      data([
        { sku: 'A', name: 'A', status: 'active', cells: [cell('hero', { storageKey: good }), cell('label', { storageKey: '../../etc/passwd' }), cell('lifestyle', { storageKey: 'variants/x y/"onerror=.jpg' })] },
      ]),
    );
    assertOnlyOwnMarkup(html);
    expect(html).toContain(`src="/assets/${good}"`);
    expect(html).not.toContain('etc/passwd');
    expect(html).not.toContain('onerror');
    // The cells whose key was unsafe show their placeholder but no image.
    const srcs = [...html.matchAll(/<img class="asset" src="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(srcs)).toEqual(new Set([`/assets/${good}`]));
    const custom = renderResultsPage(data([{ sku: 'A', name: 'A', status: 'active', cells: [cell('hero', { storageKey: good })] }]), {
      assetUrl: (k) => `https://cdn.example.com/a/${k.split('/').map(encodeURIComponent).join('/')}`,
    });
    expect(custom).toContain(`src="https://cdn.example.com/a/${good}"`);
  });

  it('shows the placeholder: dominant colour as the background and the thumbhash decoded by the inline decoder', () => {
    const html = renderResultsPage(data([{ sku: 'A', name: 'A', status: 'active', cells: [cell('hero'), cell('label', { colour: 'red; background-image: url(javascript:alert(1))' }), cell('lifestyle')] }]));
    expect(html).toContain('background-color: #3366aa');
    expect(html).toContain(`data-thumbhash="${THUMBHASH}"`);
    expect(html).toContain('aspect-ratio: 1200 / 900');
    expect(html).not.toContain('javascript:');
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(script).toContain('function thumbHashToRGBA(');
    expect(script).toContain('function thumbHashToDataURL(');
    // The CSP allows exactly this script, by hash.
    const hash = createHash('sha256').update(script).digest('base64');
    expect(resultsPageCsp()).toContain(`'sha256-${hash}'`);
    expect(resultsPageCsp()).toContain("default-src 'none'");
  });

  it('shows failures with their reasons, with and without a current asset', () => {
    const html = renderResultsPage(
      data([
        {
          sku: 'BAD-1',
          name: 'Bad',
          status: 'active',
          cells: [
            cell('hero', { failed: { type: 'ProviderError', message: 'upstream 500 after 5 attempts' } }),
            cell('label', { asset: false, failed: { type: 'InvalidProductData', message: 'missing product attribute "labelText"' } }),
            cell('lifestyle', { asset: false }),
          ],
        },
      ]),
    );
    expect(html).toContain('<b>InvalidProductData</b>missing product attribute &quot;labelText&quot;');
    expect(html).toContain('<b>ProviderError</b>upstream 500 after 5 attempts');
    expect(html).toContain('last attempt failed; showing the current version');
    expect(html).toContain('<div class="media empty">failed</div>');
    expect(html).toContain('badge incomplete');
    expect(html).toMatch(/<b>2<\/b> failed slots on this page/);
  });

  it('shows version, short fingerprint, cost, the collapsible prompt and a details template with variants and versions', () => {
    const html = renderResultsPage(data([{ sku: 'OK-1', name: 'Fine', status: 'active', cells: [cell('hero'), cell('label'), cell('lifestyle')] }]));
    expect(html).toContain(`<span class="ver">v2</span><code class="fp" title="${sha('fp-hero')}">${sha('fp-hero').slice(0, 12)}</code><span class="cost">$0.04</span>`);
    expect(html).toContain('<details class="prompt"><summary>Prompt</summary><p>Studio photograph for hero</p></details>');
    expect(html).toContain('badge complete');
    const template = /<template>([\s\S]*?)<\/template>/.exec(html)![1]!;
    expect(template).toContain('Variants (2)');
    expect(template).toContain(`href="/assets/${key('hero-thumb')}"`);
    expect(template).toContain('Versions (2)');
    expect(template).toContain('<tr class="is-current"><td>v2 ★</td><td>current</td>');
    expect(template).toContain('superseded');
  });

  it('paginates: links to the previous and next pages and marks the current one', () => {
    const rows = [{ sku: 'P-201', name: 'x', status: 'active', cells: [cell('hero')] }];
    const html = renderResultsPage(data(rows, { offset: 200, limit: 200, total: 450 }));
    expect(html).toContain('<b>450</b> SKUs');
    expect(html).toContain('showing <b>201–201</b>');
    expect(html).toContain('<a href="?offset=0&amp;limit=200" rel="prev">‹ Previous</a>');
    expect(html).toContain('<a href="?offset=400&amp;limit=200" rel="next">Next ›</a>');
    expect(html).toContain('<span class="current" aria-current="page">2</span>');
    const files = renderResultsPage(data(rows, { offset: 0, limit: 200, total: 450 }), { pageHref: (o, l) => `page-${o / l + 1}.html` });
    expect(files).toContain('<span class="disabled">‹ Previous</span>');
    expect(files).toContain('<a href="page-2.html" rel="next">');
    expect(files).toContain('<a href="page-3.html">3</a>');
    expect(renderResultsPage(data(rows, { offset: 0, limit: 200, total: 1 }))).not.toContain('<nav');
  });
});

describe('pickDisplayVariant', () => {
  const asVariants = (specs: ReadonlyArray<{ name: string; format: string; maxEdge: number }>) => specs.map((s) => ({ name: s.name, format: s.format, width: s.maxEdge, height: Math.round(s.maxEdge * 0.75) }));
  it('prefers the product-page size, then the largest variant up to 1200 px, else the smallest', () => {
    expect(pickDisplayVariant(asVariants(DEFAULT_VARIANTS))?.name).toBe('product-webp');
    expect(pickDisplayVariant(asVariants(DEFAULT_VARIANTS).filter((v) => v.name !== 'product-webp'))?.name).toBe('product-jpeg');
    expect(pickDisplayVariant(asVariants(CHEAP_TEST_VARIANTS))?.name).toBe('small-jpeg');
    expect(pickDisplayVariant(asVariants(DEFAULT_VARIANTS).filter((v) => !v.name.startsWith('product-')))?.name).toBe('listing-webp');
    expect(pickDisplayVariant(asVariants([{ name: 'zoom-avif', format: 'avif', maxEdge: 2048 }, { name: 'huge-jpeg', format: 'jpeg', maxEdge: 4096 }]))?.name).toBe('zoom-avif');
    expect(pickDisplayVariant([])).toBeUndefined();
  });
});

describe('loadResultsData', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
    const db = database.db;
    await upsertCatalog(db, { id: 'big', name: 'Big catalog' });
    await upsertProducts(
      db,
      Array.from({ length: 450 }, (_, i) => ({
        catalogId: 'big',
        sku: `SKU-${String(i).padStart(4, '0')}`,
        name: `Product ${i}`,
        attributes: {},
        attributesFingerprint: `fp${i}`,
        source: 'test',
      })),
    );
    // Assets for the first 30 SKUs (hero, two versions for the first 5), a failed label for SKU-0001.
    for (let i = 0; i < 30; i++) {
      for (let v = 0; v < (i < 5 ? 2 : 1); v++) {
        const sku = `SKU-${String(i).padStart(4, '0')}`;
        const idem = `big:${sku}:hero:${v}`;
        await openLedgerEntry(db, { idempotencyKey: idem, catalogId: 'big', sku, slot: 'hero', workflowId: 'w', runId: 'r', operation: 'generate', model: 'm', provider: 'simulator test m', fingerprint: `f${v}`, imagesRequested: 1 });
        await recordGeneratedAssets(db, {
          catalogId: 'big',
          sku,
          slot: 'hero',
          fingerprint: `f${v}`,
          prompt: `prompt ${i}.${v}`,
          idempotencyKey: idem,
          workflowId: 'w',
          imagesBilled: 1,
          centsPerImage: 4,
          outputs: [
            {
              index: 0,
              checksum: sha(idem),
              width: 64,
              height: 64,
              format: 'jpeg',
              storageKey: contentKey(sha(idem), 'jpg', 'originals'),
              placeholder: THUMBHASH,
              dominantColor: '#112233',
              variants: CHEAP_TEST_VARIANTS.map((s) => ({ name: s.name, format: s.format, width: s.maxEdge, height: s.maxEdge, bytes: 100, sha256: sha(idem + s.name), storageKey: contentKey(sha(idem + s.name), 'jpg', 'variants') })),
            },
          ],
        });
      }
    }
    await recordSlotAttempt(db, { catalogId: 'big', sku: 'SKU-0001', slot: 'label', outcome: 'failed', errorType: 'InvalidProductData', errorMessage: 'missing "labelText"', workflowId: 'w' });
  });
  afterAll(async () => {
    await database?.drop();
  });

  function counting(db: Kysely<Database>) {
    const counter = { queries: 0 };
    const counted = db.withPlugin({
      transformQuery: (args) => {
        counter.queries++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    return { db: counted, counter };
  }

  it('pages through SKUs in order, 200 per page by default', async () => {
    const p1 = (await loadResultsData(database.db, 'big'))!;
    expect(p1.page).toEqual({ offset: 0, limit: 200, total: 450 });
    expect(p1.rows).toHaveLength(200);
    expect(p1.rows[0]!.sku).toBe('SKU-0000');
    expect(p1.slots).toEqual(['hero', 'label', 'lifestyle']);
    const p3 = (await loadResultsData(database.db, 'big', { offset: 400 }))!;
    expect(p3.rows.map((r) => r.sku)).toEqual(Array.from({ length: 50 }, (_, i) => `SKU-${String(400 + i).padStart(4, '0')}`));
    expect(await loadResultsData(database.db, 'nope')).toBeUndefined();

    const first = p1.rows[0]!.cells[0]!;
    expect(first.asset).toMatchObject({ version: 2, prompt: 'prompt 0.1', dominantColor: '#112233', placeholder: THUMBHASH });
    expect(first.asset!.variants.map((v) => v.name)).toEqual(['small-jpeg', 'tiny-jpeg']);
    expect(first.versions.map((v) => [v.version, v.status])).toEqual([[2, 'current'], [1, 'superseded']]);
    expect(p1.rows[1]!.cells[1]).toMatchObject({ slot: 'label', asset: undefined, attempt: { outcome: 'failed', errorType: 'InvalidProductData' } });
    expect(p1.totals).toMatchObject({ failedSlots: 1, jobs: 35, imagesBilled: 35, costCents: 140 });
    expect(p1.rows[100]!.cells.every((c) => !c.asset && !c.attempt)).toBe(true);
  });

  it('runs the same few queries whatever the page size (set-based, not one per SKU)', async () => {
    const small = counting(database.db);
    await loadResultsData(small.db, 'big', { limit: 5 });
    const large = counting(database.db);
    const page = await loadResultsData(large.db, 'big', { limit: 1000 });
    expect(page!.rows).toHaveLength(450);
    expect(large.counter.queries).toBe(small.counter.queries);
    expect(large.counter.queries).toBeLessThanOrEqual(11); // the 11th: the newest label reading per slot
    const html = renderResultsPage(page!);
    expect(html.match(/<tr data-sku=/g)).toHaveLength(450);
  });
});
