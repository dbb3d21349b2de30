/** Starting publish runs (`catalog-assets publish`, `assets rollback`): SKUs to the catalog's destinations. */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { taskQueueName } from '../../shared/ids';
import { publishWorkflowId, type PublishRunInput, type PublishRunResult } from '../../shared/publish';
import { SA } from '../../shared/searchAttributes';
import { publishWorkflow, PUBLISH_RUN_MAX_SKUS } from '../workflows/publish';

export { PUBLISH_RUN_MAX_SKUS };

/**
 * Starts one publish run per PUBLISH_RUN_MAX_SKUS SKUs. `runKey` names the runs (the same key never
 * starts the same run twice: a repeated rollback of the same version joins the first run).
 */
export async function startPublishRuns(client: Client, taskQueuePrefix: string, input: PublishRunInput, runKey: string): Promise<Array<{ workflowId: string; runId: string }>> {
  const started: Array<{ workflowId: string; runId: string }> = [];
  for (let i = 0; i < input.skus.length; i += PUBLISH_RUN_MAX_SKUS) {
    const part = { ...input, skus: input.skus.slice(i, i + PUBLISH_RUN_MAX_SKUS) };
    const workflowId = publishWorkflowId(input.catalogId, input.skus.length > PUBLISH_RUN_MAX_SKUS ? `${runKey}-${i / PUBLISH_RUN_MAX_SKUS + 1}` : runKey);
    try {
      const handle = await client.workflow.start(publishWorkflow, {
        workflowId,
        taskQueue: taskQueueName(taskQueuePrefix, 'workflows'),
        args: [part],
        typedSearchAttributes: [{ key: SA.catalogId, value: input.catalogId }],
        staticSummary: `publish ${part.skus.length} SKU(s) of ${input.catalogId}`,
      });
      started.push({ workflowId, runId: handle.firstExecutionRunId });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const desc = await client.workflow.getHandle(workflowId).describe();
      started.push({ workflowId, runId: desc.runId });
    }
  }
  return started;
}

export async function publishRunResult(client: Client, workflowId: string): Promise<PublishRunResult> {
  return client.workflow.getHandle<typeof publishWorkflow>(workflowId).result();
}
