/** What `catalog-assets simulator` does, loaded when it runs: the simulator until SIGINT/SIGTERM. */
import { pino } from 'pino';
import { z } from 'zod';
import { faultsSchema, startSimulator, type SimulatorOptionsInput } from '../../provider/simulator/index';
import { CliError } from '../errors';
import { DEFAULT_API_KEY, type SimulatorFlags } from './simulator';

/** A --faults (or SIMULATOR_FAULTS) value that is JSON but not fault settings is still bad usage (exit 2). */
function faults(json: unknown): SimulatorOptionsInput['faults'] {
  if (json === undefined) return undefined;
  const parsed = faultsSchema.safeParse(json);
  if (!parsed.success) throw new CliError(`option '--faults <json>' argument is invalid. ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`, 2);
  return parsed.data;
}

export async function runSimulator(flags: SimulatorFlags): Promise<void> {
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
    faults: faults(flags.faults),
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
}
