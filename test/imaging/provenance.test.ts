/**
 * AI provenance in every file the worker writes, read back with independent readers (exiftool and
 * exiv2 from Debian, not this project's code): the IPTC digital source type, the model, the time and the
 * SKU in JPEG, WebP and AVIF variants and in JPEG, PNG and WebP originals marked without re-encoding;
 * the sRGB profile on variants; hostile SKUs escaped; the same facts giving the same bytes.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../src/dev/testImages';
import { buildXmpPacket, DIGITAL_SOURCE_TYPE_TRAINED, embedXmp, inspectImage, ProvenanceError, renderVariants, type ProvenanceFacts, type VariantSpec } from '../../src/imaging';
import { crc32, embedXmpJpeg, embedXmpPng } from '../../src/imaging/provenance';
import { provenanceStamp, storeOriginal } from '../../src/temporal/activities/originals';

const run = promisify(execFile);
const EXIFTOOL = '/usr/bin/exiftool';
const EXIV2 = '/usr/bin/exiv2';

const VARIANTS: VariantSpec[] = [
  { name: 'm-jpeg', maxEdge: 96, format: 'jpeg' },
  { name: 'm-webp', maxEdge: 96, format: 'webp' },
  { name: 'm-avif', maxEdge: 96, format: 'avif', effort: 2 },
];

/** SKUs a PIM really sends (test/reliability/hostile-ids) plus the characters XML is touchy about. */
const HOSTILE_SKUS = [
  '<script>alert(1)</script>',
  `'; drop table products; --`,
  'a & b "quoted" ]]> <?xpacket end="w"?>',
  'ünïcödé ✓ 商品 😀',
  ` leading and trailing spaces `,
  '../../etc/passwd',
];

const FACTS: ProvenanceFacts = {
  model: 'openai/gpt-image-2',
  createdAt: '2026-11-30T09:15:00.000Z',
  catalogId: 'demo',
  sku: 'SKU-1',
  slot: 'hero',
  provider: 'simulator http://127.0.0.1:1 openai/gpt-image-2',
  jobId: 'job_123',
};

interface ExifJson {
  SourceFile: string;
  DigitalSourceType?: string;
  AISystemUsed?: string;
  CreatorTool?: string;
  CreateDate?: string;
  Identifier?: string;
  ProfileDescription?: string;
  [k: string]: unknown;
}

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-provenance-'));
});
afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

let fileNo = 0;
async function writeTemp(bytes: Buffer, ext: string): Promise<string> {
  const file = path.join(dir, `f${++fileNo}.${ext}`);
  await fs.writeFile(file, bytes);
  return file;
}

/** exiftool's reading of the XMP and the ICC profile description; exiftool warnings fail the test. */
async function exiftool(files: string[]): Promise<ExifJson[]> {
  const { stdout } = await run(EXIFTOOL, ['-j', '-struct', '-XMP:all', '-ICC_Profile:ProfileDescription', '-Warning', ...files]);
  const out = JSON.parse(stdout) as ExifJson[];
  for (const o of out) expect(o.Warning, `${o.SourceFile}: ${String(o.Warning)}`).toBeUndefined();
  return out;
}

async function exiv2Xmp(file: string): Promise<Record<string, string>> {
  const { stdout } = await run(EXIV2, ['-px', file]);
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+\S+\s+\d+\s+(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** The file without the XMP segment or chunk the writer inserted. */
function withoutInserted(bytes: Buffer, format: 'jpeg' | 'png'): Buffer {
  if (format === 'jpeg') {
    const at = bytes.indexOf('http://ns.adobe.com/xap/1.0/\0', 0, 'latin1') - 4;
    return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 2 + bytes.readUInt16BE(at + 2))]);
  }
  const at = bytes.indexOf('iTXtXML:com.adobe.xmp', 0, 'latin1') - 4;
  return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 12 + bytes.readUInt32BE(at))]);
}

async function pixels(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes).raw().toBuffer();
}

