/**
 * Property tests of the import: a CSV export whose rows are a random mix of good rows (with commas,
 * quotes, newlines and non-ASCII text in quoted fields) and bad ones (bad quoting, a stray quote, the
 * wrong number of columns, invalid UTF-8, an over-long field, a missing SKU or name, a bad URL, a
 * repeated SKU) imports exactly the good rows, with their exact values, and reports each bad row
 * at its line number (and no line outside a bad row). Plus: the record splitter never throws and
 * never loses track of lines on arbitrary bytes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFile, parseMapping } from '../../src/import';
import { MAX_FIELD_CHARS } from '../../src/import/product';
import { RecordSplitter } from '../../src/import/records';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const RUNS = 1_000;
const mapping = parseMapping({ sku: 'sku', name: 'name', attributes: { brand: 'brand', packshotUrl: 'image' } });
const HEADER = 'sku,name,brand,image';

type Defect = 'none' | 'badQuote' | 'strayQuote' | 'fewColumns' | 'manyColumns' | 'invalidUtf8' | 'hugeField' | 'missingSku' | 'missingName' | 'badUrl' | 'duplicateSku';

const textChar = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...'abcXYZ019 -_'.split('')) },
  { weight: 2, arbitrary: fc.constantFrom(',', '"', '\n', '\r\n', ';', "'", '\t') },
  { weight: 1, arbitrary: fc.constantFrom('é', '日本', '😀', '\u202e', 'ß') },
);
// Values the importer keeps as they are once trimmed (and not empty).
const text = fc.string({ unit: textChar, minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== '');

const rowArb = fc.record({
  defect: fc.oneof(
    { weight: 36, arbitrary: fc.constant<Defect>('none') },
    { weight: 9, arbitrary: fc.constantFrom<Defect>('badQuote', 'strayQuote', 'fewColumns', 'manyColumns', 'invalidUtf8', 'missingSku', 'missingName', 'badUrl', 'duplicateSku') },
    // Rarer: each one writes 64 KiB.
    { weight: 1, arbitrary: fc.constant<Defect>('hugeField') },
  ),
  name: text,
  brand: fc.option(text, { nil: undefined }),
  image: fc.option(fc.webPath().map((p) => `https://cdn.example.com/${encodeURI(p.replace(/^\//, ''))}`), { nil: undefined }),
  dupOf: fc.nat(),
});

/** A CSV field: quoted when it must be (RFC 4180), or randomly anyway. */
function field(value: string, forceQuote: boolean): string {
  return forceQuote || /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replace(/"/g, '""')}"` : value;
}

interface Built {
  bytes: Buffer;
  good: Map<string, { name: string; attributes: Record<string, unknown> }>;
  badLines: Array<{ start: number; end: number; defect: Defect }>;
}

function build(rows: Array<typeof rowArb extends fc.Arbitrary<infer T> ? T : never>, quoteAll: boolean, runId: number): Built {
  const parts: Buffer[] = [Buffer.from(`${HEADER}\n`)];
  let line = 2;
  const good = new Map<string, { name: string; attributes: Record<string, unknown> }>();
  const goodSkus: string[] = [];
  const badLines: Built['badLines'] = [];
  rows.forEach((r, i) => {
    let sku = `SKU-${runId}-${i}`;
    let defect = r.defect;
    if (defect === 'duplicateSku') {
      if (goodSkus.length === 0) defect = 'none';
      else sku = goodSkus[r.dupOf % goodSkus.length]!;
    }
    const q = (v: string) => field(v, quoteAll);
    const cells: Array<string | Buffer> = [q(sku), q(r.name), r.brand === undefined ? '' : q(r.brand), r.image === undefined ? '' : q(r.image)];
    switch (defect) {
      case 'badQuote':
        cells[1] = `"${r.name.replace(/"/g, '""')}"x`;
        break;
      case 'strayQuote':
        cells[1] = `ab"c`;
        break;
      case 'fewColumns':
        cells.pop();
        break;
      case 'manyColumns':
        cells.push('extra');
        break;
      case 'invalidUtf8':
        cells[1] = Buffer.concat([Buffer.from('"bad '), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"')]);
        break;
      case 'hugeField':
        cells[2] = 'h'.repeat(MAX_FIELD_CHARS + 1);
        break;
      case 'missingSku':
        cells[0] = quoteAll ? '""' : '';
        break;
      case 'missingName':
        cells[1] = quoteAll ? '"  "' : '';
        break;
      case 'badUrl':
        cells[3] = q('www.example.com/no-scheme.jpg');
        break;
    }
    const rowBytes = Buffer.concat(cells.flatMap((c, k) => [...(k ? [Buffer.from(',')] : []), Buffer.isBuffer(c) ? c : Buffer.from(c)]));
    const newlines = rowBytes.toString('latin1').split('\n').length - 1;
    if (defect === 'none') {
      const attributes: Record<string, unknown> = {};
      if (r.brand !== undefined) attributes.brand = r.brand.trim();
      if (r.image !== undefined) attributes.packshotUrl = r.image;
      good.set(sku, { name: r.name.trim(), attributes });
      goodSkus.push(sku);
    } else {
      badLines.push({ start: line, end: line + newlines, defect });
    }
    parts.push(rowBytes, Buffer.from(i % 3 === 0 ? '\r\n' : '\n'));
    line += newlines + 1;
  });
  return { bytes: Buffer.concat(parts), good, badLines };
}

