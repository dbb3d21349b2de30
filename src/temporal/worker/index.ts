/**
 * The worker bootstrap: one process polls three task queues, each sized for its resource:
 *   <prefix>.workflows  workflow tasks and Postgres activities;
 *   <prefix>.provider   provider calls, with a server-side rate limit shared by every worker;
 *   <prefix>.imaging    download and variants, at most one output per core at a time;
 *   <prefix>.publish    the catalog's destinations (PIM, shop, outbound events).
 * Run more copies of the process to scale out; nothing in it is stateful.
 */
import path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import type { ActivitiesByQueue } from '../activities';
import { TASK_QUEUE_ROLES, taskQueueName, type TaskQueueRole } from '../../shared/ids';

export const WORKFLOWS_PATH = path.resolve(import.meta.dirname, '..', 'workflows', 'index.ts');

export interface WorkerPoolOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueuePrefix: string;
  /** Each queue's activities, registered only on that queue's worker. */
  activities: ActivitiesByQueue;
  /** Provider activities in flight per worker (submits and polls; they mostly wait on the network). */
  providerConcurrency: number;
  /** Provider activity starts per second across all workers (the account's rate limit). */
  providerRatePerSecond: number;
  imagingConcurrency: number;
  /** Publish activities in flight per worker (each waits on a destination's API; default 20). */
  publishConcurrency?: number;
  /** A prebuilt workflow bundle (tests, production images); otherwise workflows/ is bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /**
   * Payload encryption (src/temporal/client/codec.ts): every worker of the process encodes and decodes with
   * it. It must match the clients' (see dataConverterFor in src/temporal/client/connection.ts).
   */
  dataConverter?: DataConverter;
  /** Which queues this process polls (default all four). */
  roles?: TaskQueueRole[];
}

export async function createWorkers(o: WorkerPoolOptions): Promise<Worker[]> {
  const roles = o.roles ?? TASK_QUEUE_ROLES;
  const common = {
    connection: o.connection,
    namespace: o.namespace,
    ...(o.dataConverter ? { dataConverter: o.dataConverter } : {}),
  };
  const workers: Worker[] = [];
  if (roles.includes('workflows')) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: taskQueueName(o.taskQueuePrefix, 'workflows'),
        activities: o.activities.workflows,
        ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
        maxConcurrentActivityTaskExecutions: 50,
        maxCachedWorkflows: 2_000,
      }),
    );
  }
  if (roles.includes('provider')) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: taskQueueName(o.taskQueuePrefix, 'provider'),
        activities: o.activities.provider,
        maxConcurrentActivityTaskExecutions: o.providerConcurrency,
        maxTaskQueueActivitiesPerSecond: o.providerRatePerSecond,
      }),
    );
  }
  if (roles.includes('imaging')) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: taskQueueName(o.taskQueuePrefix, 'imaging'),
        activities: o.activities.imaging,
        maxConcurrentActivityTaskExecutions: o.imagingConcurrency,
      }),
    );
  }
  if (roles.includes('publish')) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: taskQueueName(o.taskQueuePrefix, 'publish'),
        activities: o.activities.publish,
        maxConcurrentActivityTaskExecutions: o.publishConcurrency ?? 20,
      }),
    );
  }
  return workers;
}

/** Runs workers until they are shut down (SIGINT/SIGTERM are handled by the SDK). */
export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}
