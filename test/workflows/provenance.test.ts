/**
 * A small refresh on the dev server, then every file it stored read back with exiftool (Debian's, not
 * this project's code): each original and each JPEG/WebP/AVIF variant says it is trainedAlgorithmicMedia,
 * names the model and the SKU, and every variant is tagged sRGB. Content keys stay the hash of the stored
 * (marked) bytes, and the asset rows' checksums are those of the files.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCurrentAssets } from '../../src/db/repositories/assets';
import { upsertCatalog } from '../../src/db/repositories/catalogs';
import { DIGITAL_SOURCE_TYPE_TRAINED, type VariantSpec } from '../../src/imaging';
import { BUILTIN_CHANNELS } from '../../src/shared/channelProfiles';
import { DEFAULT_PLAN } from '../../src/shared/plan';
import { refreshResult, startRefresh } from '../../src/temporal/client/refresh';
import { listFiles } from '../helpers/invariants';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

const run = promisify(execFile);
const CATALOG = 'marked';
const SKUS = ['PLAIN-1', `<b>"Q&A" 'x'</b> ]]>`];
const VARIANTS: VariantSpec[] = [
  { name: 'card-jpeg', maxEdge: 64, format: 'jpeg' },
  { name: 'card-webp', maxEdge: 64, format: 'webp' },
  { name: 'card-avif', maxEdge: 64, format: 'avif', effort: 2 },
];

interface ExifJson {
  SourceFile: string;
  DigitalSourceType?: string;
  AISystemUsed?: string;
  Identifier?: string;
  Catalog?: string;
  Slot?: string;
  CreateDate?: string;
  ProfileDescription?: string;
  Warning?: string;
}

describe('provenance across a refresh', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ variants: VARIANTS });
    await stack.addProducts(
      CATALOG,
      SKUS.map((sku) => ({ sku, attributes: sampleAttributes(stack, sku) })),
    );
    // The hero as PNG, the other slots as JPEG: both original containers the provider delivers.
    const plan = { ...DEFAULT_PLAN, slots: DEFAULT_PLAN.slots.map((s) => (s.name === 'hero' ? { ...s, outputFormat: 'png' as const } : s)) };
    await upsertCatalog(stack.database.db, { id: CATALOG, name: CATALOG, plan, settings: { sceneReferences: [stack.packshotUrl('scene-kitchen.jpg')] } });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('marks every original and variant the refresh stored', { timeout: 180_000 }, async () => {
    const since = Date.now() - 60_000;
    const { workflowId } = await startRefresh(stack.client, stack.prefix, { catalogId: CATALOG, selection: 'changed', dryRun: false, trigger: 'manual', window: 4, pageSize: 10, skusPerRun: 10 });
    const result = await refreshResult(stack.client, workflowId);
    expect(result).toMatchObject({ planned: 2, generated: 2, failed: 0 });

    const files = (await listFiles(stack.storageDir)).filter((f) => f.startsWith('originals/') || f.startsWith('variants/'));
    const originals = files.filter((f) => f.startsWith('originals/'));
    const variants = files.filter((f) => f.startsWith('variants/'));
    expect(originals.map((f) => path.extname(f)).sort()).toEqual(['.jpg', '.jpg', '.jpg', '.jpg', '.png', '.png']);
    expect(new Set(variants.map((f) => path.extname(f)))).toEqual(new Set(['.jpg', '.webp', '.avif']));
    // Plus the slots' channel files (channels that want the same pixels share one file): marked alike.
    const channelFiles = await stack.database.db.selectFrom('asset_variants').select('storage_key').distinct().where('name', 'in', [...BUILTIN_CHANNELS]).execute();
    expect(channelFiles.length).toBeGreaterThan(0);
    expect(variants.length).toBe(originals.length * VARIANTS.length + channelFiles.length);

    const { stdout } = await run('/usr/bin/exiftool', ['-j', '-XMP:all', '-ICC_Profile:ProfileDescription', '-Warning', ...files.map((f) => path.join(stack.storageDir, f))], { maxBuffer: 16 << 20 });
    const read = JSON.parse(stdout) as ExifJson[];
    expect(read).toHaveLength(files.length);
    for (const r of read) {
      const name = path.relative(stack.storageDir, r.SourceFile);
      expect(r.Warning, name).toBeUndefined();
      expect(r.DigitalSourceType, name).toBe(DIGITAL_SOURCE_TYPE_TRAINED);
      expect(r.AISystemUsed, name).toBe(stack.deps.model);
      expect(SKUS, name).toContain(r.Identifier);
      expect(r.Catalog, name).toBe(CATALOG);
      expect(['hero', 'label', 'lifestyle'], name).toContain(r.Slot);
      const created = Date.parse(String(r.CreateDate).replace(/^(\d{4}):(\d{2}):(\d{2}) /, '$1-$2-$3T'));
      expect(created, `${name}: ${r.CreateDate}`).toBeGreaterThan(since);
      expect(created, name).toBeLessThanOrEqual(Date.now());
      if (name.startsWith('variants/')) expect(r.ProfileDescription, name).toBe('sRGB');
    }
    // Each SKU's six originals say so (three slots), the hostile one spelled exactly.
    for (const sku of SKUS) expect(read.filter((r) => r.Identifier === sku && r.SourceFile.includes('/originals/'))).toHaveLength(3);

    // Content keys are the hash of the stored (marked) bytes, and so are the recorded checksums.
    for (const f of files) {
      const bytes = await fs.readFile(path.join(stack.storageDir, f));
      expect(path.basename(f, path.extname(f)), f).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
    const stored = new Set(files);
    for (const sku of SKUS) {
      const assets = await listCurrentAssets(stack.database.db, CATALOG, sku);
      expect(assets.map((a) => a.slot).sort()).toEqual(['hero', 'label', 'lifestyle']);
      for (const a of assets) {
        expect(stored, a.storage_key).toContain(a.storage_key);
        expect(a.storage_key).toContain(a.checksum);
        for (const v of a.variants) expect(stored, v.storage_key).toContain(v.storage_key);
      }
    }
  });
});
