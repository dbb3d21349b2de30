/**
 * A publish run outside a product plan (`catalog-assets publish`, `assets rollback`): the same publish
 * activity per (SKU, destination), a bounded window of them in flight, failures sent as `asset.failed`.
 * It buys nothing and generates nothing: it sends the current assets destinations do not show yet.
 */
import { ApplicationFailure, isCancellation, log, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../../shared/failures';
import { parseTaskQueueName } from '../../shared/ids';
import { assetFailedEvent, refreshCompletedEvent, type OutboundEventInput, type PublishRunInput, type PublishRunResult } from '../../shared/publish';
import { rootMessage } from './product/publish';
import { publishSteps } from './proxies';

/** (SKU, destination) activities in flight at once. */
const WINDOW = 8;
/** A run's input stays small: the `publish` command splits larger selections into several runs. */
export const PUBLISH_RUN_MAX_SKUS = 500;

export async function publishWorkflow(input: PublishRunInput): Promise<PublishRunResult> {
  if (!input || typeof input.catalogId !== 'string' || !Array.isArray(input.skus) || input.skus.length > PUBLISH_RUN_MAX_SKUS) {
    throw ApplicationFailure.nonRetryable(`invalid publish input: catalogId and at most ${PUBLISH_RUN_MAX_SKUS} skus are required`, FailureType.invalidProductData);
  }
  const info = workflowInfo();
  const steps = publishSteps(parseTaskQueueName(info.taskQueue)?.prefix ?? info.taskQueue);
  const destinations = Array.isArray(input.destinations) ? input.destinations : [];
  const pairs = input.skus.flatMap((sku) => destinations.map((destination) => ({ sku, destination })));
  const result: PublishRunResult = { catalogId: input.catalogId, results: [], errors: [] };
  const events: OutboundEventInput[] = [];
  const occurredAt = new Date().toISOString();
  let next = 0;
  async function lane(): Promise<void> {
    while (next < pairs.length) {
      const { sku, destination } = pairs[next++]!;
      try {
        const r = await steps.publish.publishSku.executeWithOptions({ summary: `publish SKU ${sku} to ${destination}` }, [
          { catalogId: input.catalogId, sku, destination, requestedBy: input.requestedBy, ...(input.slots ? { slots: input.slots } : {}) },
        ]);
        result.results.push(r);
        for (const f of r.failed) {
          events.push(assetFailedEvent({ key: info.runId, occurredAt, catalogId: input.catalogId, sku, slot: f.slot, stage: 'publish', destination, version: f.version, errorType: f.errorType, message: f.message }));
        }
      } catch (err) {
        if (isCancellation(err)) throw err;
        const failure = rootMessage(err);
        log.warn('publish failed', { sku, destination, ...failure });
        result.errors.push({ sku, destination, ...failure });
        events.push(assetFailedEvent({ key: info.runId, occurredAt, catalogId: input.catalogId, sku, slot: '*', stage: 'publish', destination, ...failure }));
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(WINDOW, pairs.length) }, () => lane()));
  if (events.length > 0) {
    try {
      await steps.events.sendEvents.executeWithOptions({ summary: `send ${events.length} event(s)` }, [{ catalogId: input.catalogId, events }]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('events not sent', rootMessage(err));
    }
  }
  return result;
}

/** `refresh.completed` to the catalog's event destinations; a receiver that is down never fails the refresh. */
export async function notifyRefreshCompleted(o: { catalogId: string; status: string; counts: object }): Promise<void> {
  const info = workflowInfo();
  const steps = publishSteps(parseTaskQueueName(info.taskQueue)?.prefix ?? info.taskQueue);
  const event = refreshCompletedEvent({ workflowId: info.workflowId, occurredAt: new Date().toISOString(), ...o });
  try {
    await steps.events.sendEvents.executeWithOptions({ summary: `refresh of ${o.catalogId} completed: events` }, [{ catalogId: o.catalogId, events: [event] }]);
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('refresh.completed not sent', rootMessage(err));
  }
}
