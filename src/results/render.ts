/**
 * The results page: one self-contained HTML document (inline CSS and a little inline JS, no external
 * assets) showing a page of a catalog as a grid, one row per SKU and one column per slot.
 *
 * Everything that comes from the database (SKU, name, prompt, error text, keys...) goes through esc();
 * image URLs are built only from storage keys that parse as content keys, with every path segment
 * encodeURIComponent'd. The inline script is fixed text (no data is interpolated into it), so the page
 * can be served with a Content-Security-Policy that allows exactly that script by hash
 * (resultsPageCsp()): even a missed escape could not run script.
 *
 * Placeholders: each image sits on its asset's dominant colour (plain CSS, no JS needed) and the
 * ThumbHash is decoded to a tiny PNG in the browser by the `thumbhash` package's own decoder, inlined
 * from the imported functions. The decoded PNGs are ~4 KB each, so decoding server-side would add
 * megabytes to a 200-SKU page; the hash itself is ~25 bytes.
 */
import { createHash } from 'node:crypto';
import { rgbaToDataURL, thumbHashToApproximateAspectRatio, thumbHashToDataURL, thumbHashToRGBA } from 'thumbhash';
import { parseContentKey } from '../storage/keys';
import { type ResultsAsset, type ResultsCell, type ResultsData, type ResultsRow } from '../db/repositories/results';
import { pickDisplayVariant } from './display';
import { CHANNEL_BADGE_CSS, channelBadges } from './channelBadges';

