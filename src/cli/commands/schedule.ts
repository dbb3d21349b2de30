/** `catalog-assets schedule ...`: the nightly stale refresh of a catalog, as a Temporal Schedule. */
import { type Command, Option } from 'commander';
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

export function registerScheduleCommand(program: Command): void {
  const schedule = program.command('schedule').description('Manage the nightly regeneration schedule of a catalog (a Temporal Schedule).');
  const catalogOption = () => new Option('--catalog <id>', 'catalog id').makeOptionMandatory();

  for (const verb of ['create', 'update'] as const) {
    schedule
      .command(verb)
      .description(`${verb === 'create' ? 'Create' : 'Update'} the catalog's nightly stale refresh (create and update are the same idempotent operation).`)
      .addOption(catalogOption())
      .option('--cron <expr>', 'when to run, as a cron expression', '0 2 * * *')
      .option('--timezone <tz>', 'IANA time zone of the cron expression', 'UTC')
      .option('--catchup-window <duration>', 'how late a missed run may still start', '6 hours')
      .option('--budget-usd <usd>', 'stop starting products past this spend per night', parseFloat)
      .option('--window <n>', 'product workflows in flight at once', (v) => parseInt(v, 10))
      .option('--paused', 'create it paused', false)
      .option('--json', 'print the result as JSON', false)
      .addHelpText('after', '\nExample:\n  $ catalog-assets schedule create --catalog acme --cron "30 1 * * *" --timezone Europe/Berlin --budget-usd 50')
      .action(async (f: { catalog: string; cron: string; timezone: string; catchupWindow: string; budgetUsd?: number; window?: number; paused: boolean; json: boolean }) => {
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
      });
  }
  schedule
    .command('pause')
    .description('Pause the nightly refresh.')
    .addOption(catalogOption())
    .option('--note <text>', 'why (shown in Temporal UI)')
    .action(async (f: { catalog: string; note?: string }) => {
      await withClient((client) => pauseNightly(client, f.catalog, f.note));
      process.stdout.write(`paused nightly refresh of ${f.catalog}\n`);
    });
  schedule
    .command('resume')
    .description('Resume the nightly refresh.')
    .addOption(catalogOption())
    .option('--note <text>', 'why (shown in Temporal UI)')
    .action(async (f: { catalog: string; note?: string }) => {
      await withClient((client) => resumeNightly(client, f.catalog, f.note));
      process.stdout.write(`resumed nightly refresh of ${f.catalog}\n`);
    });
  schedule
    .command('trigger')
    .description('Run the nightly refresh now (skipped if one is already running).')
    .addOption(catalogOption())
    .action(async (f: { catalog: string }) => {
      await withClient((client) => triggerNightly(client, f.catalog));
      process.stdout.write(`triggered nightly refresh of ${f.catalog}\n`);
    });
  schedule
    .command('describe')
    .description('Show the schedule: state, spec, next and recent runs.')
    .addOption(catalogOption())
    .option('--json', 'print as JSON', false)
    .action(async (f: { catalog: string; json: boolean }) => {
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
    });
}
