/**
 * The Temporal dev server of the local stack (the Temporal CLI's `server start-dev`, with its UI),
 * persisting to `<dataDir>/temporal.db`, with the project's search attributes registered.
 *
 * Search attributes: passed as `--search-attribute` on every start. On an existing db file that is
 * harmless (the dev server adds what is missing and leaves what exists; checked with CLI v1.5.1), and
 * `registerSearchAttributes` runs once the frontend answers as a second, idempotent guarantee.
 *
 * Without a CLI binary and without Go to build one, the Temporal SDK's own download of the dev server is
 * used instead (machines with internet); that server is managed by the SDK.
 */
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { ALL_SEARCH_ATTRIBUTES, devServerSearchAttributeArgs } from '../shared/searchAttributes';
import { registerSearchAttributes } from '../temporal/client/setup';
import { findLeftover, logTail, spawnManaged, stopPid, type ManagedProcess } from './processes';

export interface DevServer {
  address: string;
  uiUrl: string;
  /** Undefined when the SDK-managed download runs the server. */
  pid: number | undefined;
  process: ManagedProcess | undefined;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** The Temporal CLI binary; undefined: the SDK downloads and runs its own dev server. */
  cliPath: string | undefined;
  dbFile: string;
  port: number;
  uiPort: number;
  namespace: string;
  logFile: string;
  /** The pid of the dev server of the previous run (from stack.json). */
  previousPid?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export async function startTemporalDevServer(o: DevServerOptions): Promise<DevServer> {
  const address = `127.0.0.1:${o.port}`;
  const uiUrl = `http://127.0.0.1:${o.uiPort}`;
  if (!o.cliPath) return startWithSdkDownload(o, address, uiUrl);

  const leftover = findLeftover(o.previousPid, o.dbFile);
  if (leftover !== undefined) {
    o.log?.(`stopping a Temporal dev server left running by an earlier run (pid ${leftover})`);
    await stopPid(leftover, 'SIGTERM', 15_000);
  }

  const args = [
    'server',
    'start-dev',
    '--db-filename',
    o.dbFile,
    '--ip',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--ui-port',
    String(o.uiPort),
    '--namespace',
    o.namespace,
    ...devServerSearchAttributeArgs(),
    '--log-level',
    'warn',
  ];
  const proc = spawnManaged('temporal', o.cliPath, args, { logFile: o.logFile, exitSignal: 'SIGTERM' });
  const stop = () => proc.stop({ signal: 'SIGTERM', timeoutMs: 15_000 });
  try {
    await waitForFrontend(address, o.namespace, () => {
      if (!proc.running()) throw new Error(`the Temporal dev server exited during start (port ${o.port} or ${o.uiPort} in use?):\n${logTail(o.logFile)}`);
      if (o.signal?.aborted) throw new Error('interrupted');
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl, pid: proc.pid, process: proc, stop };
}

/** Polls until the frontend answers and the namespace exists, then makes sure the search attributes do. */
async function waitForFrontend(address: string, namespace: string, check: () => void, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    check();
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.workflowService.describeNamespace({ namespace });
      await registerSearchAttributes(connection, namespace);
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    if (Date.now() > deadline) {
      throw new Error(`the Temporal dev server did not answer on ${address} within ${timeoutMs / 1000} s: ${(lastError as Error)?.message ?? lastError}`);
    }
    await sleep(250);
  }
}

async function startWithSdkDownload(o: DevServerOptions, address: string, uiUrl: string): Promise<DevServer> {
  o.log?.('No Temporal CLI binary (and no Go to build one): using the dev server the Temporal SDK downloads (needs internet).');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      dbFilename: o.dbFile,
      ip: '127.0.0.1',
      port: o.port,
      ui: true,
      uiPort: o.uiPort,
      namespace: o.namespace,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      extraArgs: ['--log-level', 'warn'],
    },
  });
  try {
    await waitForFrontend(address, o.namespace, () => undefined);
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return { address, uiUrl, pid: undefined, process: undefined, stop: () => env.teardown() };
}
