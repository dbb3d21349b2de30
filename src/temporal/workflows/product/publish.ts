/**
 * The publish step of a product run: once every slot has its outcome (a reviewed slot after its
 * approval), the SKU's current assets go to the catalog's destinations, one activity per destination
 * on the publish queue. A publish failure never fails the run nor holds another destination: it is
 * recorded per destination in the status, the details and the `PublishOutcome` search attribute, and
 * sent as `asset.failed` to the catalog's event destinations, like a slot that failed to generate.
 */
import { ActivityFailure, ApplicationFailure, isCancellation, log, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  assetFailedEvent,
  overallPublishOutcome,
  publishOutcome,
  type OutboundEventInput,
  type PublishOutcome,
  type PublishSkuResult,
} from '../../../shared/publish';
import { SA } from '../../../shared/searchAttributes';
import type { SlotOutcome } from '../../../shared/steps';
import type { DestinationPublishStatus } from './definitions';
import type { ProductRun } from './run';

export function rootMessage(err: unknown): { errorType: string; message: string } {
  let cause: unknown = err;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) return { errorType: cause.type ?? 'Error', message: cause.message };
  if (cause instanceof Error) return { errorType: cause.name, message: cause.message };
  return { errorType: 'Error', message: String(cause) };
}

export function destinationStatus(r: PublishSkuResult): DestinationPublishStatus {
  return {
    outcome: publishOutcome(r),
    published: r.published.length,
    unchanged: r.unchanged,
    failed: r.failed.map((f) => ({ slot: f.slot, errorType: f.errorType, message: f.message })),
    skipped: r.skipped.map((s) => ({ slot: s.slot, reason: s.reason })),
  };
}

/** Publishes what this run made current (and anything a destination still lacks); returns each destination's outcome. */
export async function publishRun(run: ProductRun, outcomes: SlotOutcome[]): Promise<Record<string, PublishOutcome> | undefined> {
  const { plan, base, steps, report } = run;
  const status = report.status;
  const events: OutboundEventInput[] = [];
  const key = workflowInfo().runId;
  const occurredAt = new Date().toISOString();
  for (const o of outcomes) {
    if (o.outcome !== 'failed') continue;
    events.push(assetFailedEvent({ key, occurredAt, catalogId: base.catalogId, sku: base.sku, slot: o.slot, stage: 'generate', errorType: o.errorType, message: o.message }));
  }
  if (plan.publishProblem) {
    status.publish = { '*': { outcome: 'failed', published: 0, unchanged: 0, failed: [{ slot: '*', errorType: 'DestinationConfigInvalid', message: plan.publishProblem }], skipped: [] } };
    report.publish();
  }
  const destinations = plan.publishTo ?? [];
  if (destinations.length === 0) return plan.publishProblem ? { '*': 'failed' } : undefined;

  const slots = run.input.slots;
  const pending = await steps.db('destinationsToPublish', { summary: `what SKU ${base.sku} has to publish` }, [
    { catalogId: base.catalogId, sku: base.sku, ...(slots ? { slots } : {}) },
  ]);
  const outcomesByDestination: Record<string, PublishOutcome> = {};
  status.publish = { ...status.publish };
  for (const d of destinations) {
    if (!pending.includes(d)) {
      outcomesByDestination[d] = 'unchanged';
      status.publish[d] = { outcome: 'unchanged', published: 0, unchanged: 0, failed: [], skipped: [] };
    } else {
      status.publish[d] = { outcome: 'publishing', published: 0, unchanged: 0, failed: [], skipped: [] };
    }
  }
  report.publish();
  await Promise.all(
    pending.map(async (destination) => {
      try {
        const r = await steps.publish.publish.publishSku.executeWithOptions({ summary: `publish SKU ${base.sku} to ${destination}` }, [
          { catalogId: base.catalogId, sku: base.sku, destination, requestedBy: base.workflowId, ...(slots ? { slots } : {}) },
        ]);
        status.publish![destination] = destinationStatus(r);
        outcomesByDestination[destination] = publishOutcome(r);
        for (const f of r.failed) {
          events.push(
            assetFailedEvent({ key, occurredAt, catalogId: base.catalogId, sku: base.sku, slot: f.slot, stage: 'publish', destination, version: f.version, errorType: f.errorType, message: f.message }),
          );
        }
      } catch (err) {
        if (isCancellation(err)) throw err;
        const failure = rootMessage(err);
        log.warn('publish failed', { sku: base.sku, destination, ...failure });
        status.publish![destination] = { outcome: 'failed', published: 0, unchanged: 0, failed: [{ slot: '*', ...failure }], skipped: [] };
        outcomesByDestination[destination] = 'failed';
        events.push(assetFailedEvent({ key, occurredAt, catalogId: base.catalogId, sku: base.sku, slot: '*', stage: 'publish', destination, ...failure }));
      }
      report.publish();
    }),
  );
  const overall = overallPublishOutcome(Object.values(outcomesByDestination));
  if (overall) upsertSearchAttributes([{ key: SA.publishOutcome, value: overall }]);
  if (events.length > 0) {
    try {
      await steps.publish.events.sendEvents.executeWithOptions({ summary: `send ${events.length} event(s) for SKU ${base.sku}` }, [{ catalogId: base.catalogId, events }]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('events not sent', { sku: base.sku, ...rootMessage(err) });
    }
  }
  return outcomesByDestination;
}
