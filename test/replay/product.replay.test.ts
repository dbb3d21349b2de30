/**
 * Determinism guard: every recorded product workflow history (test/fixtures/histories) replays
 * against the current workflow code without a nondeterminism error. A change to src/temporal/workflows
 * that reorders, adds or removes commands fails here; before a release, re-record the histories
 * deliberately (`npx tsx scripts/record-histories.ts`); after one, ship the change as the README's
 * release procedure says (README, "Shipping workflow changes").
 */
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { loadRecordedHistory, recordedHistoryFiles, replayRecorded } from '../helpers/histories';

// Refresh histories (refresh-*.json) are replayed by refresh.replay.test.ts.
const files = recordedHistoryFiles('product');
const SCENARIOS = ['generate', 'unchanged', 'failed-slot', 'dependency-failed', 'retried-faults', 'coalesced-run1', 'coalesced-run2', 'review-reject-approve', 'review-timeout'];

describe('replaying recorded product workflow histories', () => {
  let results = new Map<string, Error | undefined>();

  beforeAll(async () => {
    // One replay worker for every history; each result says whether its history replayed cleanly.
    results = await replayRecorded(files, { workflowBundle: { codePath: inject('workflowBundlePath') } });
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
    await expect(Worker.runReplayHistory({ workflowsPath }, loadRecordedHistory('product-generate.json'), 'mutated')).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
