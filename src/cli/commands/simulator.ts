/**
 * `catalog-assets simulator`: runs the LOCAL SIMULATOR of the ImaRouter Seedream 4.5 API until
 * SIGINT/SIGTERM. Every flag can also come from its SIMULATOR_* environment variable.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { z } from 'zod';
import { faultsSchema, startSimulator, type SimulatorOptionsInput } from '../../provider/simulator/index';
import { DIALECTS, LATENCY_PROFILES, type Dialect, type LatencyProfile } from '../../provider/simulator/options';
import { integer, latencyRange, positiveAtMost } from '../arguments';

const DEFAULT_PORT = 8790;
const DEFAULT_API_KEY = 'sim-local-key';

interface Flags {
  port: number;
  host: string;
  apiKey: string;
  latencyMs?: { min: number; max: number };
  maxRunning?: number;
  outputScale?: number;
  urlTtlMs?: number;
  seed?: number;
  faults?: SimulatorOptionsInput['faults'];
  dialect?: Dialect;
  ignoreIdempotency?: boolean;
  latencyProfile?: LatencyProfile;
  timeScale?: number;
}

export function registerSimulatorCommand(program: Command): void {
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
    .action(async (flags: Flags) => {
      const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { component: 'simulator' } }, pino.destination(2));
      const sim = await startSimulator({
        host: flags.host,
        port: flags.port,
        apiKey: flags.apiKey,
        latencyMs: flags.latencyMs,
        maxRunning: flags.maxRunning,
        outputScale: flags.outputScale,
        outputUrlTtlMs: flags.urlTtlMs,
        seed: flags.seed,
        faults: flags.faults,
        dialect: flags.dialect,
        ignoreIdempotency: flags.ignoreIdempotency,
        latencyProfile: flags.latencyProfile,
        timeScale: flags.timeScale,
        logger,
      });
      // A custom key is the operator's to know; only the well-known default is printed.
      const key = flags.apiKey === DEFAULT_API_KEY ? `bearer key '${DEFAULT_API_KEY}'` : 'bearer key as configured';
      process.stdout.write(
        `LOCAL SIMULATOR of the ImaRouter Seedream 4.5 API (not the real API) listening on ${sim.url} (model ${sim.options.model}, ${key})\n`,
      );
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await sim.close();
      process.stderr.write(`simulator stopped (${signal})\n`);
    });
}

function faults(value: string): SimulatorOptionsInput['faults'] {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected JSON');
  }
  const parsed = faultsSchema.safeParse(json);
  if (!parsed.success) throw new InvalidArgumentError(z.prettifyError(parsed.error).replace(/\n/g, '; '));
  return parsed.data;
}
