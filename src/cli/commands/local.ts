/**
 * `catalog-assets local` (what `npm start` runs): the whole product on this machine, nothing to install
 * or configure. Starts the local stack (src/local/stack.ts), imports the bundled sample catalog, runs a
 * `changed` refresh with a live progress bar, prints where to look (Temporal UI, results page), and
 * keeps everything running until Ctrl-C, which stops it all in order. A second run reuses the data
 * folder and regenerates nothing that is unchanged.
 */
import { type Command, Option } from 'commander';
import { latencyRange, positiveAtMost } from '../arguments';

export type { LocalRunReport } from './local.run';

export interface LocalFlags {
  dataDir: string;
  refresh: boolean;
  keepRunning: boolean;
  exitAfterRefresh: boolean;
  freePorts: boolean;
  http: boolean;
  json: boolean;
  simulatorOutputScale?: number;
  simulatorLatencyMs?: { min: number; max: number };
}

export function register(program: Command): void {
  program
    .command('local')
    .description(
      'Run the whole product locally (what `npm start` runs): Temporal dev server and UI, Postgres, the image provider (the local simulator unless IMAROUTER_API_KEY is set), the workers and the HTTP service; import the sample catalog and refresh it.',
    )
    .addOption(new Option('--data-dir <dir>', 'where everything is kept (Temporal state, Postgres, assets, logs)').env('DATA_DIR').default('.data'))
    .option('--no-refresh', 'start the stack and import the sample catalog, but do not refresh it')
    .option('--no-keep-running', 'same as --exit-after-refresh')
    .option('--exit-after-refresh', 'stop everything once the refresh is done (scripts, tests); default: keep running until Ctrl-C', false)
    .option('--free-ports', 'pick free ports instead of the defaults (a second stack beside a running one; tests)', false)
    .option('--no-http', 'do not start the HTTP service')
    .option('--json', 'print one JSON object (links, refresh summary, timings) on stdout; progress goes to stderr', false)
    .addOption(
      new Option('--simulator-output-scale <x>', 'local simulator only: render outputs at x times the requested size, 0 < x <= 1 (default 1: full 2K outputs)')
        .env('SIMULATOR_OUTPUT_SCALE')
        .argParser(positiveAtMost(1)),
    )
    .addOption(new Option('--simulator-latency-ms <min-max>', 'local simulator only: job running time (default 300-900)').env('SIMULATOR_LATENCY_MS').argParser(latencyRange))
    .addHelpText(
      'after',
      `
Ports (kept in <data-dir>/stack.json from run to run; a taken one moves to a free one):
  Temporal 7233, Temporal UI 8233, HTTP service 8080, simulator 8790, packshots 8791, embedded Postgres 5433.
Faster, smaller images (e.g. on a laptop or in CI):
  $ VARIANTS=cheap SIMULATOR_OUTPUT_SCALE=0.25 npm start
Use your own Postgres instead of the embedded one:
  $ DATABASE_URL=postgres://postgres@127.0.0.1:5432/catalog_assets npm start
Use the real API (billed, $0.04 per image):
  $ IMAROUTER_API_KEY=... IMAROUTER_BASE_URL=https://... npm start`,
    )
    .action(async (flags) => (await import('./local.run')).local(flags));
}
