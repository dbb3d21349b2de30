/**
 * The LOCAL SIMULATOR of the ImaRouter Seedream 4.5 API (not the real service). See options.ts for
 * what it can be told, faults.ts for the failures it can inject, and contract.ts for what it speaks.
 */
import type { AddressInfo } from 'node:net';
import { SimulatorEngine } from './engine';
import type { Faults, FaultsInput } from './faults';
import type { SimulatorLedger } from './ledger';
import { simulatorOptionsSchema, type SimulatorOptions, type SimulatorOptionsInput } from './options';
import { buildServer } from './server';

export { simulatorOptionsSchema, latencySchema, silentLogger } from './options';
export type { SimulatorOptions, SimulatorOptionsInput, SimulatorLogger } from './options';
export { faultsSchema, scriptEntrySchema } from './faults';
export type { Faults, FaultsInput, ScriptEntry, ScriptEntryInput } from './faults';
export type { SimulatorLedger, LedgerEntry } from './ledger';

export interface RunningSimulator {
  /** Base URL, e.g. http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  port: number;
  apiKey: string;
  options: SimulatorOptions;
  ledger(): SimulatorLedger;
  /** Replaces every fault setting (validated; throws on bad input). Returns the settings in force. */
  setFaults(faults: FaultsInput): Faults;
  faults(): Faults;
  /** Clears jobs, output files, idempotency keys and the ledger; fault settings stay. */
  reset(): void;
  close(): Promise<void>;
}

export async function startSimulator(input: SimulatorOptionsInput = {}): Promise<RunningSimulator> {
  const options = simulatorOptionsSchema.parse(input);
  const engine = new SimulatorEngine(options);
  const app = buildServer(engine);
  await app.listen({ host: options.host, port: options.port });
  const port = (app.server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(options.host)}:${port}`,
    port,
    apiKey: options.apiKey,
    options,
    ledger: () => engine.ledger(),
    setFaults: (faults) => engine.setFaults(faults),
    faults: () => engine.currentFaults(),
    reset: () => engine.reset(),
    close: () => {
      closing ??= (async () => {
        engine.close();
        await app.close();
      })();
      return closing;
    },
  };
}

/** A wildcard bind is reached through loopback; IPv6 literals need brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
