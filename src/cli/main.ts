import { Command, CommanderError } from 'commander';
import { registerAssetsCommand } from './commands/assets';
import { registerEventsCommand } from './commands/events';
import { registerImportCommand } from './commands/import';
import { registerLedgerCommands } from './commands/ledger';
import { registerLocalCommand } from './commands/local';
import { registerMigrateCommand } from './commands/migrate';
import { registerProviderCommand } from './commands/provider';
import { registerPublishCommands } from './commands/publish';
import { registerRefreshCommand } from './commands/refresh';
import { registerResultsCommand } from './commands/results';
import { registerReviewCommand } from './commands/review';
import { registerScheduleCommand } from './commands/schedule';
import { registerServeCommand } from './commands/serve';
import { registerSetupCommand } from './commands/setup';
import { registerSimulatorCommand } from './commands/simulator';
import { registerStatusCommand } from './commands/status';
import { registerWebhookCommand } from './commands/webhook';
import { registerWorkerCommand } from './commands/worker';
import { CliError, printError } from './context';

/** Exit codes that mean something to scripts. */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3, partial: 4 } as const;

export function buildProgram(): Command {
  const program = new Command()
    .name('catalog-assets')
    .description("Keeps a commerce catalog's product imagery generated, current and correct.")
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerWorkerCommand(program);
  registerMigrateCommand(program);
  registerSetupCommand(program);
  registerRefreshCommand(program);
  registerScheduleCommand(program);
  registerReviewCommand(program);
  registerImportCommand(program);
  registerServeCommand(program);
  registerSimulatorCommand(program);
  registerProviderCommand(program);
  registerStatusCommand(program);
  registerAssetsCommand(program);
  registerResultsCommand(program);
  registerLedgerCommands(program);
  registerLocalCommand(program);
  registerWebhookCommand(program);
  registerPublishCommands(program);
  registerEventsCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    printError(err);
    return err instanceof CliError ? err.exitCode : EXIT.failure;
  }
}
