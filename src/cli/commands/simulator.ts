/**
 * `catalog-assets simulator`: runs the LOCAL SIMULATOR of the ImaRouter Seedream 4.5 API until
 * SIGINT/SIGTERM. Every flag can also come from its SIMULATOR_* environment variable.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DIALECTS, LATENCY_PROFILES, type Dialect, type LatencyProfile } from '../../provider/simulator/names';
import { integer, latencyRange, positiveAtMost } from '../arguments';

const DEFAULT_PORT = 8790;
export const DEFAULT_API_KEY = 'sim-local-key';

export interface SimulatorFlags {
  port: number;
  host: string;
  apiKey: string;
  latencyMs?: { min: number; max: number };
  maxRunning?: number;
  outputScale?: number;
  urlTtlMs?: number;
  seed?: number;
  /** Parsed JSON, checked against the fault schema when the simulator starts. */
  faults?: unknown;
  dialect?: Dialect;
  ignoreIdempotency?: boolean;
  latencyProfile?: LatencyProfile;
  timeScale?: number;
}

export function register(program: Command): void {
  program
    .command('simulator')
    .description('Run the LOCAL SIMULATOR of the ImaRouter Seedream 4.5 API (not the real API): real images, async jobs, fault injection, a billing ledger.')
    .addOption(new Option('--port <port>', 'port to listen on (0 picks a free one)').env('SIMULATOR_PORT').argParser(integer(0, 65_535)).default(DEFAULT_PORT))
    .addOption(new Option('--host <host>', 'interface to bind').env('SIMULATOR_HOST').default('127.0.0.1'))
    .addOption(new Option('--api-key <key>', 'bearer key the simulator accepts').env('SIMULATOR_API_KEY').default(DEFAULT_API_KEY))
    .addOption(new Option('--latency-ms <min-max>', 'job running time range, e.g. 300-900 (default 300-900)').env('SIMULATOR_LATENCY_MS').argParser(latencyRange))
    .addOption(new Option('--max-running <n>', 'jobs running at once; the rest wait queued (default 8)').env('SIMULATOR_MAX_RUNNING').argParser(integer(1, 10_000)))
    .addOption(
      new Option('--output-scale <x>', 'TEST/BENCH ONLY: render outputs at x times the requested size, 0 < x <= 1 (default 1)')
        .env('SIMULATOR_OUTPUT_SCALE')
        .argParser(positiveAtMost(1)),
    )
    .addOption(new Option('--url-ttl-ms <ms>', 'lifetime of output URLs (default 3600000)').env('SIMULATOR_URL_TTL_MS').argParser(integer(1, 2 ** 31)))
    .addOption(new Option('--seed <n>', 'PRNG seed for latencies and faults (default 1)').env('SIMULATOR_SEED').argParser(integer(-(2 ** 31), 2 ** 31)))
    .addOption(
      new Option('--dialect <name>', 'answer in one documented shape on every route (default: the vendor page shape on seed routes, the flat task shape on task routes)')
        .env('SIMULATOR_DIALECT')
        .choices(DIALECTS),
    )
    .addOption(
      new Option('--ignore-idempotency', 'ignore Idempotency-Key: a repeated submit creates and bills a new job (to test IMAROUTER_IDEMPOTENCY=unknown)')
        .env('SIMULATOR_IGNORE_IDEMPOTENCY'),
    )
    .addOption(
      new Option('--latency-profile <profile>', 'uniform (from --latency-ms) or realistic (median 22 s, p95 ~45 s, slow outliers) (default uniform)')
        .env('SIMULATOR_LATENCY_PROFILE')
        .choices(LATENCY_PROFILES),
    )
    .addOption(new Option('--time-scale <x>', 'multiplies every job latency, e.g. 0.01 runs the realistic profile 100x faster (default 1)').env('SIMULATOR_TIME_SCALE').argParser(positiveAtMost(100)))
    .addOption(new Option('--faults <json>', 'fault settings as JSON (see src/provider/simulator/faults.ts)').env('SIMULATOR_FAULTS').argParser(faults))
    .addHelpText(
      'after',
      `
Example:
  $ catalog-assets simulator --port 8790 --latency-ms 200-600 --faults '{"rateLimit":{"probability":0.1,"retryAfterSeconds":2}}'
  $ catalog-assets simulator --dialect mixed --ignore-idempotency --latency-profile realistic --time-scale 0.05
  Then point the worker at it: IMAROUTER_BASE_URL=http://127.0.0.1:8790 (key: ${DEFAULT_API_KEY}).
  Simulator-only endpoints: GET /__simulator/ledger, GET|POST /__simulator/faults, POST /__simulator/reset, GET /__simulator/health.`,
    )
    .action(async (flags) => (await import('./simulator.run')).runSimulator(flags));
}

/** JSON here; what the JSON must say is checked (with zod) when the simulator starts, still a usage error. */
function faults(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected JSON');
  }
}
