import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { productFingerprint } from '../../src/catalog/fingerprint';
import { getProduct } from '../../src/db/repositories/products';
import { ImportError, importFile, loadMapping, MappingError, parseMapping } from '../../src/import';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { seedAsset } from '../http/helpers';

const mapping = parseMapping({
  sku: 'Article Number',
  name: 'Title',
  attributes: { brand: 'Brand', labelText: 'Label Copy', packshotUrl: 'Image URL' },
});

const HEADER = 'Article Number,Title,Brand,Label Copy,Image URL';

let dir: string;
let n = 0;
async function file(content: string | Buffer, ext = 'csv'): Promise<string> {
  const p = path.join(dir, `f${n++}.${ext}`);
  await fs.writeFile(p, content);
  return p;
}

describe('importing PIM export files into a real Postgres', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-import-'));
  });
  afterAll(async () => {
    await database?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('imports the good rows of a CSV and reports every bad one with its line number and reason', async () => {
    const csv = Buffer.concat([
      Buffer.from(
        [
          HEADER,
          'A1,Alpha Cream,Lumen,Alpha 50 ml,https://cdn.example.com/a1.jpg', // 2
          'B1,"abc"def,Lumen,,', // 3 bad quoting
          'C1,Gamma Cream,"Lumen, Paris","Line one', // 4-5 a multi-line quoted field
          'line two",https://cdn.example.com/c1.jpg',
          'D1,5" jar,Lumen,,', // 6 stray quote
          'E1,Eps,Lumen,,not a url', // 7
          '', // 8 blank: skipped
          'F1,Fox', // 9 too few columns
          'G1,Golf,Lumen,x,https://cdn.example.com/g.jpg,extra', // 10 too many columns
          'A1,Alpha again,Lumen,,', // 11 duplicate
          ',No SKU,Lumen,,', // 12
          'I1,,Lumen,,', // 13
          'J1,"Quoted ""ok"" name",Lumen,,ftp://cdn.example.com/j.jpg', // 14 not http(s)
          'K1,"Quoted ""ok"" name",Lumen,,https://cdn.example.com/k.jpg', // 15
        ].join('\n') + '\n',
      ),
      Buffer.from('L1,Bad '),
      Buffer.from([0xff, 0xfe]), // 16 invalid UTF-8
      Buffer.from(',Lumen,,\n'),
      Buffer.from(`M1,Long,${'x'.repeat(70_000)},,\n`), // 17 over-long field
      Buffer.from('N1,Nu\u0000ll,Lumen,,\n'), // 18 NUL
      Buffer.from(' padded ,Pad,Lumen,,\n'), // 19 trimmed: accepted as "padded"
    ]);
    const result = await importFile(database.db, { catalogId: 'acme', file: await file(csv), format: 'csv', mapping });
    expect(result.failed).toEqual([
      { line: 3, reason: expect.stringMatching(/^bad quoting: a closing quote/) },
      { line: 6, reason: expect.stringMatching(/^bad quoting: a quote inside an unquoted field/) },
      { line: 7, reason: 'packshotUrl (column "Image URL") is not a URL: "not a url"' },
      { line: 9, reason: 'expected 5 columns, found 2' },
      { line: 10, reason: 'expected 5 columns, found 6' },
      { line: 11, reason: 'duplicate SKU "A1" (first on line 2)' },
      { line: 12, reason: 'missing SKU (column "Article Number")' },
      { line: 13, reason: 'missing name (column "Title")' },
      { line: 14, reason: expect.stringContaining('has scheme ftp; expected http or https') },
      { line: 16, reason: 'column "Title" is not valid UTF-8' },
      { line: 17, reason: 'column "Brand" is longer than 65536 characters' },
      { line: 18, reason: 'name (column "Title") contains a NUL character' },
    ]);
    expect(result.imported).toBe(4);
    expect(result.unchanged).toBe(0);
    expect(result.rows).toBe(16);
    expect(result.changedSkus.sort()).toEqual(['A1', 'C1', 'K1', 'padded']);

    const c1 = await getProduct(database.db, 'acme', 'C1');
    expect(c1).toMatchObject({ name: 'Gamma Cream', status: 'active', source: 'import', pim_updated_at: null });
    expect(c1!.attributes).toEqual({ brand: 'Lumen, Paris', labelText: 'Line one\nline two', packshotUrl: 'https://cdn.example.com/c1.jpg' });
    expect(c1!.attributes_fingerprint).toBe(productFingerprint({ name: 'Gamma Cream', attributes: c1!.attributes }));
    expect((await getProduct(database.db, 'acme', 'K1'))!.name).toBe('Quoted "ok" name');
    // Empty cells leave the attribute out.
    expect((await getProduct(database.db, 'acme', 'padded'))!.attributes).toEqual({ brand: 'Lumen' });
    expect(await getProduct(database.db, 'acme', 'B1')).toBeUndefined();
  });

  it('changes nothing when the same file is imported again, and reports only what changed', async () => {
    const rows = (label: string) =>
      [HEADER, 'R1,Rose Cream,Lumen,Rose 50 ml,https://cdn.example.com/r1.jpg', `R2,Rose Serum,Lumen,${label},https://cdn.example.com/r2.jpg`].join('\n');
    const first = await importFile(database.db, { catalogId: 'again', file: await file(rows('Serum 30 ml')), format: 'csv', mapping });
    expect(first).toMatchObject({ imported: 2, unchanged: 0, failed: [] });
    const updatedAt = (await getProduct(database.db, 'again', 'R1'))!.updated_at;

    const second = await importFile(database.db, { catalogId: 'again', file: await file(rows('Serum 30 ml')), format: 'csv', mapping });
    expect(second).toMatchObject({ imported: 0, unchanged: 2, changedSkus: [], failed: [] });
    expect((await getProduct(database.db, 'again', 'R1'))!.updated_at).toEqual(updatedAt);

    const third = await importFile(database.db, { catalogId: 'again', file: await file(rows('Serum 50 ml')), format: 'csv', mapping });
    expect(third).toMatchObject({ imported: 1, unchanged: 1, changedSkus: ['R2'] });
    expect((await getProduct(database.db, 'again', 'R2'))!.attributes).toMatchObject({ labelText: 'Serum 50 ml' });
  });

  it('reads CRLF line endings, a byte-order mark, another delimiter, and a YAML mapping', async () => {
    const yamlMapping = path.join(dir, 'mapping.yaml');
    await fs.writeFile(yamlMapping, 'sku: SKU\nname: Name\nattributes:\n  brand: Brand\ncsv:\n  delimiter: ";"\n');
    const m = await loadMapping(yamlMapping);
    const content = '\ufeffSKU;Name;Brand\r\nS1;Semi;"Lumen; Paris"\r\nS2;Colon;Lumen\r\n';
    const result = await importFile(database.db, { catalogId: 'semi', file: await file(content), format: 'csv', mapping: m });
    expect(result).toMatchObject({ imported: 2, failed: [] });
    expect((await getProduct(database.db, 'semi', 'S1'))!.attributes).toEqual({ brand: 'Lumen; Paris' });
  });

  it('reports a quote that is never closed, and keeps the rows it would have swallowed when they read as rows', async () => {
    const closedLater = [HEADER, 'Q1,"Unclosed,Lumen,,', 'Q2,Fine,Lumen,,', 'Q3,"Quoted",Lumen,,', 'Q4,After,Lumen,,'].join('\n');
    const r1 = await importFile(database.db, { catalogId: 'quotes', file: await file(closedLater), format: 'csv', mapping });
    expect(r1.failed).toEqual([{ line: 2, reason: expect.stringContaining('swallowed the next line(s)') }]);
    expect(r1.changedSkus.sort()).toEqual(['Q2', 'Q3', 'Q4']);

    const neverClosed = [HEADER, 'U1,Fine,Lumen,,', 'U2,"Unclosed,Lumen,,', 'U3,Also fine,Lumen,,'].join('\n');
    const r2 = await importFile(database.db, { catalogId: 'quotes', file: await file(neverClosed), format: 'csv', mapping });
    expect(r2.failed).toEqual([{ line: 3, reason: 'bad quoting: a quoted field that starts on this line is never closed' }]);
    expect(r2.changedSkus.sort()).toEqual(['U1', 'U3']);

    // A multi-line field with a quoting error: its later lines are pieces of the field, not rows.
    const brokenMultiline = [HEADER, 'V1,"Name"x,Lumen,"first', 'V9,looks,like,a,row', 'last",', 'V2,Fine,Lumen,,'].join('\n');
    const r3 = await importFile(database.db, { catalogId: 'quotes', file: await file(brokenMultiline), format: 'csv', mapping });
    expect(r3.failed).toEqual([{ line: 2, reason: expect.stringContaining('(in the record on lines 2-4)') }]);
    expect(r3.changedSkus).toEqual(['V2']);
  });

  it('bounds a record: one longer than the limit fails alone', async () => {
    const content = [HEADER, 'W1,Fine,Lumen,,', `W2,${'y'.repeat(5_000)},Lumen,,`, 'W3,"open', `${'z'.repeat(5_000)}`, 'W4,Fine too,Lumen,,'].join('\n');
    const result = await importFile(database.db, { catalogId: 'big', file: await file(content), format: 'csv', mapping, maxRecordBytes: 2_000 });
    expect(result.failed).toEqual([
      { line: 3, reason: 'the record is longer than 2000 bytes' },
      { line: 4, reason: 'bad quoting: a quoted field that starts on this line is not closed within 2000 bytes' },
      { line: 5, reason: 'the record is longer than 2000 bytes' },
    ]);
    expect(result.changedSkus.sort()).toEqual(['W1', 'W4']);
  });

  it('imports JSON lines, reporting lines that are not JSON objects or not UTF-8', async () => {
    const jsonMapping = parseMapping({ sku: 'sku', name: 'title', attributes: { brand: 'brand', packshotUrl: 'image', size: 'size' } });
    const content = Buffer.concat([
      Buffer.from(
        [
          JSON.stringify({ sku: 'J1', title: 'Jade', brand: 'Lumen', image: 'https://cdn.example.com/j1.jpg', size: 50 }),
          '{"sku": "J2", "title": ',
          '[1,2,3]',
          JSON.stringify({ sku: 12345, title: 'Numeric SKU' }),
          JSON.stringify({ sku: 'J3', title: 'Bad image', image: 'javascript:alert(1)' }),
          JSON.stringify({ sku: 'J4', title: 'Nested', brand: { name: 'x\u0000' } }),
          JSON.stringify({ sku: ['J5'], title: 'Array SKU' }),
          '',
        ].join('\n'),
      ),
      Buffer.from('{"sku": "J6", "title": "bad \xff"}\n', 'latin1'),
      Buffer.from(JSON.stringify({ sku: 'J7', title: 'Last', size: null }) + '\n'),
    ]);
    const result = await importFile(database.db, { catalogId: 'jsonl', file: await file(content, 'jsonl'), format: 'jsonl', mapping: jsonMapping });
    expect(result.failed).toEqual([
      { line: 2, reason: expect.stringMatching(/^not valid JSON/) },
      { line: 3, reason: 'expected a JSON object' },
      { line: 5, reason: expect.stringContaining('has scheme javascript') },
      { line: 6, reason: 'brand.name: value contains a NUL character' },
      { line: 7, reason: 'SKU (column "sku") must be text' },
      { line: 8, reason: 'the line is not valid UTF-8' },
    ]);
    expect(result.changedSkus.sort()).toEqual(['12345', 'J1', 'J7']);
    expect((await getProduct(database.db, 'jsonl', 'J1'))!.attributes).toEqual({ brand: 'Lumen', packshotUrl: 'https://cdn.example.com/j1.jpg', size: 50 });
  });

  it('rejects the whole file, writing nothing, when the header lacks a mapped column', async () => {
    const before = await sql<{ n: string }>`select count(*)::text as n from catalogs`.execute(database.db);
    await expect(
      importFile(database.db, { catalogId: 'nothing', file: await file('Article Number,Title,Brand\nA,B,C\n'), format: 'csv', mapping }),
    ).rejects.toThrow(/reads column "Label Copy", which the file's header does not have/);
    await expect(importFile(database.db, { catalogId: 'nothing', file: path.join(dir, 'missing.csv'), format: 'csv', mapping })).rejects.toBeInstanceOf(ImportError);
    await expect(importFile(database.db, { catalogId: 'nothing', file: await file(''), format: 'csv', mapping })).rejects.toThrow(/empty/);
    const after = await sql<{ n: string }>`select count(*)::text as n from catalogs`.execute(database.db);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    expect(() => parseMapping({ sku: 'a', name: 'b', attributes: { '1bad': 'c' } })).toThrow(MappingError);
    expect(() => parseMapping({ sku: 'a', name: 'b', attributes: { x: 'c' }, urlAttributes: ['y'] })).toThrow(/urlAttributes\.0/);
    expect(() => parseMapping({ name: 'b' })).toThrow(/sku/);
  });

  it('leaves whole batches only when the database fails in the middle of an import', async () => {
    await sql`create function refuse_boom() returns trigger language plpgsql as $$
      begin if new.sku = 'BOOM' then raise exception 'simulated crash on %', new.sku; end if; return new; end $$`.execute(database.db);
    await sql`create trigger refuse_boom before insert on products for each row execute function refuse_boom()`.execute(database.db);
    try {
      const rows = Array.from({ length: 25 }, (_, i) => (i === 17 ? 'BOOM,Boom,Lumen,,' : `B${i},Batch ${i},Lumen,,`));
      const content = [HEADER, ...rows].join('\n');
      await expect(importFile(database.db, { catalogId: 'crash', file: await file(content), format: 'csv', mapping, batchSize: 5 })).rejects.toThrow(/simulated crash/);
      const imported = await database.db.selectFrom('products').select('sku').where('catalog_id', '=', 'crash').execute();
      // Batches 1-3 (rows 0-14) committed; the batch holding BOOM (rows 15-19) left nothing behind.
      expect(imported.map((r) => r.sku).sort()).toEqual(Array.from({ length: 15 }, (_, i) => `B${i}`).sort());
    } finally {
      await sql`drop trigger refuse_boom on products`.execute(database.db);
      await sql`drop function refuse_boom()`.execute(database.db);
    }
  });

  it('reactivates a removed product that reappears, restoring its retired assets', async () => {
    await importFile(database.db, { catalogId: 'back', file: await file([HEADER, 'Z1,Zed,Lumen,,'].join('\n')), format: 'csv', mapping });
    const assetId = await seedAsset(database.db, 'back', 'Z1');
    await database.db.updateTable('products').set({ status: 'removed' }).where('catalog_id', '=', 'back').execute();
    await database.db.updateTable('assets').set({ status: 'retired' }).where('id', '=', assetId).execute();
    const result = await importFile(database.db, { catalogId: 'back', file: await file([HEADER, 'Z1,Zed,Lumen,,'].join('\n')), format: 'csv', mapping });
    expect(result).toMatchObject({ imported: 1, unchanged: 0, changedSkus: ['Z1'] });
    expect((await getProduct(database.db, 'back', 'Z1'))!.status).toBe('active');
    expect((await database.db.selectFrom('assets').select('status').where('id', '=', assetId).executeTakeFirstOrThrow()).status).toBe('current');
  });

  it('runs as `catalog-assets import`, exiting 4 when some rows failed', async () => {
    const mappingFile = path.join(dir, 'mapping.json');
    await fs.writeFile(mappingFile, JSON.stringify({ sku: 'Article Number', name: 'Title', attributes: { brand: 'Brand', labelText: 'Label Copy', packshotUrl: 'Image URL' } }));
    const csv = await file([HEADER, 'CLI1,One,Lumen,,', 'CLI2,,Lumen,,', 'CLI3,Three,Lumen,,'].join('\n'));
    const out: string[] = [];
    const saved = { DATABASE_URL: process.env.DATABASE_URL };
    process.env.DATABASE_URL = database.url;
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await main(['node', 'catalog-assets', 'import', '--catalog', 'cli', '--file', csv, '--mapping', mappingFile, '--json']);
      expect(code).toBe(4);
      const printed = JSON.parse(out.join('')) as { imported: number; failed: unknown[]; changedSkus: string[] };
      expect(printed).toMatchObject({ imported: 2, failed: [{ line: 3, reason: 'missing name (column "Title")' }], changedSkus: ['CLI1', 'CLI3'] });

      out.length = 0;
      const again = await main(['node', 'catalog-assets', 'import', '--catalog', 'cli', '--file', csv, '--mapping', mappingFile]);
      expect(again).toBe(4);
      expect(out.join('')).toContain('catalog cli: 0 imported, 2 unchanged, 1 failed');
      expect(out.join('')).toContain('line 3: missing name');

      expect(await main(['node', 'catalog-assets', 'import', '--catalog', 'cli', '--file', path.join(dir, 'x.txt'), '--mapping', mappingFile])).toBe(2);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      if (saved.DATABASE_URL === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved.DATABASE_URL;
    }
  });
});