describe('importing export files, property-based', () => {
  let database: TestDatabase;
  let dir: string;
  let runId = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-import-prop-'));
  });
  afterAll(async () => {
    await database?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('imports exactly the good rows and reports each bad row at its line', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { minLength: 1, maxLength: 12 }), fc.boolean(), fc.integer({ min: 1, max: 4 }), async (rows, quoteAll, batchSize) => {
        const id = runId++;
        const built = build(rows, quoteAll, id);
        const file = path.join(dir, `p${id}.csv`);
        await fs.writeFile(file, built.bytes);
        const catalogId = `prop-${id}`;
        const result = await importFile(database.db, { catalogId, file, format: 'csv', mapping, batchSize });

        // Every bad row is reported at its first line; nothing else is reported.
        const failedLines = result.failed.map((f) => f.line);
        for (const bad of built.badLines) expect(failedLines, `${bad.defect} on line ${bad.start}`).toContain(bad.start);
        for (const f of result.failed) {
          expect(built.badLines.some((b) => f.line >= b.start && f.line <= b.end), `unexpected failure ${JSON.stringify(f)}`).toBe(true);
        }
        // Every good row is imported, with its exact values, and nothing else is.
        expect(result.imported).toBe(built.good.size);
        expect(result.changedSkus.sort()).toEqual([...built.good.keys()].sort());
        const stored = await database.db.selectFrom('products').select(['sku', 'name', 'attributes']).where('catalog_id', '=', catalogId).execute();
        expect(Object.fromEntries(stored.map((s) => [s.sku, { name: s.name, attributes: s.attributes }]))).toEqual(Object.fromEntries(built.good));
      }),
      { numRuns: RUNS },
    );
  }, 240_000);

  it('splits arbitrary bytes without throwing, with line numbers that only grow and stay within the input', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(0x22, 0x2c, 0x0a, 0x0d, 0x61), fc.integer({ min: 0, max: 255 })), { maxLength: 400 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        (bytes, chunkSize, maxRecordBytes, quoteAware) => {
          const input = Buffer.from(bytes);
          const splitter = new RecordSplitter({ quoteAware, maxRecordBytes });
          const out = [];
          for (let i = 0; i < input.length; i += chunkSize) out.push(...splitter.push(input.subarray(i, i + chunkSize)));
          out.push(...splitter.end());
          const totalLines = input.toString('latin1').split('\n').length;
          let last = 0;
          for (const r of out) {
            expect(r.line).toBeGreaterThanOrEqual(1);
            expect(r.line).toBeLessThanOrEqual(totalLines);
            expect(r.line).toBeGreaterThanOrEqual(last);
            last = r.line;
            if ('bytes' in r) expect(r.bytes.length).toBeLessThanOrEqual(maxRecordBytes);
          }
          // Without quotes and without over-long lines, records are exactly the non-blank lines.
          if (!quoteAware && !out.some((r) => 'error' in r)) {
            const hasBom = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf;
            const lines = (hasBom ? input.subarray(3) : input)
              .toString('latin1')
              .split('\n')
              .map((l) => l.replace(/\r$/, ''))
              .filter((l) => l.replace(/[ \t\r]/g, '') !== '');
            expect(out.map((r) => ('bytes' in r ? r.bytes.toString('latin1') : ''))).toEqual(lines);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
