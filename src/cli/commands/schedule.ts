/** `catalog-assets schedule ...`: the nightly stale refresh of a catalog, as a Temporal Schedule. */
import { type Command, Option } from 'commander';

export function register(program: Command): void {
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
      .action(async (f) => (await import('./schedule.run')).upsert(f));
  }
  schedule
    .command('pause')
    .description('Pause the nightly refresh.')
    .addOption(catalogOption())
    .option('--note <text>', 'why (shown in Temporal UI)')
    .action(async (f) => (await import('./schedule.run')).pause(f));
  schedule
    .command('resume')
    .description('Resume the nightly refresh.')
    .addOption(catalogOption())
    .option('--note <text>', 'why (shown in Temporal UI)')
    .action(async (f) => (await import('./schedule.run')).resume(f));
  schedule
    .command('trigger')
    .description('Run the nightly refresh now (skipped if one is already running).')
    .addOption(catalogOption())
    .action(async (f) => (await import('./schedule.run')).trigger(f));
  schedule
    .command('describe')
    .description('Show the schedule: state, spec, next and recent runs.')
    .addOption(catalogOption())
    .option('--json', 'print as JSON', false)
    .action(async (f) => (await import('./schedule.run')).describe(f));
}
