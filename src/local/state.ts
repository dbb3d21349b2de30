/**
 * What the local stack remembers between runs, in `<dataDir>/stack.json`: the ports it chose (so
 * URLs stay the same from one `npm start` to the next, and the sample catalog's packshot URLs with
 * them) and the pid of the Temporal dev server (to stop a leftover of a hard-killed run).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface LocalPorts {
  /** Temporal frontend (gRPC). */
  temporal: number;
  /** Temporal UI. */
  temporalUi: number;
  /** Embedded Postgres (unused with DATABASE_URL). */
  postgres: number;
  /** The local simulator of the ImaRouter API (unused with IMAROUTER_API_KEY). */
  simulator: number;
  /** The HTTP service (webhooks, status, results page). */
  http: number;
  /** The sample catalog's packshots and scene references. */
  files: number;
}

/**
 * Defaults: Temporal's own (7233, UI 8233) and the project's (HTTP_PORT 8080, simulator 8790), so the
 * other CLI commands reach the local stack with no configuration; Postgres on 5433 so it never fights
 * a system Postgres on 5432.
 */
export const DEFAULT_PORTS: LocalPorts = { temporal: 7233, temporalUi: 8233, postgres: 5433, simulator: 8790, http: 8080, files: 8791 };

export interface StackState {
  version: 1;
  ports?: Partial<LocalPorts>;
  /** The process running the stack (the `catalog-assets local` process). */
  ownerPid?: number;
  temporalPid?: number;
  simulatorPid?: number;
}

export function stateFile(dataDir: string): string {
  return path.join(dataDir, 'stack.json');
}

export function readState(dataDir: string): StackState {
  try {
    const parsed = JSON.parse(fs.readFileSync(stateFile(dataDir), 'utf8')) as StackState;
    return parsed && typeof parsed === 'object' ? { ...parsed, version: 1 } : { version: 1 };
  } catch {
    return { version: 1 };
  }
}

export function writeState(dataDir: string, state: StackState): void {
  const file = stateFile(dataDir);
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Ports for this run. Each is, in order: the one asked for explicitly (which must be free), the one
 * remembered from the last run, the default; when that one is taken, a free one (and `moved` says so).
 * `mode: 'free'` skips the defaults (tests, a second stack beside a running one).
 */
export async function choosePorts(
  o: { explicit?: Partial<LocalPorts>; remembered?: Partial<LocalPorts>; mode?: 'default' | 'free'; needed: Array<keyof LocalPorts> },
): Promise<{ ports: LocalPorts; moved: Array<{ name: keyof LocalPorts; from: number; to: number }> }> {
  const ports = { ...DEFAULT_PORTS };
  const moved: Array<{ name: keyof LocalPorts; from: number; to: number }> = [];
  const taken = new Set<number>();
  const names = Object.keys(DEFAULT_PORTS) as Array<keyof LocalPorts>;
  for (const name of names) {
    const explicit = o.explicit?.[name];
    const remembered = o.remembered?.[name];
    if (!o.needed.includes(name)) {
      ports[name] = explicit ?? remembered ?? DEFAULT_PORTS[name];
      continue;
    }
    if (explicit !== undefined) {
      if (taken.has(explicit) || !(await portFree(explicit))) throw new Error(`port ${explicit} (${name}) is in use`);
      ports[name] = explicit;
    } else {
      // The UI follows its frontend (+1000, as the Temporal CLI does) unless remembered otherwise.
      const preferred =
        remembered ?? (o.mode === 'free' ? undefined : name === 'temporalUi' && ports.temporal + 1000 <= 65_535 ? ports.temporal + 1000 : DEFAULT_PORTS[name]);
      if (preferred !== undefined && !taken.has(preferred) && (await portFree(preferred))) {
        ports[name] = preferred;
      } else {
        let port = await freePort();
        while (taken.has(port)) port = await freePort();
        if (preferred !== undefined) moved.push({ name, from: preferred, to: port });
        ports[name] = port;
      }
    }
    taken.add(ports[name]);
  }
  return { ports, moved };
}
