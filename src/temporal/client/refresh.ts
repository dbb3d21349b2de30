/** Starting and reading catalog refreshes (HTTP service, CLI and the nightly schedule use these). */
import type { Client } from '@temporalio/client';
import { refreshWorkflowId, taskQueueName } from '../../shared/ids';
import { SA } from '../../shared/searchAttributes';
import { refreshProgressQuery, refreshWorkflow } from '../workflows/refresh';
import type { RefreshBudget, RefreshProgress, RefreshResult, RefreshSelection, RefreshWorkflowInput } from '../../shared/refresh';

export interface RefreshRequest {
  catalogId: string;
  selection: RefreshSelection;
  dryRun: boolean;
  budget?: RefreshBudget;
  trigger: 'manual' | 'schedule' | 'webhook' | 'import';
  window?: number;
  pageSize?: number;
  skusPerRun?: number;
  /** Caller's idempotency key: the same key never starts two refreshes. Default: a fresh one. */
  runKey?: string;
}

export function describeSelection(selection: RefreshSelection): string {
  return typeof selection === 'string' ? selection : `${selection.skus.length} listed SKUs`;
}

export async function startRefresh(client: Client, taskQueuePrefix: string, req: RefreshRequest): Promise<{ workflowId: string; runId: string }> {
  const runKey = req.runKey ?? new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15) + '-' + Math.random().toString(36).slice(2, 8);
  const workflowId = refreshWorkflowId(req.catalogId, runKey);
  const input: RefreshWorkflowInput = {
    catalogId: req.catalogId,
    selection: req.selection,
    dryRun: req.dryRun,
    budget: req.budget,
    trigger: req.trigger,
    window: req.window,
    pageSize: req.pageSize,
    skusPerRun: req.skusPerRun,
  };
  const handle = await client.workflow.start(refreshWorkflow, {
    workflowId,
    taskQueue: taskQueueName(taskQueuePrefix, 'workflows'),
    args: [input],
    typedSearchAttributes: [
      { key: SA.catalogId, value: req.catalogId },
      { key: SA.trigger, value: req.trigger },
    ],
    staticSummary: `refresh catalog ${req.catalogId}: ${describeSelection(req.selection)}${req.dryRun ? ' (dry run)' : ''}`,
  });
  return { workflowId, runId: handle.firstExecutionRunId };
}

export async function refreshProgress(client: Client, workflowId: string): Promise<RefreshProgress> {
  return client.workflow.getHandle(workflowId).query(refreshProgressQuery);
}

export async function refreshResult(client: Client, workflowId: string): Promise<RefreshResult> {
  return client.workflow.getHandle<typeof refreshWorkflow>(workflowId).result();
}