describe('the XMP packet', () => {
  it('is well-formed for hostile SKUs, and exiftool reads each one back exactly', async () => {
    const files: string[] = [];
    for (const sku of HOSTILE_SKUS) {
      const png = await makeTestImage({ width: 24, height: 24, format: 'png', seed: 3 });
      files.push(await writeTemp(embedXmp(png, 'png', buildXmpPacket({ ...FACTS, sku, catalogId: `cat <${sku}>` })), 'png'));
    }
    const read = await exiftool(files);
    expect(read.map((r) => r.Identifier)).toEqual(HOSTILE_SKUS);
    for (const r of read) expect(r.DigitalSourceType).toBe(DIGITAL_SOURCE_TYPE_TRAINED);
  });

  it('turns characters XML cannot carry into U+FFFD and names a bad field', () => {
    const packet = buildXmpPacket({ ...FACTS, sku: 'a\u0000b\u001bc\uFFFFd' });
    expect(packet).toContain('<dc:identifier>a\uFFFDb\uFFFDc\uFFFDd</dc:identifier>');
    expect(() => buildXmpPacket({ ...FACTS, sku: '' })).toThrow(/provenance\.sku: must be a non-empty string/);
    expect(() => buildXmpPacket({ ...FACTS, createdAt: 'yesterday' })).toThrow(/provenance\.createdAt: "yesterday" is not an ISO-8601/);
    expect(() => buildXmpPacket({ ...FACTS, model: 'm'.repeat(401) })).toThrow(/provenance\.model: is 401 characters/);
    expect(() => buildXmpPacket({ ...FACTS, createdAt: '2026-11-30T09:15:00' })).toThrow(ProvenanceError);
  });

  it('is the same bytes for the same facts: no clock, no random id', () => {
    expect(buildXmpPacket({ ...FACTS })).toBe(buildXmpPacket({ ...FACTS }));
    expect(buildXmpPacket({ ...FACTS, createdAt: '2026-11-30T09:15:01.000Z' })).not.toBe(buildXmpPacket(FACTS));
  });
});

describe('variants', () => {
  it('JPEG, WebP and AVIF carry the digital source type, model, time, SKU and an sRGB profile (exiftool and exiv2)', async () => {
    const source = await makeTestImage({ width: 200, height: 160, format: 'png', seed: 5 });
    const sku = HOSTILE_SKUS[2]!;
    const result = await renderVariants(source, VARIANTS, { provenance: { ...FACTS, sku, derivedFrom: 'ab'.repeat(32) } });
    const files = await Promise.all(result.variants.map((v) => writeTemp(v.data, v.format === 'jpeg' ? 'jpg' : v.format)));
    const read = await exiftool(files);
    expect(read).toHaveLength(3);
    for (const r of read) {
      expect(r, r.SourceFile).toMatchObject({
        DigitalSourceType: DIGITAL_SOURCE_TYPE_TRAINED,
        AISystemUsed: FACTS.model,
        CreatorTool: FACTS.model,
        Identifier: sku,
        ProfileDescription: 'sRGB',
      });
      expect(String(r.CreateDate)).toMatch(/^2026:11:30 09:15:00(\.000)?Z?/);
      expect(r.DerivedFrom).toBe('ab'.repeat(32));
    }
    for (const file of files) {
      const x = await exiv2Xmp(file);
      expect(x['Xmp.iptcExt.DigitalSourceType'], file).toBe(DIGITAL_SOURCE_TYPE_TRAINED);
    }
    // The tag does not change the pixels: sRGB in, sRGB tagged out.
    const plain = await renderVariants(source, VARIANTS);
    for (const [i, v] of result.variants.entries()) {
      const a = await pixels(v.data);
      const b = await pixels(plain.variants[i]!.data);
      let worst = 0;
      for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k]! - b[k]!));
      expect(worst, v.name).toBeLessThanOrEqual(2);
    }
  });

  it('without provenance stays as before: no XMP, no profile', async () => {
    const source = await makeTestImage({ width: 120, height: 90, format: 'jpeg', seed: 6 });
    const { variants } = await renderVariants(source, VARIANTS);
    for (const v of variants) {
      const meta = await sharp(v.data).metadata();
      expect([v.name, meta.xmp, meta.icc]).toEqual([v.name, undefined, undefined]);
    }
  });

  it('a retried render writes byte-identical files (same content keys)', async () => {
    const source = await makeTestImage({ width: 180, height: 180, format: 'jpeg', seed: 7 });
    const first = await renderVariants(source, VARIANTS, { provenance: FACTS });
    const again = await renderVariants(source, VARIANTS, { provenance: { ...FACTS } });
    expect(again.variants.map((v) => v.sha256)).toEqual(first.variants.map((v) => v.sha256));
  });
});

