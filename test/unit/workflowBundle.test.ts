/**
 * The workflow bundle's modules are evaluated again for every workflow execution (Temporal's
 * reusable V8 context keeps module state per workflow), so what the workflows import is paid on
 * every product workflow start. This keeps heavy libraries out, and checks the zod-free input
 * checks the workflows use instead.
 */
import fs from 'node:fs/promises';
import { describe, expect, inject, it } from 'vitest';
import { parseRefreshWorkflowInput } from '../../src/shared/refresh';
import { parseProductWorkflowInput } from '../../src/shared/steps';

describe('workflow bundle', () => {
  it('holds only the SDK, the workflows and the workflow-imported shared modules', async () => {
    const code = await fs.readFile(inject('workflowBundlePath'), 'utf8');
    const paths = [...code.matchAll(/"\.\/((?:node_modules|src|workflows)\/[^"]+)"/g)].map((m) => m[1] ?? '');
    // Packages by name (node_modules/<name> or node_modules/@scope/<name>), project files whole.
    const modules = new Set(paths.map((p) => /^node_modules\/(?:@[^/]+\/)?[^/]+/.exec(p)?.[0] ?? p));
    expect(modules.size).toBeGreaterThan(5);
    const packages = [...modules].filter((m) => m?.startsWith('node_modules/')).sort();
    expect(packages).toEqual(['node_modules/@temporalio/common', 'node_modules/@temporalio/workflow', 'node_modules/long', 'node_modules/ms', 'node_modules/nexus-rpc']);
    expect([...modules].filter((m) => m?.startsWith('src/'))).not.toContain('src/shared/plan.ts');
  });
});

describe('product workflow input', () => {
  it('fills the defaults', () => {
    expect(parseProductWorkflowInput({ catalogId: 'c', sku: 's' })).toEqual({ catalogId: 'c', sku: 's', trigger: 'manual', force: false, changeReruns: 0 });
    expect(parseProductWorkflowInput({ catalogId: 'c', sku: 's', slots: ['hero'], trigger: 'webhook', force: true, changeReruns: 2 }))
      .toEqual({ catalogId: 'c', sku: 's', slots: ['hero'], trigger: 'webhook', force: true, changeReruns: 2 });
  });

  it.each([
    [null, '(root)', 'expected an object, got null'],
    [{ sku: 's' }, 'catalogId', 'expected a string, got undefined'],
    [{ catalogId: '', sku: 's' }, 'catalogId', 'must have at least 1 character'],
    [{ catalogId: 'c', sku: 'x'.repeat(201) }, 'sku', 'must have at most 200 characters'],
    [{ catalogId: 'c', sku: 's', trigger: 'cron' }, 'trigger', 'expected one of'],
    [{ catalogId: 'c', sku: 's', changeReruns: 1.5 }, 'changeReruns', 'expected an integer'],
    [{ catalogId: 'c', sku: 's', slots: ['hero', 3] }, 'slots.1', 'expected a string, got number'],
    [{ catalogId: 'c', sku: 's', colour: 'red' }, 'colour', 'unrecognized key'],
  ])('rejects %j at %s', (raw, path, reason) => {
    expect(() => parseProductWorkflowInput(raw)).toThrow(expect.objectContaining({ path: path === '(root)' ? '' : path, reason: expect.stringContaining(reason) }));
  });
});

describe('refresh workflow input', () => {
  it('fills the defaults and keeps what was given', () => {
    expect(parseRefreshWorkflowInput({ catalogId: 'c' })).toEqual({ catalogId: 'c', selection: 'stale', dryRun: false, trigger: 'manual', window: 16, pageSize: 100, skusPerRun: 500 });
    const carry = { cursor: null, counts: { planned: 1, skipped: 0, generated: 1, failed: 0, coalesced: 0, submissions: 1, imagesBilled: 1, costCents: 4, estimatedImages: 0, invalid: 0 }, startedAt: 'x', runs: 1, budgetExhausted: false };
    expect(parseRefreshWorkflowInput({ catalogId: 'c', selection: { skus: ['a'] }, budget: { usd: 2.5 }, carry })).toMatchObject({ selection: { skus: ['a'] }, budget: { usd: 2.5 }, carry });
  });

  it.each([
    [{ catalogId: 'c', selection: 'everything' }, 'selection', 'expected one of'],
    [{ catalogId: 'c', selection: { skus: [] } }, 'selection.skus', 'at least 1 item'],
    [{ catalogId: 'c', budget: { images: -1 } }, 'budget.images', 'must be >= 0'],
    [{ catalogId: 'c', window: 0 }, 'window', 'must be >= 1'],
    [{ catalogId: 'c', skusPerRun: 5001 }, 'skusPerRun', 'must be <= 5000'],
    [{ catalogId: 'c', carry: { cursor: null, counts: {}, startedAt: 'x', runs: 1, budgetExhausted: false } }, 'carry.counts.planned', 'expected a number'],
  ])('rejects %j at %s', (raw, path, reason) => {
    expect(() => parseRefreshWorkflowInput(raw)).toThrow(expect.objectContaining({ path, reason: expect.stringContaining(reason) }));
  });
});