export interface RenderOptions {
  /**
   * The URL of a stored file, or undefined when it is not reachable from the page (then it is listed
   * without a link, and a grid image is not shown). Default: `/assets/<key>`, the HTTP service's route.
   */
  assetUrl?: (key: string) => string | undefined;
  /** The href of another page of the grid. Default: `?offset=<n>&limit=<n>`. */
  pageHref?: (offset: number, limit: number) => string;
  /** A Content-Security-Policy to embed as a <meta> tag (for a page written to a file; a server sends the header). */
  metaCsp?: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function esc(value: string | number | null | undefined): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** `/assets/<key>` style URLs: only content keys, each segment percent-encoded. */
export function assetPath(key: string, base = '/assets'): string | undefined {
  try {
    parseContentKey(key);
  } catch {
    return undefined;
  }
  return `${base.replace(/\/+$/, '')}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

const HEX_COLOUR = /^#[0-9a-fA-F]{6}$/;
const BASE64 = /^[A-Za-z0-9+/]{4,200}={0,2}$/;

function colour(c: string): string | undefined {
  return HEX_COLOUR.test(c) ? c.toLowerCase() : undefined;
}

function thumbhash(p: string): string | undefined {
  return BASE64.test(p) ? p : undefined;
}

const usd = (cents: number) => `$${(cents / 100).toFixed(2)}`;
const shortFp = (fp: string) => fp.slice(0, 12);
const when = (isoDate: string) => isoDate.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const bytes = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`);

/**
 * The thumbhash decoder, taken from the imported package functions (self-contained, and they refer to
 * each other by name). If a bundler ever renamed or rewrote them, the page falls back to decoding on
 * the server (bigger, but correct).
 */
const DECODER_FUNCTIONS = { thumbHashToApproximateAspectRatio, thumbHashToRGBA, rgbaToDataURL, thumbHashToDataURL };
const DECODER_SOURCE = Object.entries(DECODER_FUNCTIONS).map(([name, fn]) => ({ name, src: fn.toString() }));
const CLIENT_DECODER = DECODER_SOURCE.every(({ name, src }) => src.startsWith(`function ${name}(`));

const SCRIPT = `(function () {
"use strict";
${CLIENT_DECODER ? DECODER_SOURCE.map((d) => d.src).join('\n') : ''}
function bytesOf(b64) {
  var bin = atob(b64), out = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
document.querySelectorAll('[data-thumbhash]').forEach(function (el) {
  if (typeof thumbHashToDataURL !== 'function') return;
  try {
    el.style.backgroundImage = 'url("' + thumbHashToDataURL(bytesOf(el.getAttribute('data-thumbhash'))) + '")';
    el.classList.add('has-placeholder');
  } catch (e) { /* the dominant colour stays */ }
});
function watch(img) {
  var box = img.closest('.media');
  function done() { if (box) box.classList.add(img.naturalWidth > 0 ? 'loaded' : 'broken'); }
  if (img.complete && img.naturalWidth > 0) done();
  else { img.addEventListener('load', done); img.addEventListener('error', done); }
}
document.querySelectorAll('img.asset').forEach(watch);
var dialog = document.getElementById('details');
var body = document.getElementById('details-body');
function open(cell) {
  var tpl = cell.querySelector('template');
  if (!tpl || !dialog || !body) return;
  body.replaceChildren(tpl.content.cloneNode(true));
  body.querySelectorAll('[data-thumbhash]').forEach(function (el) {
    if (typeof thumbHashToDataURL !== 'function') return;
    try { el.style.backgroundImage = 'url("' + thumbHashToDataURL(bytesOf(el.getAttribute('data-thumbhash'))) + '")'; } catch (e) {}
  });
  body.querySelectorAll('img.asset').forEach(watch);
  dialog.showModal();
}
document.addEventListener('click', function (ev) {
  var t = ev.target;
  if (!(t instanceof Element)) return;
  if (dialog && t === dialog) { dialog.close(); return; }
  if (t.closest('a, summary, details, dialog')) return;
  var cell = t.closest('td.cell');
  if (cell) open(cell);
});
})();`;

if (SCRIPT.toLowerCase().includes('</script')) throw new Error('results page script must not contain a closing script tag');
const SCRIPT_HASH = `sha256-${createHash('sha256').update(SCRIPT).digest('base64')}`;

/**
 * The Content-Security-Policy for the page: only the page's own inline script (by hash), inline styles,
 * images from this origin, data: URLs (placeholders) and the given extra image sources.
 */
export function resultsPageCsp(extraImageSources: string[] = [], o: { meta?: boolean } = {}): string {
  return [
    "default-src 'none'",
    `img-src 'self' data: ${extraImageSources.join(' ')}`.trim(),
    "style-src 'unsafe-inline'",
    `script-src '${SCRIPT_HASH}'`,
    "base-uri 'none'",
    "form-action 'none'",
    // Not allowed in a <meta> policy (browsers ignore it there with a console warning).
    ...(o.meta ? [] : ["frame-ancestors 'none'"]),
  ].join('; ');
}

const CSS = `
:root { color-scheme: light; --line: #e3e5e8; --muted: #6b7280; --bad: #b42318; --bad-bg: #fef3f2; --ok: #067647; --warn: #b54708; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; background: #f6f7f9; }
header { padding: 16px 20px 8px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h1 small { font-weight: 400; color: var(--muted); font-size: 14px; }
.summary { display: flex; flex-wrap: wrap; gap: 6px 18px; color: var(--muted); margin: 4px 0 8px; }
.summary b { color: #111827; }
.summary .bad b { color: var(--bad); }
nav.pages { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; padding: 4px 20px 12px; }
nav.pages a, nav.pages span { padding: 2px 8px; border-radius: 6px; border: 1px solid var(--line); background: #fff; color: inherit; text-decoration: none; }
nav.pages span.current { background: #111827; color: #fff; border-color: #111827; }
nav.pages span.gap, nav.pages span.disabled { border: 0; background: none; color: var(--muted); }
.wrap { overflow: auto; padding: 0 20px 20px; }
table.grid { border-collapse: separate; border-spacing: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
table.grid th, table.grid td { border-bottom: 1px solid var(--line); vertical-align: top; text-align: left; }
table.grid thead th { position: sticky; top: 0; z-index: 2; background: #fff; padding: 8px 10px; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
th.sku { position: sticky; left: 0; z-index: 1; background: #fff; min-width: 170px; max-width: 220px; padding: 10px; font-weight: 400; border-right: 1px solid var(--line); }
th.sku .id { font: 600 13px/1.3 ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
th.sku .name { color: var(--muted); margin-top: 2px; word-break: break-word; }
.badge { display: inline-block; margin-top: 6px; padding: 0 6px; border-radius: 999px; font-size: 12px; border: 1px solid currentColor; }
.badge.complete { color: var(--ok); } .badge.incomplete { color: var(--warn); } .badge.removed { color: var(--muted); }
td.cell { width: 240px; min-width: 240px; padding: 10px; cursor: pointer; }
td.cell:hover { background: #fafbfc; }
.media { display: block; width: 100%; padding: 0; border: 0; border-radius: 6px; overflow: hidden; position: relative; background-color: #eef0f3; background-size: cover; background-position: center; cursor: pointer; }
.media img { display: block; width: 100%; height: 100%; object-fit: cover; }
.media.broken::after { content: "image failed to load"; position: absolute; inset: auto 0 0 0; padding: 4px; font-size: 12px; color: #fff; background: rgba(180,35,24,.85); }
.media.empty { aspect-ratio: 4 / 3; display: grid; place-items: center; color: var(--muted); font-size: 13px; border: 1px dashed #cfd4dc; background: repeating-linear-gradient(45deg, #f9fafb, #f9fafb 8px, #f2f4f7 8px, #f2f4f7 16px); }
.meta { display: flex; flex-wrap: wrap; gap: 2px 10px; margin-top: 6px; font-size: 12px; color: var(--muted); }
.meta .ver { color: #111827; font-weight: 600; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.failure { margin-top: 6px; padding: 6px 8px; border-radius: 6px; background: var(--bad-bg); color: var(--bad); font-size: 12px; word-break: break-word; display: -webkit-box; -webkit-line-clamp: 5; -webkit-box-orient: vertical; overflow: hidden; }
.failure b { display: block; }
.note { margin-top: 6px; font-size: 12px; color: var(--warn); }
.published { display: flex; flex-wrap: wrap; gap: 4px; }
.pub { font-size: 11px; padding: 0 4px; border-radius: 3px; background: #f3f4f6; }
.pub-failed { color: var(--bad); }
.pub-skipped, .pub-pending { color: var(--warn); }
details.prompt { margin-top: 6px; font-size: 12px; }
details.prompt summary { cursor: pointer; color: var(--muted); }
details.prompt p { margin: 4px 0 0; white-space: pre-wrap; word-break: break-word; }
dialog { width: min(920px, 94vw); max-height: 90vh; border: 0; border-radius: 12px; padding: 0; box-shadow: 0 20px 60px rgba(0,0,0,.3); }
dialog::backdrop { background: rgba(17,24,39,.45); }
.dlg-head { display: flex; justify-content: space-between; align-items: center; padding: 12px 16px; border-bottom: 1px solid var(--line); position: sticky; top: 0; background: #fff; }
.dlg-head button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
#details-body { padding: 12px 16px 16px; }
#details-body h2 { margin: 0 0 10px; font-size: 18px; word-break: break-all; }
#details-body h2 span { color: var(--muted); font-weight: 400; }
#details-body h3 { font-size: 14px; margin: 16px 0 6px; }
.dlg-top { display: grid; grid-template-columns: minmax(0, 280px) 1fr; gap: 16px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0; font-size: 13px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-all; }
table.list { border-collapse: collapse; width: 100%; font-size: 13px; }
table.list th, table.list td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }
table.list tr.is-current td { font-weight: 600; }
.prompt-full { white-space: pre-wrap; word-break: break-word; margin: 0; font-size: 13px; }
.empty-page { padding: 40px 20px; color: var(--muted); }
`;

interface Ctx {
  assetUrl: (key: string) => string | undefined;
}

function mediaBox(asset: ResultsAsset, ctx: Ctx, alt: string, eager: boolean): string {
  const display = pickDisplayVariant(asset.variants);
  const w = display?.width ?? asset.width;
  const h = display?.height ?? asset.height;
  const url = display ? ctx.assetUrl(display.storageKey) : undefined;
  const bg = colour(asset.dominantColor);
  const hash = thumbhash(asset.placeholder);
  const styles = [`aspect-ratio: ${Math.max(1, w)} / ${Math.max(1, h)}`];
  if (bg) styles.push(`background-color: ${bg}`);
  if (hash && !CLIENT_DECODER) {
    try {
      styles.push(`background-image: url(${thumbHashToDataURL(Buffer.from(hash, 'base64'))})`);
    } catch {
      // An undecodable hash: the dominant colour stays.
    }
  }
  const img = url
    ? `<img class="asset" src="${esc(url)}" alt="${esc(alt)}" width="${w}" height="${h}"${eager ? '' : ' loading="lazy"'} decoding="async">`
    : '';
  return `<div class="media" style="${esc(styles.join('; '))}"${hash && CLIENT_DECODER ? ` data-thumbhash="${esc(hash)}"` : ''}>${img}</div>`;
}

function failureBox(cell: ResultsCell): string {
  const a = cell.attempt;
  if (!a || a.outcome !== 'failed') return '';
  const reason = `${a.errorType ?? 'Failed'}${a.errorMessage ? `: ${a.errorMessage}` : ''}`;
  return `<div class="failure" role="note" title="${esc(reason)}"><b>${esc(a.errorType ?? 'Failed')}</b>${esc(a.errorMessage ?? '')}</div>`;
}

/** The label check's newest reading: verdict and figures, what was asked for and what was read. */
function labelFact(l: NonNullable<ResultsCell['label']>): string {
  const figure = l.similarity === null ? '' : ` · similarity ${l.similarity.toFixed(2)} (threshold ${l.threshold})`;
  const read = l.read === null ? '' : `<br>read: “${esc(l.read.slice(0, 300))}”`;
  return `<b>${esc(l.verdict)}</b>${esc(figure)}${l.locale ? ` · ${esc(l.locale)}` : ''}<br>expected: “${esc(l.expected)}”${read}`;
}

function detailsHtml(row: ResultsRow, cell: ResultsCell, ctx: Ctx): string {
  const a = cell.asset;
  const t = cell.attempt;
  const link = (key: string, label: string) => {
    const url = ctx.assetUrl(key);
    return url ? `<a href="${esc(url)}" target="_blank" rel="noopener">${esc(label)}</a>` : esc(label);
  };
  const facts: Array<[string, string]> = [];
  if (a) {
    facts.push(
      ['Version', `v${a.version} (${esc(a.status)})`],
      ['Fingerprint', `<code>${esc(a.fingerprint)}</code>`],
      ['Checksum', `<code>${esc(a.checksum)}</code>`],
      ['Original', `${a.width}×${a.height} ${esc(a.format)} · ${link(a.storageKey, 'open')}`],
      ['Cost', usd(a.costCents)],
      ['Created', esc(when(a.createdAt))],
    );
  } else {
    facts.push(['Asset', 'none published']);
  }
  if (cell.label) facts.push(['Label (OCR)', labelFact(cell.label)]);
  if (t) {
    facts.push(['Last attempt', `${esc(t.outcome)} · ${esc(when(t.attemptedAt))}`], ['Workflow', `<code>${esc(t.workflowId)}</code>`]);
    if (t.outcome === 'failed') facts.push(['Reason', `<span class="failure-text">${esc(t.errorType ?? 'Failed')}${t.errorMessage ? `: ${esc(t.errorMessage)}` : ''}</span>`]);
  }
  const variants = a?.variants ?? [];
  const variantRows = variants
    .map((v) => `<tr><td>${link(v.storageKey, v.name)}</td><td>${esc(v.format)}</td><td>${v.width}×${v.height}</td><td>${bytes(v.bytes)}</td></tr>`)
    .join('');
  const versionRows = cell.versions
    .map((v) => {
      const isCurrent = a !== undefined && v.id === a.id;
      return `<tr class="${isCurrent ? 'is-current' : ''}"><td>v${v.version}${isCurrent ? ' ★' : ''}</td><td>${esc(v.status)}</td><td><code title="${esc(v.fingerprint)}">${esc(shortFp(v.fingerprint))}</code></td><td>${usd(v.costCents)}</td><td>${esc(when(v.createdAt))}</td><td>${link(v.storageKey, 'original')}</td></tr>`;
    })
    .join('');
  const more = cell.versionCount > cell.versions.length ? `<p class="meta">and ${cell.versionCount - cell.versions.length} older version(s)</p>` : '';
  return (
    `<h2>${esc(row.sku)} <span>· ${esc(cell.slot)}</span></h2>` +
    `<div class="dlg-top"><div>${a ? mediaBox(a, ctx, `${row.sku} ${cell.slot} v${a.version}`, true) : '<div class="media empty">no image</div>'}</div>` +
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl></div>` +
    (a ? `<h3>Prompt</h3><p class="prompt-full">${esc(a.prompt)}</p>` : '') +
    `<h3>Variants (${variants.length})</h3>` +
    (variants.length ? `<table class="list"><thead><tr><th>Name</th><th>Format</th><th>Size</th><th>Bytes</th></tr></thead><tbody>${variantRows}</tbody></table>` : '<p class="meta">none</p>') +
    publishedHtml(a) +
    `<h3>Versions (${cell.versionCount})</h3>` +
    (cell.versions.length
      ? `<table class="list versions"><thead><tr><th>Version</th><th>Status</th><th>Fingerprint</th><th>Cost</th><th>Created</th><th></th></tr></thead><tbody>${versionRows}</tbody></table>${more}`
      : '<p class="meta">none</p>')
  );
}

/** Where the current version went: destination, status, remote id, error. */
function publishedHtml(a: ResultsAsset | undefined): string {
  const list = a?.publications ?? [];
  if (!a || list.length === 0) return '';
  const rows = list
    .map((p) => `<tr class="pub-${esc(p.status)}"><td>${esc(p.destination)}</td><td>${esc(p.kind)}</td><td>${esc(p.status)}</td><td><code>${esc(p.remoteId ?? '')}</code></td><td>${p.error ? `<span class="failure-text">${esc(p.error)}</span>` : esc(p.sentAt ? when(p.sentAt) : '')}</td></tr>`)
    .join('');
  return `<h3>Published to (${list.length})</h3><table class="list publications"><thead><tr><th>Destination</th><th>Kind</th><th>Status</th><th>Remote id</th><th>Sent / error</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** A line under the image: each destination and how it stands (failed ones named). */
function publishedLine(a: ResultsAsset): string {
  const list = a.publications ?? [];
  if (list.length === 0) return '';
  const items = list.map((p) => `<span class="pub pub-${esc(p.status)}" title="${esc(p.error ?? p.remoteId ?? p.status)}">${esc(p.destination)}: ${esc(p.status)}</span>`);
  return `<div class="meta published">${items.join(' ')}</div>`;
}

function cellHtml(row: ResultsRow, cell: ResultsCell, ctx: Ctx): string {
  const a = cell.asset;
  const failed = cell.attempt?.outcome === 'failed';
  const state = a ? (failed ? 'current stale-failed' : 'current') : failed ? 'failed' : 'missing';
  const parts: string[] = [];
  if (a) {
    parts.push(mediaBox(a, ctx, `${row.sku} ${cell.slot} v${a.version}`, false));
    parts.push(
      `<div class="meta"><span class="ver">v${a.version}</span><code class="fp" title="${esc(a.fingerprint)}">${esc(shortFp(a.fingerprint))}</code><span class="cost">${usd(a.costCents)}</span></div>`,
    );
    parts.push(publishedLine(a));
    parts.push(channelBadges(a.channels, esc));
    if (failed) parts.push('<div class="note">last attempt failed; showing the current version</div>');
  } else {
    parts.push(`<div class="media empty">${failed ? 'failed' : 'not generated yet'}</div>`);
  }
  parts.push(failureBox(cell));
  if (cell.label && cell.label.verdict !== 'pass') parts.push(`<div class="note" title="${esc(cell.label.read ?? '')}">label ${esc(cell.label.verdict)}</div>`);
  if (a) parts.push(`<details class="prompt"><summary>Prompt</summary><p>${esc(a.prompt)}</p></details>`);
  parts.push(`<template>${detailsHtml(row, cell, ctx)}</template>`);
  return `<td class="cell ${state}" data-slot="${esc(cell.slot)}" tabindex="0" aria-haspopup="dialog" title="Details of ${esc(row.sku)} · ${esc(cell.slot)}">${parts.join('')}</td>`;
}

function rowHtml(row: ResultsRow, ctx: Ctx): string {
  const complete = row.cells.length > 0 && row.cells.every((c) => c.asset && c.attempt?.outcome !== 'failed');
  const badge =
    row.status === 'removed'
      ? '<span class="badge removed">removed from PIM</span>'
      : complete
        ? '<span class="badge complete">all slots current</span>'
        : '<span class="badge incomplete">incomplete</span>';
  return `<tr data-sku="${esc(row.sku)}"><th scope="row" class="sku"><div class="id">${esc(row.sku)}</div><div class="name">${esc(row.name)}</div>${badge}</th>${row.cells
    .map((c) => cellHtml(row, c, ctx))
    .join('')}</tr>`;
}

function pagination(data: ResultsData, href: (offset: number, limit: number) => string): string {
  const { offset, limit, total } = data.page;
  const pages = Math.max(1, Math.ceil(total / limit));
  const current = Math.min(pages, Math.floor(offset / limit) + 1);
  if (pages <= 1) return '';
  const link = (p: number, label: string, rel?: string) =>
    `<a href="${esc(href((p - 1) * limit, limit))}"${rel ? ` rel="${rel}"` : ''}>${esc(label)}</a>`;
  const items: string[] = [];
  items.push(current > 1 ? link(current - 1, '‹ Previous', 'prev') : '<span class="disabled">‹ Previous</span>');
  const shown = [...new Set([1, current - 2, current - 1, current, current + 1, current + 2, pages])].filter((p) => p >= 1 && p <= pages).sort((a, b) => a - b);
  let last = 0;
  for (const p of shown) {
    if (p > last + 1) items.push('<span class="gap">…</span>');
    items.push(p === current ? `<span class="current" aria-current="page">${p}</span>` : link(p, String(p)));
    last = p;
  }
  items.push(current < pages ? link(current + 1, 'Next ›', 'next') : '<span class="disabled">Next ›</span>');
  return `<nav class="pages" aria-label="Pages">${items.join('')}</nav>`;
}

export function renderResultsPage(data: ResultsData, options: RenderOptions = {}): string {
  const ctx: Ctx = { assetUrl: options.assetUrl ?? ((key) => assetPath(key)) };
  const href = options.pageHref ?? ((offset, limit) => `?offset=${offset}&limit=${limit}`);
  const { offset, total } = data.page;
  const first = data.rows.length ? offset + 1 : 0;
  const lastShown = offset + data.rows.length;
  const pageFailures = data.rows.reduce((n, r) => n + r.cells.filter((c) => c.attempt?.outcome === 'failed').length, 0);
  const complete = data.rows.filter((r) => r.cells.every((c) => c.asset && c.attempt?.outcome !== 'failed')).length;
  const title = `${data.catalog.name} · results`;
  const nav = pagination(data, href);
  const table = data.rows.length
    ? `<div class="wrap"><table class="grid"><thead><tr><th class="sku">SKU</th>${data.slots.map((s) => `<th scope="col">${esc(s)}</th>`).join('')}</tr></thead><tbody>${data.rows
        .map((r) => rowHtml(r, ctx))
        .join('')}</tbody></table></div>`
    : `<p class="empty-page">${total ? 'No SKUs on this page.' : 'This catalog has no products yet.'}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
${options.metaCsp ? `<meta http-equiv="Content-Security-Policy" content="${esc(options.metaCsp)}">\n` : ''}<title>${esc(title)}</title>
<style>${CSS}${CHANNEL_BADGE_CSS}</style>
</head>
<body>
<header>
<h1>${esc(data.catalog.name)} <small>catalog <code>${esc(data.catalog.id)}</code></small></h1>
<div class="summary">
<span><b>${total}</b> SKUs</span>
<span>showing <b>${first}–${lastShown}</b></span>
<span><b>${complete}</b> of ${data.rows.length} on this page complete</span>
<span class="${pageFailures ? 'bad' : ''}"><b>${pageFailures}</b> failed ${pageFailures === 1 ? 'slot' : 'slots'} on this page (${data.totals.failedSlots} in the catalog)</span>
<span><b>${data.totals.jobs}</b> jobs · <b>${data.totals.imagesBilled}</b> images billed · <b>${usd(data.totals.costCents)}</b> spent</span>
<span>kept <b>${data.money.keptImages}</b> · delivered, not yet kept <b>${data.money.deliveredImages}</b></span>
<span class="${data.money.unusable.length ? 'bad' : ''}">paid but unusable <b>${data.money.unusable.reduce((t, u) => t + u.images, 0)}</b>${data.money.unusable.length ? ` (${esc(data.money.unusable.map((u) => `${u.images} ${u.reason}`).join(', '))})` : ''}</span>
<span class="${data.money.ambiguousSteps ? 'bad' : ''}">ambiguous <b>${data.money.ambiguousSteps}</b>${data.money.ambiguousSteps ? ' (maybe billed: catalog-assets ledger list)' : ''}</span>
<span>as of ${esc(when(data.generatedAt))}</span>
</div>
</header>
${nav}
${table}
${nav}
<dialog id="details" aria-label="Slot details">
<div class="dlg-head"><strong>Details</strong><form method="dialog"><button type="submit" autofocus>Close</button></form></div>
<div id="details-body"></div>
</dialog>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