describe('originals, marked without re-encoding', () => {
  const memoryStorage = () => {
    const files = new Map<string, Buffer>();
    return { files, storage: { kind: 'memory', put: async (key: string, data: Buffer) => void files.set(key, Buffer.from(data)) } as never };
  };

  it.each([
    ['jpeg', 'jpg'],
    ['png', 'png'],
    ['webp', 'webp'],
  ] as const)('%s: exiftool and exiv2 read the stamp; pixels and the bytes around it are the provider’s', async (format, ext) => {
    const sent = await makeTestImage({ width: 160, height: 120, format, seed: 11 });
    const { files, storage } = memoryStorage();
    const stamp = provenanceStamp({ catalogId: 'demo', sku: HOSTILE_SKUS[0]!, slot: 'hero', model: FACTS.model, provider: 'real', jobId: 'j1', openedAt: new Date('2026-11-30T09:00:00Z'), jobRaw: { completed_at: 1_796_029_200 } });
    expect(stamp.createdAt).toBe(new Date(1_796_029_200_000).toISOString());
    expect(provenanceStamp({ ...FACTS, slot: 'hero', provider: 'real https://user:secret@api.example.com/v1/ model-x', jobId: 'j', openedAt: new Date() }).provider).toBe('real api.example.com');
    const stored = await storeOriginal({ storage, outputLimits: { maxBytes: 1 << 24, maxPixels: 1e7 } }, 0, sent, stamp);
    const bytes = files.get(stored.storageKey)!;
    expect(stored.storageKey).toContain(stored.checksum);
    expect(stored.checksum).toBe((await inspectImage(bytes)).sha256);
    expect(stored.providerSha256).toBe((await inspectImage(sent)).sha256);
    expect(stored.provenance).toEqual(stamp);
    expect(await pixels(bytes)).toEqual(await pixels(sent));
    // Only metadata was added: taking our segment (JPEG) or chunk (PNG) out again gives the provider's file byte for byte.
    if (format !== 'webp') expect(withoutInserted(bytes, format)).toEqual(sent);

    const file = await writeTemp(bytes, ext);
    const [read] = await exiftool([file]);
    expect(read).toMatchObject({ DigitalSourceType: DIGITAL_SOURCE_TYPE_TRAINED, AISystemUsed: FACTS.model, Identifier: HOSTILE_SKUS[0] });
    expect((await exiv2Xmp(file))['Xmp.iptcExt.DigitalSourceType']).toBe(DIGITAL_SOURCE_TYPE_TRAINED);
    // exiftool's own validation of the structure (chunk CRCs, segment lengths).
    const { stdout } = await run(EXIFTOOL, ['-validate', '-warning', '-error', '-a', '-j', file]);
    const [v] = JSON.parse(stdout) as Array<{ Validate?: string; Warning?: string; Error?: string }>;
    expect(v!.Error).toBeUndefined();
    expect(v!.Validate).toBe('OK');

    // Stored again (a retried download): same bytes, same key.
    const again = await storeOriginal({ storage, outputLimits: { maxBytes: 1 << 24, maxPixels: 1e7 } }, 0, sent, { ...stamp });
    expect(again.storageKey).toBe(stored.storageKey);
  });

  it('replaces an XMP packet the provider wrote instead of adding a second', async () => {
    const withOld = await sharp(await makeTestImage({ width: 64, height: 64, format: 'png', seed: 2 }))
      .withXmp(buildXmpPacket({ ...FACTS, sku: 'OLD' }))
      .jpeg()
      .toBuffer();
    const marked = embedXmpJpeg(withOld, buildXmpPacket({ ...FACTS, sku: 'NEW' }));
    const [read] = await exiftool([await writeTemp(marked, 'jpg')]);
    expect(read!.Identifier).toBe('NEW');
    expect(marked.toString('latin1').split('http://ns.adobe.com/xap/1.0/\0').length - 1).toBe(1);
    expect(marked.subarray(marked.indexOf(Buffer.from([0xff, 0xda])))).toEqual(withOld.subarray(withOld.indexOf(Buffer.from([0xff, 0xda]))));

    const png = await sharp(await makeTestImage({ width: 32, height: 32, format: 'png', seed: 2 })).png().toBuffer();
    const twice = embedXmpPng(embedXmpPng(png, buildXmpPacket({ ...FACTS, sku: 'OLD' })), buildXmpPacket({ ...FACTS, sku: 'NEW' }));
    const [p] = await exiftool([await writeTemp(twice, 'png')]);
    expect(p!.Identifier).toBe('NEW');
    expect(twice.toString('latin1').split('XML:com.adobe.xmp').length - 1).toBe(1);
  });

  it('puts the PNG iTXt before the first IDAT with a correct CRC', async () => {
    const png = await makeTestImage({ width: 32, height: 32, format: 'png', seed: 4 });
    const marked = embedXmpPng(png, buildXmpPacket(FACTS));
    const at = marked.indexOf('iTXt', 8, 'latin1') - 4;
    expect(at).toBeGreaterThan(8);
    expect(marked.indexOf('IDAT', 8, 'latin1')).toBeGreaterThan(at);
    const length = marked.readUInt32BE(at);
    expect(marked.readUInt32BE(at + 8 + length)).toBe(crc32(marked.subarray(at + 4, at + 8 + length)));
    expect(crc32(Buffer.from('IEND', 'latin1'))).toBe(0xae426082);
  });

  it('never throws anything but ProvenanceError on damaged containers, and what it returns still holds the packet (seeded mutations)', async () => {
    const packet = buildXmpPacket(FACTS);
    let state = 12345;
    const rand = (n: number) => ((state = (state * 1103515245 + 12345) >>> 0) % n);
    for (const format of ['jpeg', 'png', 'webp'] as const) {
      const good = await makeTestImage({ width: 48, height: 40, format, seed: 9 });
      for (let k = 0; k < 400; k++) {
        const bad = Buffer.from(good.subarray(0, k % 5 === 0 ? rand(good.length) : good.length));
        for (let j = rand(6); j >= 0; j--) if (bad.length) bad[rand(bad.length)] = rand(256);
        let out: Buffer | undefined;
        try {
          out = embedXmp(bad, format, packet);
        } catch (err) {
          expect(err, `${format} #${k}`).toBeInstanceOf(ProvenanceError);
          continue;
        }
        expect(out.includes(Buffer.from(packet, 'utf8')), `${format} #${k}`).toBe(true);
      }
    }
  });

  it('stores a container the writer cannot follow as sent rather than losing a paid image', async () => {
    const sent = await makeTestImage({ width: 40, height: 40, format: 'avif' });
    const { files, storage } = memoryStorage();
    const stored = await storeOriginal({ storage, outputLimits: { maxBytes: 1 << 24, maxPixels: 1e7 } }, 0, sent, provenanceStamp({ ...FACTS, slot: 'hero', provider: 'p', jobId: 'j', openedAt: new Date('2026-11-30T09:00:00Z') }));
    expect(files.get(stored.storageKey)).toEqual(sent);
    expect(stored.providerSha256).toBeUndefined();
    expect(stored.provenance?.createdAt).toBe('2026-11-30T09:00:00.000Z');
  });
});
