/**
 * Progress reporting: the counts a refresh carries across continue-as-new, the first failures met, the
 * progress query's answer and the run's details line in Temporal UI.
 */
import { setCurrentDetails, setHandler } from '@temporalio/workflow';
import {
  emptyCounts,
  MAX_FAILURE_REASON,
  MAX_LISTED_FAILURES,
  type RefreshCounts,
  type RefreshFailure,
  type RefreshProgress,
  type RefreshWorkflowArgs,
} from '../../../shared/refresh';
import { refreshProgressQuery } from './definitions';
import { selectionLabel } from './selection';

export interface RefreshTally {
  readonly counts: RefreshCounts;
  readonly progress: RefreshProgress;
  /** The first failures met, for the result; `progress.failureCount` covers them all. */
  readonly failures: RefreshFailure[];
  noteFailure(f: RefreshFailure): void;
  /** Updates the details line from the counts. */
  publish(): void;
}

/** The tally of this run, picked up from the carry of the run before; answers the progress query from now on. */
export function refreshTally(input: RefreshWorkflowArgs): RefreshTally {
  const counts: RefreshCounts = input.carry ? { ...input.carry.counts } : emptyCounts();
  const progress: RefreshProgress = {
    catalogId: input.catalogId,
    selection: input.selection,
    dryRun: input.dryRun,
    counts,
    inFlight: 0,
    cursor: input.carry?.cursor ?? null,
    runs: (input.carry?.runs ?? 0) + 1,
    budgetExhausted: input.carry?.budgetExhausted ?? false,
    done: false,
    failureCount: input.carry?.failureCount ?? 0,
  };
  const failures: RefreshFailure[] = [...(input.carry?.failures ?? [])];
  setHandler(refreshProgressQuery, () => progress);
  const label = selectionLabel(input.selection);
  const describe = () =>
    `refresh catalog **${input.catalogId}** (${label}${input.dryRun ? ', dry run' : ''}): ` +
    `${counts.planned} planned, ${counts.generated} generated, ${counts.skipped} unchanged, ${counts.failed} failed, ` +
    `$${(counts.costCents / 100).toFixed(2)} spent${progress.budgetExhausted ? ', budget reached' : ''}`;
  return {
    counts,
    progress,
    failures,
    noteFailure(f) {
      progress.failureCount += 1;
      if (failures.length < MAX_LISTED_FAILURES) failures.push({ ...f, reason: f.reason.slice(0, MAX_FAILURE_REASON) });
    },
    publish: () => setCurrentDetails(describe()),
  };
}
