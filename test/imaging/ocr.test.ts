/**
 * OCR over labels the simulator prints: its correct labels pass the default threshold, its misspelled
 * ones do not, at the smallest output size the test stacks use (128 px) and at the real one (1024 px).
 * A handful of images only: each reading costs a few hundred ms of CPU.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { closeOcr, OCR_MAX_SIDE, ocrLanguageFor, ocrPaths, prepareForOcr, readText } from '../../src/imaging/ocr';
import { labelSimilarity, labelVerdict } from '../../src/label/compare';
import { renderOutputs } from '../../src/provider/simulator/render';
import { renderTemplate, DEFAULT_PLAN } from '../../src/shared/plan';

const run = promisify(execFile);
const LABEL = 'Night Cream 50 ml, with Shea Butter';
const template = DEFAULT_PLAN.slots.find((s) => s.name === 'label')!.promptTemplate;

async function simulatedEdit(size: number, misspellLabel: boolean, label = LABEL): Promise<Buffer> {
  const source = await sharp({ create: { width: 96, height: 96, channels: 3, background: '#c9a' } }).png().toBuffer();
  const prompt = renderTemplate(template, { labelText: label });
  const out = await renderOutputs(
    { operation: 'edit', seed: `ocr-test-${size}`, prompt, width: size, height: size, format: 'jpeg', quality: 'high', watermark: true, misspellLabel },
    [{ field: 'imageUrl', bytes: source, width: 96, height: 96 }],
    [0],
  );
  return out.get(0)!.bytes;
}

afterAll(async () => {
  await closeOcr();
});

describe('label OCR', () => {
  for (const size of [128, 1024]) {
    it(`reads a correct ${size}-px label as passing and a misspelled one as a mismatch`, async () => {
      const good = await readText(await simulatedEdit(size, false));
      const bad = await readText(await simulatedEdit(size, true));
      const goodSimilarity = labelSimilarity(LABEL, good.text);
      const badSimilarity = labelSimilarity(LABEL, bad.text);
      expect(labelVerdict(goodSimilarity, 0.85), good.text).toBe('pass');
      expect(labelVerdict(badSimilarity, 0.85), bad.text).toBe('mismatch');
      expect(badSimilarity).toBeLessThan(0.8);
    });
  }

  it('bounds what the reader sees: grey, at most OCR_MAX_SIDE on the longest side', async () => {
    const big = await sharp({ create: { width: 3000, height: 1500, channels: 3, background: '#345' } }).jpeg().toBuffer();
    const prepared = await prepareForOcr(big);
    expect([prepared.width, prepared.height]).toEqual([OCR_MAX_SIDE, OCR_MAX_SIDE / 2]);
    const meta = await sharp(prepared.data).metadata();
    expect(meta.channels).toBe(1);
  });

  it('has a reader for English only: every other locale is left to be recorded unchecked', () => {
    expect([ocrLanguageFor(null), ocrLanguageFor('en'), ocrLanguageFor('en_GB'), ocrLanguageFor('EN-us')]).toEqual(['eng', 'eng', 'eng', 'eng']);
    expect([ocrLanguageFor('de_DE'), ocrLanguageFor('fr'), ocrLanguageFor('ja_JP')]).toEqual([undefined, undefined, undefined]);
  });

  it('takes its traineddata and engine from the installed packages, never from a URL', () => {
    const paths = ocrPaths('eng', '/tmp/x');
    expect(paths.langPath).toMatch(/node_modules\/@tesseract\.js-data\/eng\/4\.0\.0_best_int$/);
    expect(fs.existsSync(path.join(paths.langPath, 'eng.traineddata.gz'))).toBe(true);
    expect(paths.gzip).toBe(true);
    expect(fs.existsSync(path.join(paths.corePath, 'tesseract-core-simd-lstm.wasm'))).toBe(true);
    expect(paths.cachePath).toBe('/tmp/x/eng');
  });

  it('reads a label with the network blocked and an empty cache folder: nothing is downloaded', async () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'ocr-offline-'));
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        ['--require', path.resolve('test/fixtures/ocr/block-network.cjs'), '--import', 'tsx', path.resolve('test/fixtures/ocr/read-offline.ts'), 'Oat Milk 1 l'],
        { env: { ...process.env, OCR_CACHE_DIR: cache }, timeout: 60_000 },
      );
      expect(stderr).not.toContain('NETWORK BLOCKED');
      const result = JSON.parse(stdout.trim()) as { text: string };
      expect(labelSimilarity('Oat Milk 1 l', result.text), result.text).toBeGreaterThanOrEqual(0.85);
      // The model was unpacked from the package's gzip into the cache folder this process was given.
      expect(fs.readdirSync(path.join(cache, 'eng'))).toEqual(['eng.traineddata']);
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
