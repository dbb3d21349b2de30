/**
 * Child processes of the local stack (the Temporal dev server, the embedded Postgres server).
 *
 * Each child runs in a process group of its own (`detached: true`), so a Ctrl-C in the terminal
 * reaches only the parent, which then stops everything in order (workers first, Postgres last)
 * instead of every process dying at once. Because a detached child would otherwise outlive a parent
 * that dies, the parent also signals every child still running when it exits for any reason
 * (`process.on('exit')`), and the stack kills leftovers of a hard-killed run (SIGKILL, power loss)
 * the next time it starts (see findLeftover).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidAlive } from '../support/processes';

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** Sends `signal`, waits up to `timeoutMs`, then SIGKILL. Idempotent. */
  stop(o?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<void>;
}

interface Spawned {
  proc: ManagedProcess;
  child: ChildProcess;
  /** Signal sent when the parent exits with the child still running. */
  exitSignal: NodeJS.Signals;
}

const live = new Set<Spawned>();

function killLeftChildren(): void {
  for (const s of live) {
    try {
      s.child.kill(s.exitSignal);
    } catch {
      // Already gone.
    }
  }
}

let exitHookInstalled = false;
function trackExit(s: Spawned): void {
  live.add(s);
  if (!exitHookInstalled) {
    process.on('exit', killLeftChildren);
    exitHookInstalled = true;
  }
}
function untrack(s: Spawned): void {
  live.delete(s);
  if (live.size === 0 && exitHookInstalled) {
    process.removeListener('exit', killLeftChildren);
    exitHookInstalled = false;
  }
}

export function spawnManaged(
  name: string,
  command: string,
  args: string[],
  o: { logFile: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number; cwd?: string; exitSignal?: NodeJS.Signals },
): ManagedProcess {
  const fd = fs.openSync(o.logFile, 'a');
  let child: ChildProcess;
  try {
    fs.writeSync(fd, `\n--- ${new Date().toISOString()} starting ${name}: ${command} ${args.join(' ')}\n`);
    child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: o.env ?? process.env,
      uid: o.uid,
      gid: o.gid,
      cwd: o.cwd,
    });
  } finally {
    fs.closeSync(fd);
  }
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      resolve({ code, signal });
    });
    child.once('error', () => {
      exitedFlag = true;
      resolve({ code: null, signal: null });
    });
  });
  let stopping: Promise<void> | undefined;
  const proc: ManagedProcess = {
    name,
    pid: child.pid ?? -1,
    logFile: o.logFile,
    exited,
    running: () => !exitedFlag,
    stop({ signal = 'SIGTERM', timeoutMs = 15_000 } = {}) {
      stopping ??= (async () => {
        if (!exitedFlag) {
          child.kill(signal);
          // The timer is cancelled once the child exits, so it never holds the event loop open.
          const timer = new AbortController();
          const done = await Promise.race([
            exited.then(() => true),
            sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false),
          ]);
          timer.abort();
          if (!done) {
            child.kill('SIGKILL');
            await exited;
          }
        }
        untrack(spawned);
      })();
      return stopping;
    },
  };
  const spawned: Spawned = { proc, child, exitSignal: o.exitSignal ?? 'SIGTERM' };
  trackExit(spawned);
  void exited.then(() => untrack(spawned));
  return proc;
}

/** The last lines of a log file, for error messages. */
export function logTail(file: string, lines = 15): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The command line of a running process (Linux /proc; undefined elsewhere or when gone). */
export function processCommandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/**
 * A process left running by an earlier run that was killed hard: alive, and its command line names
 * `marker` (its data file or folder), so it is certainly ours and not some unrelated process that
 * reused the pid.
 */
export function findLeftover(pid: number | undefined, marker: string): number | undefined {
  if (pid === undefined || !pidAlive(pid)) return undefined;
  const cmd = processCommandLine(pid);
  return cmd !== undefined && cmd.includes(marker) ? pid : undefined;
}

/** Signals a process and waits for it to go away (SIGKILL after the timeout). */
export async function stopPid(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(100);
  if (pidAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    const killDeadline = Date.now() + 5_000;
    while (pidAlive(pid) && Date.now() < killDeadline) await sleep(100);
  }
}
