/**
 * `catalog-assets status`, `assets show|rollback` and `results`, run as a child process (the real bin)
 * against a database holding real generated assets.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main';
import type { CatalogSummary, SkuAssets, SkuStatus } from '../../src/db/repositories/summaries';
import { runCli } from '../helpers/cli';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';

// Product workflow ids derive from catalog and SKU, and every test file shares one Temporal dev server:
// a catalog id of this file's own keeps its workflows from meeting another file's.
const CATALOG = 'cli-views';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let stack: TestStack;
let tmp: string;

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return runCli(args, { ...process.env, DATABASE_URL: stack.database.url, ASSET_DIR: stack.storageDir, NO_COLOR: undefined, ...env });
}

/** `catalog-assets <path> --help` in this process: the same program, output captured. */
async function helpOf(commandPath: string[]): Promise<string> {
  const program = buildProgram();
  let out = '';
  let cmd: Command = program;
  for (const name of commandPath) cmd = cmd.commands.find((c) => c.name() === name)!;
  cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  await expect(program.parseAsync(['node', 'catalog-assets', ...commandPath, '--help'])).rejects.toMatchObject({ exitCode: 0 });
  return out;
}

const json = <T>(r: Run): T => {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n')).toHaveLength(1); // one JSON object
  return JSON.parse(r.stdout) as T;
};

