/**
 * The `catalog-assets` command: one program, one module pair per command.
 *
 * Adding a command (e.g. `publish`):
 *   1. `src/cli/commands/publish.ts` exports `register(program)`: the command's name, options, argument
 *      parsers and help text. It imports only commander, `../arguments`, `../errors` and types, so
 *      `--help` stays fast; its action is one line, `async (f) => (await import('./publish.run')).publish(f)`.
 *   2. `src/cli/commands/publish.run.ts` is the implementation, loaded only when the command runs:
 *      configuration (`../context`), the database (`../database`), Temporal, the runtime...
 *   3. One line in COMMANDS below, where `--help` should list it.
 * `npm run build` bundles this file with code splitting (scripts/build.mjs), so each `*.run.ts` and what
 * it imports is a chunk of its own; the build refuses a `--help` path that loads Temporal, sharp,
 * kysely, pg, fastify or zod (test/cli/help.test.ts checks the same on the running bin).
 */
import { Command, CommanderError } from 'commander';
import { CliError, printError } from './errors';

/** Exit codes that mean something to scripts. */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3, partial: 4 } as const;

interface CommandModule {
  register(program: Command): void;
}

/** Every command, in the order `--help` lists them. */
const COMMANDS: CommandModule[] = await Promise.all([
  import('./commands/worker'),
  import('./commands/migrate'),
  import('./commands/setup'),
  import('./commands/refresh'),
  import('./commands/schedule'),
  import('./commands/review'),
  import('./commands/import'),
  import('./commands/serve'),
  import('./commands/simulator'),
  import('./commands/provider'),
  import('./commands/status'),
  import('./commands/assets'),
  import('./commands/results'),
  import('./commands/ledger'),
  import('./commands/local'),
  import('./commands/webhook'),
  import('./commands/events'),
  import('./commands/publish'),
]);

export function buildProgram(): Command {
  const program = new Command()
    .name('catalog-assets')
    .description("Keeps a commerce catalog's product imagery generated, current and correct.")
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const command of COMMANDS) command.register(program);
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
