/** The product workflow's steps on their queues: Postgres (local, one at a time), the paid step, variants. */
import type { WorkflowQueueActivities } from '../../activities';
import { imagingSteps, labelSteps, localPostgresSteps, providerSteps, publishSteps } from '../proxies';

type DbName = keyof WorkflowQueueActivities;
type DbArgs<K extends DbName> = Parameters<WorkflowQueueActivities[K]>;
type DbResult<K extends DbName> = Awaited<ReturnType<WorkflowQueueActivities[K]>>;

export interface ProductSteps {
  /** A Postgres step, run as a local activity after every earlier one has finished. */
  db<K extends DbName>(name: K, options: { summary: string }, args: DbArgs<K>): Promise<DbResult<K>>;
  provider: ReturnType<typeof providerSteps>;
  imaging: ReturnType<typeof imagingSteps>;
  publish: ReturnType<typeof publishSteps>;
  label: ReturnType<typeof labelSteps>;
}

export function productSteps(prefix: string): ProductSteps {
  const local = localPostgresSteps();
  /**
   * Local activities run one at a time. Their markers record results, not how completions were
   * batched into activations; two in flight at once could resolve together on replay but apart in
   * the original run, and let slots schedule their next commands in another order. One at a time,
   * every resolution is alone in its activation, so the command order replays exactly.
   */
  let lane: Promise<unknown> = Promise.resolve();
  function db<K extends DbName>(name: K, options: { summary: string }, args: DbArgs<K>): Promise<DbResult<K>> {
    const step = local[name] as unknown as { executeWithOptions(o: { summary: string }, a: DbArgs<K>): Promise<DbResult<K>> };
    const run = () => step.executeWithOptions(options, args);
    const result = lane.then(run, run);
    lane = result.catch(() => undefined);
    return result;
  }
  return { db, provider: providerSteps(prefix), imaging: imagingSteps(prefix), label: labelSteps(prefix), publish: publishSteps(prefix) };
}
