/**
 * Each task queue's activities are registered only on its own worker, and each workflow proxy is typed
 * by its queue's set: the `@ts-expect-error` lines below are checked by `tsc` (a call on the wrong
 * queue would compile, and the directive would then be an error).
 */
import { describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../../src/temporal/activities';
import { imagingSteps, localPostgresSteps, postgresSteps, providerSteps } from '../../src/temporal/workflows/proxies';

/** Never called: it exists for the type checker. */
export function callsOnTheWrongQueueDoNotCompile(): void {
  // @ts-expect-error materializeOutputs runs on the imaging queue, not the provider queue
  void providerSteps('p').materializeOutputs;
  // @ts-expect-error the paid step belongs to the provider queue
  void imagingSteps('p').generateJob;
  // @ts-expect-error the paid step never runs as a local activity of the workflow worker
  void localPostgresSteps().generateJob;
  // @ts-expect-error variants never run on the workflow queue
  void postgresSteps('q').db.materializeOutputs;
}

describe('activities by task queue', () => {
  it('builds one disjoint set per queue: Postgres steps, the paid step, the variants', () => {
    const sets = createActivities({} as ActivityDeps);
    expect(Object.keys(sets.provider)).toEqual(['generateJob']);
    expect(Object.keys(sets.imaging)).toEqual(['materializeOutputs', 'readLabel']);
    const workflowQueue = Object.keys(sets.workflows);
    expect(workflowQueue).toEqual(expect.arrayContaining(['loadPlan', 'prepareSlot', 'recordSlot', 'recordSlotFailure', 'decideReview', 'selectRefreshPage', 'estimatePage', 'recordRefreshRun']));
    expect(workflowQueue).not.toContain('generateJob');
    expect(workflowQueue).not.toContain('materializeOutputs');
  });
});
