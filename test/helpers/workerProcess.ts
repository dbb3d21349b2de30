/**
 * `catalog-assets worker` as a real child process, configured only through its environment, for
 * tests that kill it (SIGKILL, no shutdown hook) or read what it logs. Shared by the crash tests in
 * test/workflows and test/reliability.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestStack } from './stack';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything the process wrote (stdout and stderr; the last ~100-200 kB), for failure messages. */
  output(): string;
  /** Everything the process wrote, untrimmed (only when spawned with `keepAllOutput`). */
  fullOutput(): string;
  /** Resolves once the process logged that its workers run. */
  ready: Promise<void>;
  exited: Promise<number | null>;
}

const children = new Set<WorkerProcess>();
// Last resort if the test process itself goes away: the detached workers must not outlive it.
process.once('exit', () => {
  for (const c of children) {
    try {
      process.kill(-c.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Worker processes of this test file that are still running. */
export function liveWorkers(): WorkerProcess[] {
  return [...children];
}

export interface SpawnWorkerOptions {
  /** Extra or overriding environment variables. */
  env?: NodeJS.ProcessEnv;
  /** Keep every byte the process writes (fullOutput()), e.g. to search its logs for a secret. */
  keepAllOutput?: boolean;
}

/** The environment a worker needs to join `stack`: its Postgres, Temporal, queues, simulator and storage. */
export function workerEnv(stack: TestStack): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: stack.database.url,
    DATABASE_POOL_SIZE: '5',
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.namespace,
    TEMPORAL_TASK_QUEUE_PREFIX: stack.prefix,
    IMAROUTER_BASE_URL: stack.simulator.url,
    SIMULATOR_API_KEY: stack.simulator.apiKey,
    ASSET_DIR: stack.storageDir,
    VARIANTS: 'cheap',
    IMAGING_CONCURRENCY: '2',
    ALLOW_PRIVATE_REFERENCE_HOSTS: new URL(stack.packshotUrl('x')).host,
  };
}

export function spawnWorker(stack: TestStack, options: SpawnWorkerOptions = {}): WorkerProcess {
  const env = { ...workerEnv(stack), ...options.env };
  // Its own process group, so the kill reaches anything it may have started.
  const child = spawn(process.execPath, ['bin/catalog-assets.js', 'worker'], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const all: string[] = [];
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    if (options.keepAllOutput) all.push(text);
    output += text;
    if (output.includes('"msg":"worker running"')) markReady();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: WorkerProcess = { child, output: () => output, fullOutput: () => all.join(''), ready, exited };
  children.add(proc);
  void exited.then(() => children.delete(proc));
  return proc;
}

export async function waitReady(proc: WorkerProcess, timeoutMs = 60_000): Promise<void> {
  const early = proc.exited.then((code) => {
    throw new Error(`worker exited (code ${code}) before it was ready:\n${proc.output().slice(-4_000)}`);
  });
  const timeout = sleep(timeoutMs, undefined, { ref: false }).then(() => {
    throw new Error(`worker not ready after ${timeoutMs} ms:\n${proc.output().slice(-4_000)}`);
  });
  await Promise.race([proc.ready, early, timeout]);
}

/** SIGKILL to the whole process group: no shutdown hook, no graceful drain. */
export async function killHard(proc: WorkerProcess): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  try {
    process.kill(-proc.child.pid!, 'SIGKILL');
  } catch {
    proc.child.kill('SIGKILL');
  }
  await proc.exited;
}

/** SIGKILLs every worker process of this file that is still running. */
export async function killAllWorkers(): Promise<void> {
  await Promise.all([...children].map(killHard));
}

/** Polls `probe` until it returns a value (not undefined), or fails after timeoutMs. */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
