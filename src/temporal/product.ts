/**
 * Starting product workflows. Every trigger (webhook, import, refresh, CLI) goes through here:
 * signal-with-start on the SKU's workflow id starts the plan, or, when one is already running,
 * signals it so the change is coalesced into a re-run afterwards: never two plans at once, never lost.
 */
import type { Client } from '@temporalio/client';
import { productWorkflowId, taskQueueName } from '../shared/ids';
import { SA } from '../shared/searchAttributes';
import type { ProductWorkflowInput } from '../shared/steps';

export async function triggerProduct(
  client: Client,
  o: { taskQueuePrefix: string; input: ProductWorkflowInput; productName?: string },
): Promise<{ workflowId: string; runId: string }> {
  const { catalogId, sku } = o.input;
  const workflowId = productWorkflowId(catalogId, sku);
  const handle = await client.workflow.signalWithStart('productWorkflow', {
    workflowId,
    taskQueue: taskQueueName(o.taskQueuePrefix, 'workflows'),
    args: [o.input],
    signal: 'productChanged',
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
