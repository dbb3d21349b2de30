/** What `catalog-assets schedule ...` does, loaded when it runs. */
import { connectClient } from '../../temporal/client/connection';
import { describeNightly, pauseNightly, resumeNightly, triggerNightly, upsertNightlySchedule } from '../../temporal/client/schedules';
import { configOrExit } from '../context';

async function withClient<T>(fn: (client: Awaited<ReturnType<typeof connectClient>>['client'], prefix: string) => Promise<T>): Promise<T> {
  const config = configOrExit();
  const { client, connection } = await connectClient(config);
  try {
    return await fn(client, config.temporal.taskQueuePrefix);
  } finally {
    await connection.close();
  }
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

export async function upsert(f: { catalog: string; cron: string; timezone: string; catchupWindow: string; budgetUsd?: number; window?: number; paused: boolean; json: boolean }): Promise<void> {
  const r = await withClient((client, prefix) =>
    upsertNightlySchedule(client, {
      catalogId: f.catalog,
      taskQueuePrefix: prefix,
      cron: f.cron,
      timezone: f.timezone,
      catchupWindow: f.catchupWindow,
      budget: f.budgetUsd !== undefined ? { usd: f.budgetUsd } : undefined,
      window: f.window,
      paused: f.paused,
    }),
  );
  print(f.json, r, `${r.created ? 'created' : 'updated'} schedule ${r.scheduleId}: "${f.cron}" ${f.timezone}`);
}


export async function pause(f: { catalog: string; note?: string }): Promise<void> {
  await withClient((client) => pauseNightly(client, f.catalog, f.note));
  process.stdout.write(`paused nightly refresh of ${f.catalog}\n`);
}


export async function resume(f: { catalog: string; note?: string }): Promise<void> {
  await withClient((client) => resumeNightly(client, f.catalog, f.note));
  process.stdout.write(`resumed nightly refresh of ${f.catalog}\n`);
}


export async function trigger(f: { catalog: string }): Promise<void> {
  await withClient((client) => triggerNightly(client, f.catalog));
  process.stdout.write(`triggered nightly refresh of ${f.catalog}\n`);
}


export async function describe(f: { catalog: string; json: boolean }): Promise<void> {
  const d = await withClient((client) => describeNightly(client, f.catalog));
  print(
    f.json,
    d,
    [
      `schedule ${d.scheduleId}: ${d.paused ? 'PAUSED' : 'active'}${d.note ? ` (${d.note})` : ''}`,
      `  cron: ${d.cron.join(', ')} ${d.timezone ?? 'UTC'}`,
      `  next: ${d.nextRuns.join(', ') || '-'}`,
      `  recent: ${d.recentRuns.map((r) => `${r.workflowId} at ${r.scheduledAt}`).join(', ') || '-'}`,
    ].join('\n'),
  );
}
