/**
 * Determinism guard for the catalog refresh: every recorded refresh history
 * (test/fixtures/histories/refresh-*.json) replays against the current workflow code without a
 * nondeterminism error. The recordings cover a refresh that continues as new with a SKU coalesced into
 * a run already going, a dry run with an invalid SKU, a budget that runs out, and a plain `changed`
 * refresh. A change to src/temporal/workflows/refresh that reorders, adds or removes commands fails
 * here; re-record deliberately (`npx tsx scripts/record-histories.ts`), as product.replay.test.ts says.
 */
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { historyFromFixture, historyToFixture, loadRecordedHistory, recordedHistoryFiles, replayRecorded } from '../helpers/histories';

const files = recordedHistoryFiles('refresh');
const SCENARIOS = ['continued-run1', 'continued-run2', 'continued-run3', 'dry-run-invalid', 'budget', 'changed'];

describe('replaying recorded refresh workflow histories', () => {
  let results = new Map<string, Error | undefined>();

  beforeAll(async () => {
    results = await replayRecorded(files, { workflowBundle: { codePath: inject('workflowBundlePath') } });
  }, 60_000);

  it('has the recorded scenarios', () => {
    for (const scenario of SCENARIOS) expect(files).toContain(`refresh-${scenario}.json`);
  });

  it.each(files)('%s replays without a nondeterminism error', (file) => {
    expect(results.has(file)).toBe(true);
    expect(results.get(file)).toBeUndefined();
  });

  it('fails on an incompatible change to the refresh workflow (the guard can fail)', { timeout: 60_000 }, async () => {
    const workflowsPath = path.resolve(import.meta.dirname, '..', 'fixtures', 'replay', 'reorderedRefreshWorkflow.ts');
    await expect(Worker.runReplayHistory({ workflowsPath }, loadRecordedHistory('refresh-changed.json'), 'mutated')).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  it('fails on a recorded history whose coalesced SKU was started as another child (one event changed)', { timeout: 30_000 }, async () => {
    const fixture = historyToFixture(loadRecordedHistory('refresh-continued-run1.json')) as { events: Array<Record<string, { workflowId?: string; signalName?: string } | undefined>> };
    // The first child the refresh tried to start for RF-CAN-1 (the start that failed: already running).
    const started = fixture.events.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId?.endsWith(':RF-CAN-1'));
    expect(started).toBeDefined();
    started!.startChildWorkflowExecutionInitiatedEventAttributes!.workflowId = started!.startChildWorkflowExecutionInitiatedEventAttributes!.workflowId!.replace(/RF-CAN-1$/, 'RF-CAN-9');
    const [result] = await collect(Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, [{ workflowId: 'tampered', history: historyFromFixture(fixture) }]));
    expect(result?.error).toBeInstanceOf(DeterminismViolationError);
  });
});

async function collect<T>(results: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const r of results) all.push(r);
  return all;
}
