/**
 * The workflows' proxies, one per task queue, each typed by that queue's activity set, and every
 * activity option (timeouts, retry policies) in one place.
 */
import { proxyActivities, proxyLocalActivities, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import type { ImagingQueueActivities, ProviderQueueActivities, PublishQueueActivities, WorkflowQueueActivities } from '../activities';
import { PUBLISH_MAX_ATTEMPTS } from '../../shared/publish';
import { FailureType, NON_RETRYABLE_FAILURES } from '../../shared/failures';
import { taskQueueName } from '../../shared/ids';

const nonRetryableErrorTypes = [...NON_RETRYABLE_FAILURES];

/** Postgres work: quick, retried long enough to ride out a database restart. */
const DB_RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 30, nonRetryableErrorTypes } as const;

/**
 * The product workflow's Postgres steps run as local activities: by the workflow worker inside the
 * workflow task, recorded as markers, so they cost no activity task, no extra workflow task and no
 * server round trip. Retries back off in the worker up to the threshold, then through a durable timer.
 */
const DB_LOCAL_OPTIONS: LocalActivityOptions = { startToCloseTimeout: '30 seconds', localRetryThreshold: '10 seconds', retry: DB_RETRY };

/** The refresh's Postgres steps: ordinary activities on the workflow queue (a page read can be slow). */
const DB_OPTIONS: ActivityOptions = { startToCloseTimeout: '1 minute', retry: DB_RETRY };
/** A dry run's estimate of a page prepares every slot: longer, and heartbeating. */
const ESTIMATE_OPTIONS: ActivityOptions = { ...DB_OPTIONS, startToCloseTimeout: '10 minutes', heartbeatTimeout: '1 minute' };

/**
 * The paid step (submit, await and keep) as one heartbeating activity. Its heartbeats run on a timer,
 * so the timeout detects a dead worker, never a slow provider; the ledger keeps retries from paying
 * twice, and the activity gives up by itself after PROVIDER_MAX_WAIT_MINUTES without resubmitting.
 */
const GENERATE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '3 hours',
  heartbeatTimeout: '15 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 12,
    nonRetryableErrorTypes: [...nonRetryableErrorTypes, FailureType.jobStillRunning, FailureType.outputExpired, FailureType.invalidImage],
  },
};

/** Variants of the stored originals: CPU-bound, on the imaging queue. */
const MATERIALIZE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes },
};

/**
 * OCR of a label output: CPU-bound (about a second per output), on the imaging queue. A reading is
 * recorded under its step and output, so a retry replaces it.
 */
const READ_LABEL_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 3, nonRetryableErrorTypes },
};

/** The product workflow's Postgres steps, run locally by the workflow worker. */
export function localPostgresSteps() {
  return proxyLocalActivities<WorkflowQueueActivities>(DB_LOCAL_OPTIONS);
}

/** The refresh's Postgres steps on the workflow queue it runs on, and its dry-run estimator. */
export function postgresSteps(workflowQueue: string) {
  return {
    db: proxyActivities<WorkflowQueueActivities>({ ...DB_OPTIONS, taskQueue: workflowQueue }),
    estimator: proxyActivities<WorkflowQueueActivities>({ ...ESTIMATE_OPTIONS, taskQueue: workflowQueue }),
  };
}

/** The paid step, on the provider queue of this deployment's prefix. */
export function providerSteps(prefix: string) {
  return proxyActivities<ProviderQueueActivities>({ taskQueue: taskQueueName(prefix, 'provider'), ...GENERATE_OPTIONS });
}

/** Variants, on the imaging queue of this deployment's prefix. */
export function imagingSteps(prefix: string) {
  return proxyActivities<ImagingQueueActivities>({ taskQueue: taskQueueName(prefix, 'imaging'), ...MATERIALIZE_OPTIONS });
}

/**
 * The publish step: one (SKU, destination) per activity, retried with backoff on 429, 5xx and dropped
 * connections (a destination's Retry-After comes back as the next retry's delay); the activity records
 * its last try's failure itself, knowing PUBLISH_MAX_ATTEMPTS.
 */
const PUBLISH_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: PUBLISH_MAX_ATTEMPTS, nonRetryableErrorTypes },
};

/** Outbound events: never worth holding a refresh for long (a receiver that is down gets them at least once later, or never). */
const EVENT_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '15 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: PUBLISH_MAX_ATTEMPTS, nonRetryableErrorTypes },
};

/** Destinations, on the publish queue of this deployment's prefix. */
export function publishSteps(prefix: string) {
  return {
    publish: proxyActivities<PublishQueueActivities>({ taskQueue: taskQueueName(prefix, 'publish'), ...PUBLISH_OPTIONS }),
    events: proxyActivities<PublishQueueActivities>({ taskQueue: taskQueueName(prefix, 'publish'), ...EVENT_OPTIONS }),
  };
}

/** Label OCR, on the imaging queue of this deployment's prefix. */
export function labelSteps(prefix: string) {
  return proxyActivities<Pick<ImagingQueueActivities, 'readLabel'>>({ taskQueue: taskQueueName(prefix, 'imaging'), ...READ_LABEL_OPTIONS });
}
