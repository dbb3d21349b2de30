/**
 * The activities, one factory per task queue (each registered only on its own queue's worker):
 *   workflows  Postgres steps, run as local activities of the product workflow and as activities of the refresh;
 *   provider   the paid step (submit, await and keep), sized for the provider's limits;
 *   imaging    variants of stored originals, sized to cores;
 *   publish    the catalog's destinations (PIM, shop, outbound events), sized for their rate limits.
 * Workflows type each proxy with its queue's set, so a step called on the wrong queue does not compile.
 */
import { createCatalogActivities } from './catalog';
import type { ActivityDeps } from './deps';
import { createImagingActivities } from './imaging';
import { createLabelLedgerActivities, createLabelReadingActivities } from './label';
import { createProviderActivities } from './provider';
import { createPublishActivities, createPublishLedgerActivities } from './publish';
import { createRefreshActivities } from './refresh';

export type { ActivityDeps } from './deps';

export function createWorkflowQueueActivities(deps: ActivityDeps) {
  const catalog = createCatalogActivities(deps);
  return { ...catalog, ...createRefreshActivities(deps, catalog), ...createLabelLedgerActivities(deps), ...createPublishLedgerActivities(deps) };
}

export function createProviderQueueActivities(deps: ActivityDeps) {
  return createProviderActivities(deps);
}

export function createImagingQueueActivities(deps: ActivityDeps) {
  return { ...createImagingActivities(deps), ...createLabelReadingActivities(deps) };
}

/** Calls to the catalog's destinations (PIM, shop, outbound events), sized for their rate limits. */
export function createPublishQueueActivities(deps: ActivityDeps) {
  return createPublishActivities(deps);
}

export type WorkflowQueueActivities = ReturnType<typeof createWorkflowQueueActivities>;
export type ProviderQueueActivities = ReturnType<typeof createProviderQueueActivities>;
export type ImagingQueueActivities = ReturnType<typeof createImagingQueueActivities>;
export type PublishQueueActivities = ReturnType<typeof createPublishQueueActivities>;

/** Every queue's activities, keyed by the queue's role (src/shared/ids.ts). */
export interface ActivitiesByQueue {
  workflows: WorkflowQueueActivities;
  provider: ProviderQueueActivities;
  imaging: ImagingQueueActivities;
  publish: PublishQueueActivities;
}

export function createActivities(deps: ActivityDeps): ActivitiesByQueue {
  return {
    workflows: createWorkflowQueueActivities(deps),
    provider: createProviderQueueActivities(deps),
    imaging: createImagingQueueActivities(deps),
    publish: createPublishQueueActivities(deps),
  };
}
