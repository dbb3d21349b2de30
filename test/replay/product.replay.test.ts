/**
 * Determinism guard: every recorded product workflow history (test/fixtures/histories) replays
 * against the current workflow code without a nondeterminism error. A change to src/temporal/workflows
 * that reorders, adds or removes commands fails here; before a release, re-record the histories
 * deliberately (`npx tsx scripts/record-histories.ts`); after one, ship the change as the README's
 * release procedure says (README, "Shipping workflow changes").
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { historyFromFixture } from '../helpers/histories';

const DIR = path.resolve(import.meta.dirname, '..', 'fixtures', 'histories');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const SCENARIOS = ['generate', 'unchanged', 'failed-slot', 'dependency-failed', 'retried-faults', 'coalesced-run1', 'coalesced-run2', 'review-reject-approve', 'review-timeout'];
const load = (file: string) => historyFromFixture(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));

describe('replaying recorded product workflow histories', () => {
  const results = new Map<string, Error | undefined>();

  beforeAll(async () => {
    // One replay worker for every history; each result says whether its history replayed cleanly.
    const histories = files.map((file) => ({ workflowId: file, history: load(file) }));
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      results.set(r.workflowId, r.error);
    }
  }, 60_000);

  it('has the recorded scenarios', () => {
    for (const scenario of SCENARIOS) {
      expect(files).toContain(`product-${scenario}.json`);
    }
  });

  it.each(files)('%s replays without a nondeterminism error', (file) => {
    expect(results.has(file)).toBe(true);
    expect(results.get(file)).toBeUndefined();
  });

  it('fails on an incompatible change (the guard can fail)', { timeout: 60_000 }, async () => {
    const workflowsPath = path.resolve(import.meta.dirname, '..', 'fixtures', 'replay', 'reorderedProductWorkflow.ts');
    await expect(Worker.runReplayHistory({ workflowsPath }, load('product-generate.json'), 'mutated')).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
