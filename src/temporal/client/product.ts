/**
 * Starting product workflows. Every trigger (webhook, import, refresh, CLI) goes through here:
 * signal-with-start on the SKU's workflow id starts the plan, or, when one is already running,
 * signals it so the change is coalesced into a re-run afterwards: never two plans at once, never lost.
 */
import type { Client } from '@temporalio/client';
import { productWorkflowId, taskQueueName } from '../../shared/ids';
import { SA } from '../../shared/searchAttributes';
import type { ProductWorkflowInput, ReviewDecisionSignal } from '../../shared/steps';
import { productChangedSignal, productStatusQuery, productWorkflow, reviewSignal } from '../workflows/product';

export async function triggerProduct(
  client: Client,
  o: { taskQueuePrefix: string; input: ProductWorkflowInput; productName?: string },
): Promise<{ workflowId: string; runId: string }> {
  const { catalogId, sku } = o.input;
  const workflowId = productWorkflowId(catalogId, sku);
  const handle = await client.workflow.signalWithStart(productWorkflow, {
    workflowId,
    taskQueue: taskQueueName(o.taskQueuePrefix, 'workflows'),
    args: [o.input],
    signal: productChangedSignal,
    signalArgs: [{ trigger: o.input.trigger ?? 'manual' }],
    typedSearchAttributes: [
      { key: SA.catalogId, value: catalogId },
      { key: SA.sku, value: sku },
      { key: SA.trigger, value: o.input.trigger ?? 'manual' },
    ],
    memo: o.productName ? { productName: o.productName } : undefined,
    staticSummary: `asset plan for SKU ${sku} in catalog ${catalogId}${o.productName ? ` (${o.productName})` : ''}`,
  });
  return { workflowId, runId: handle.signaledRunId };
}

export type ReviewSendOutcome =
  | { ok: true; workflowId: string }
  | { ok: false; reason: 'not_running' | 'not_awaiting_review'; workflowId: string; message: string };

/**
 * An operator's review decision, sent to the SKU's running plan through the signal definition. Only a
 * slot that is waiting for review takes one (the workflow ignores any other, so the answer says so).
 */
export async function sendReviewDecision(client: Client, catalogId: string, sku: string, decision: ReviewDecisionSignal): Promise<ReviewSendOutcome> {
  const workflowId = productWorkflowId(catalogId, sku);
  const handle = client.workflow.getHandle(workflowId);
  const status = await handle.query(productStatusQuery).catch(() => undefined);
  if (!status) return { ok: false, reason: 'not_running', workflowId, message: `no running asset plan for SKU ${sku} in catalog ${catalogId}` };
  const phase = status.slots[decision.slot]?.phase;
  if (phase !== 'awaiting_review') {
    return { ok: false, reason: 'not_awaiting_review', workflowId, message: `slot ${decision.slot} of SKU ${sku} is not waiting for review (phase: ${phase ?? 'none'})` };
  }
  await handle.signal(reviewSignal, decision);
  return { ok: true, workflowId };
}
