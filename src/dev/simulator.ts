/**
 * The local simulator of the ImaRouter API, run by the local stack as a child process
 * (`catalog-assets simulator`), like the remote service it stands in for.
 *
 * Why not in process: rendering full-size (2K) outputs is heavy sharp work on the libuv thread pool,
 * which a process shares between all its parts. In the same process as the workers, the simulator's
 * renders queue ahead of the workers' file and storage operations and the file server's reads; on a
 * busy 2-core machine that starved activities into timeouts. Its own process has its own event loop
 * and thread pool, as the real API would.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ledgerSchema, simulatorPaths } from '../provider/contract';
import { projectRoot } from './executables';
import { logTail, spawnManaged, type ManagedProcess } from '../local/processes';

export interface SimulatorProcess {
  url: string;
  process: ManagedProcess;
  /** Submissions and billed images so far (the simulator's ledger). */
  ledger(): Promise<{ submissions: number; imagesBilled: number }>;
  stop(): Promise<void>;
}

export async function startSimulatorProcess(o: {
  port: number;
  apiKey: string;
  model: string;
  outputScale: number;
  latencyMs: { min: number; max: number };
  logFile: string;
  logLevel: string;
  signal?: AbortSignal;
}): Promise<SimulatorProcess> {
  const bin = path.join(projectRoot(), 'bin', 'catalog-assets.js');
  const args = [
    bin,
    'simulator',
    '--host',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--output-scale',
    String(o.outputScale),
    '--latency-ms',
    `${o.latencyMs.min}-${o.latencyMs.max}`,
  ];
  // The key goes through the environment, never the command line (visible to every user in `ps`).
  const env: NodeJS.ProcessEnv = { ...process.env, SIMULATOR_API_KEY: o.apiKey, LOG_LEVEL: o.logLevel === 'info' ? 'warn' : o.logLevel };
  delete env.SIMULATOR_PORT;
  delete env.SIMULATOR_HOST;
  const proc = spawnManaged('simulator', process.execPath, args, { logFile: o.logFile, env, exitSignal: 'SIGTERM' });
  const stop = () => proc.stop({ signal: 'SIGTERM', timeoutMs: 10_000 });
  const url = `http://127.0.0.1:${o.port}`;

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!proc.running()) throw new Error(`the local simulator exited during start (port ${o.port} in use?):\n${logTail(o.logFile)}`);
    if (o.signal?.aborted) {
      await stop();
      throw new Error('interrupted');
    }
    try {
      const res = await fetch(`${url}${simulatorPaths.health}`, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the local simulator did not answer on ${url} within 60 s; see ${o.logFile}`);
    }
    await sleep(200);
  }

  return {
    url,
    process: proc,
    stop,
    async ledger() {
      const res = await fetch(`${url}${simulatorPaths.ledger}`, { signal: AbortSignal.timeout(5_000) });
      const ledger = ledgerSchema.parse(await res.json());
      return { submissions: ledger.submissions, imagesBilled: ledger.billedImages };
    },
  };
}