describe('catalog-assets status, assets and results', () => {
  beforeAll(async () => {
    stack = await startTestStack();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-cli-'));
    await stack.addProducts(CATALOG, [
      { sku: 'NC-1', name: 'Night Cream', attributes: sampleAttributes(stack, 'NC-1') },
      { sku: 'BAD-1', name: 'No label text', attributes: sampleAttributes(stack, 'BAD-1', { labelText: undefined }) },
    ]);
    const run = async (sku: string) => {
      const { workflowId } = await stack.trigger({ catalogId: CATALOG, sku, trigger: 'manual' });
      return stack.client.workflow.getHandle(workflowId).result().then(() => 'ok', () => 'failed');
    };
    expect(await Promise.all([run('NC-1'), run('BAD-1')])).toEqual(['ok', 'failed']);
    // A second label version for NC-1, to show and roll back.
    await stack.addProducts(CATALOG, [{ sku: 'NC-1', name: 'Night Cream', attributes: sampleAttributes(stack, 'NC-1', { labelText: 'Night Cream 75 ml' }) }]);
    expect(await run('NC-1')).toBe('ok');
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('documents every command with examples in --help', async () => {
    // Three through the real bin (each process costs ~2 s of module loading), the rest in-process.
    const [top, status, rollback] = await Promise.all([cli(['--help']), cli(['status', '--help']), cli(['assets', 'rollback', '--help'])]);
    for (const r of [top, status, rollback]) expect(r.code, r.stderr).toBe(0);
    const [assets, show, results] = await Promise.all([helpOf(['assets']), helpOf(['assets', 'show']), helpOf(['results'])]);
    expect(top.stdout).toMatch(/^\s+status\b/m);
    expect(top.stdout).toMatch(/^\s+assets\b/m);
    expect(top.stdout).toMatch(/^\s+results\b/m);
    for (const flag of ['--catalog <id>', '--sku <sku>', '--top <n>', '--json', 'Examples:', 'catalog-assets status --catalog acme --sku NC-001', 'Exit codes']) expect(status.stdout).toContain(flag);
    expect(assets).toMatch(/show\b[\s\S]*rollback\b/);
    expect(assets).toContain('Examples:');
    for (const flag of ['--catalog <id>', '--sku <sku>', '--json', 'Examples:']) expect(show).toContain(flag);
    for (const flag of ['--slot <slot>', '--json', 'Examples:', '1 nothing to roll back to']) expect(rollback.stdout).toContain(flag);
    for (const flag of ['--out <file.html>', '--asset-base-url <url>', '--page-size <n>', 'Examples:']) expect(results).toContain(flag);
  });

  it('status --json: the catalog summary as one object', async () => {
    const s = json<CatalogSummary>(await cli(['status', '--catalog', CATALOG, '--json']));
    expect(s.catalog).toEqual({ id: CATALOG, name: CATALOG });
    expect(s.slots).toEqual(['hero', 'label', 'lifestyle']);
    expect(s.products).toEqual({ total: 2, active: 2, removed: 0 });
    expect(s.skus).toMatchObject({ allSlotsCurrent: 1, withFailures: 1 });
    expect(s.failures.total).toBe(1);
    expect(s.failures.byType).toEqual([{ errorType: 'InvalidProductData', count: 1 }]);
    expect(s.failures.recent).toEqual([{ sku: 'BAD-1', slot: 'label', errorType: 'InvalidProductData', message: expect.stringContaining('labelText'), at: expect.any(String) }]);
    // NC-1: 3 + 1 jobs, BAD-1: 2 (its label never reached the provider).
    expect(s.ledger).toMatchObject({ jobs: 6, imagesBilled: 6, costCents: 24, costUsd: 0.24, byStatus: { completed: 6 } });
    expect(s.refreshRuns).toEqual([]);
  });

  it('status as text, without colour when stdout is not a terminal', async () => {
    const r = await cli(['status', '--catalog', CATALOG]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`catalog ${CATALOG}`);
    expect(r.stdout).toContain('1 with all slots current');
    expect(r.stdout).toMatch(/BAD-1\s+label\s+InvalidProductData\s+.*labelText/);
    expect(r.stdout).toContain('6 jobs (6 completed), 6 images billed, $0.24');
    expect(r.stdout).not.toContain('\u001b[');
  });

  it("status --sku: one SKU's slots with the current version and the last attempt", async () => {
    const [ok, bad] = await Promise.all([cli(['status', '--catalog', CATALOG, '--sku', 'NC-1', '--json']), cli(['status', '--catalog', CATALOG, '--sku', 'BAD-1'])]);
    const s = json<SkuStatus>(ok);
    expect(s).toMatchObject({ catalogId: CATALOG, sku: 'NC-1', status: 'active' });
    expect(s.slots.map((x) => [x.slot, x.current?.version, x.lastAttempt?.outcome, x.versions])).toEqual([
      ['hero', 1, 'skipped', 1],
      ['label', 2, 'generated', 2],
      ['lifestyle', 1, 'skipped', 1],
    ]);
    // Two storefront variants plus the label slot's channel variants (google-shopping, shopify).
    expect(s.slots[1]!.current).toMatchObject({ status: 'current', variants: 4, fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(bad.code).toBe(0);
    expect(bad.stdout).toMatch(/label\s+none\s+-\s+-\s+0\s+failed InvalidProductData: .*labelText/);
  });

  it('exits 1 with a clear message for an unknown SKU or catalog, 2 for bad usage, 3 without DATABASE_URL', async () => {
    const [sku, catalog, noCatalog, badTop, noDb] = await Promise.all([
      cli(['status', '--catalog', CATALOG, '--sku', 'NOPE-9']),
      cli(['assets', 'show', '--catalog', 'nope', '--sku', 'NC-1', '--json']),
      cli(['status']),
      cli(['status', '--catalog', CATALOG, '--top', 'lots']),
      cli(['status', '--catalog', CATALOG], { DATABASE_URL: undefined }),
    ]);
    expect(sku.code).toBe(1);
    expect(sku.stderr).toContain(`error: no SKU "NOPE-9" in catalog "${CATALOG}"`);
    expect(sku.stdout).toBe('');
    expect(catalog.code).toBe(1);
    expect(catalog.stderr).toContain('no catalog "nope"');
    expect(noCatalog.code).toBe(2);
    expect(noCatalog.stderr).toMatch(/required option '--catalog <id>' not specified/);
    expect(badTop.code).toBe(2);
    expect(badTop.stderr).toContain('--top');
    expect(noDb.code).toBe(3);
    expect(noDb.stderr).toContain('DATABASE_URL is not set');
  });

  it("assets show --json: each slot's versions, the current one marked", async () => {
    const a = json<SkuAssets>(await cli(['assets', 'show', '--catalog', CATALOG, '--sku', 'NC-1', '--json']));
    expect(a.slots.map((s) => [s.slot, s.currentVersion])).toEqual([
      ['hero', 1],
      ['label', 2],
      ['lifestyle', 1],
    ]);
    const label = a.slots.find((s) => s.slot === 'label')!;
    // Two storefront variants plus the label slot's two channel variants, per version.
    expect(label.versions.map((v) => [v.version, v.status, v.current, v.variants])).toEqual([
      [2, 'current', true, 4],
      [1, 'superseded', false, 4],
    ]);
    expect(label.versions[0]!.storageKey).toMatch(/^originals\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.jpg$/);
    const text = await cli(['assets', 'show', '--catalog', CATALOG, '--sku', 'NC-1']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/label \(current v2\)\n\s+\*\s+v2\s+current\s+[0-9a-f]{12}\s+4 variants\s+\$0\.04/);
  });

  it('assets rollback: moves the slot back one version, then exits 1 when there is nothing older', async () => {
    const r = json<{ from: number; to: number; slot: string }>(await cli(['assets', 'rollback', '--catalog', CATALOG, '--sku', 'NC-1', '--slot', 'label', '--json']));
    expect(r).toEqual({ catalogId: CATALOG, sku: 'NC-1', slot: 'label', from: 2, to: 1 });
    const after = json<SkuAssets>(await cli(['assets', 'show', '--catalog', CATALOG, '--sku', 'NC-1', '--json']));
    expect(after.slots.find((s) => s.slot === 'label')?.currentVersion).toBe(1);

    const [again, noAsset, badSlot] = await Promise.all([
      cli(['assets', 'rollback', '--catalog', CATALOG, '--sku', 'NC-1', '--slot', 'label']),
      cli(['assets', 'rollback', '--catalog', CATALOG, '--sku', 'BAD-1', '--slot', 'label']),
      cli(['assets', 'rollback', '--catalog', CATALOG, '--sku', 'NC-1', '--slot', 'Not A Slot']),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('nothing to roll back: SKU "NC-1" has no label version older than v1 to roll back to');
    expect(noAsset.code).toBe(1);
    expect(noAsset.stderr).toContain('has no current label asset');
    expect(badSlot.code).toBe(2);
    expect(badSlot.stderr).toContain('a lowercase slot name');
  });

  it('results: writes the page with the displayed images copied next to it', async () => {
    const out = path.join(tmp, 'acme.html');
    const r = json<{ files: string[]; pages: number; skus: number; copiedAssets: number }>(await cli(['results', '--catalog', CATALOG, '--out', out, '--json']));
    expect(r).toMatchObject({ pages: 1, skus: 2, copiedAssets: 5 });
    const html = await fs.readFile(out, 'utf8');
    expect(html).toContain('InvalidProductData');
    expect(html).toContain('function thumbHashToRGBA('); // the placeholder decoder survives tsx's loader
    const srcs = [...html.matchAll(/<img class="asset" src="([^"]+)"/g)].map((m) => m[1]!);
    expect(srcs.length).toBeGreaterThanOrEqual(5);
    for (const src of srcs) await expect(fs.stat(path.join(tmp, decodeURIComponent(src)))).resolves.toBeTruthy();
    const missing = await cli(['results', '--catalog', 'nope', '--out', path.join(tmp, 'nope.html')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no catalog "nope"');
  });
});
