/** What `catalog-assets worker` does, loaded when it runs: the runtime and its workers until stopped. */
import { createLogger } from '../../app/logger';
import { describeProvider, openRuntime } from '../../app/runtime';
import type { TaskQueueRole } from '../../shared/ids';
import { runWorkers } from '../../temporal/worker';
import { configOrExit } from '../context';

export async function runWorker(flags: { queues: string; migrate: boolean; workflowBundle?: string }): Promise<void> {
  const config = configOrExit();
  const logger = createLogger(config.logLevel, 'worker');
  const roles = flags.queues.split(',').map((q) => q.trim()) as TaskQueueRole[];
  const runtime = await openRuntime(config, { migrate: flags.migrate, logger });
  logger.info({ provider: describeProvider(config) }, 'image provider');
  try {
    const workers = await runtime.createWorkers({
      roles,
      ...(flags.workflowBundle ? { workflowBundle: { codePath: flags.workflowBundle } } : {}),
    });
    logger.info(
      { queues: roles, prefix: config.temporal.taskQueuePrefix, temporal: config.temporal.address, payloadEncryption: config.temporal.payloadKey ? config.temporal.payloadKey.keyId : 'off' },
      'worker running',
    );
    await runWorkers(workers);
  } finally {
    await runtime.close();
  }
}
