/**
 * A real S3-compatible server for tests and local runs: versitygw (the Versity S3 Gateway, Apache-2.0),
 * which serves the S3 API over a plain directory (`posix` backend: a bucket is a directory, an object a
 * file, metadata in extended attributes). It is the same server docker-compose.yml runs.
 *
 * No machine here can download release binaries, so it is built from the Go module proxy, like the
 * Temporal CLI (src/dev/temporalCli.ts). Order:
 *   1. VERSITYGW_PATH, when set (it must exist);
 *   2. `.tools/versitygw` in the project;
 *   3. the per-user cache, keyed by version, so clean clones and CI reuse one build;
 *   4. a `versitygw` already on PATH;
 *   5. a build from the Go module proxy into the cache (about 1-2 minutes cold, including module
 *      downloads; `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`);
 *   6. nothing: callers skip S3 tests with the reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findTool, goToolchain, projectRoot, toolCacheDir, type ResolvedTool } from './executables';
import { setTimeout as sleep } from 'node:timers/promises';

export const VERSITYGW_VERSION = '1.8.0';
const MODULE = 'github.com/versity/versitygw/cmd/versitygw';

/** The Go toolchain that can build versitygw, if any. */
export { goToolchain };

export function s3ServerCacheDir(): string {
  return toolCacheDir(`versitygw-${VERSITYGW_VERSION}`);
}

export type ResolvedS3Server = ResolvedTool;

/** Locates versitygw without building it. */
export function findS3Server(): ResolvedS3Server | undefined {
  return findTool({ name: 'versitygw', envVar: 'VERSITYGW_PATH', cacheDir: s3ServerCacheDir() });
}

/**
 * Locates versitygw, building it with Go when it is missing. Returns undefined (with the reason) only
 * when there is no Go toolchain; a failed build throws.
 */
export function ensureS3Server(
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): ResolvedS3Server | { unavailable: string } {
  const found = findS3Server();
  if (found) return linkIntoProject(found);
  const go = goToolchain();
  if (!go) {
    return {
      unavailable: `versitygw not found (VERSITYGW_PATH, .tools/versitygw, ${s3ServerCacheDir()}, PATH) and Go is not installed to build it`,
    };
  }
  const gobin = s3ServerCacheDir();
  fs.mkdirSync(gobin, { recursive: true });
  log(`Building versitygw v${VERSITYGW_VERSION} (S3-compatible test server) with Go into ${gobin} (1-2 minutes the first time; cached afterwards)...`);
  const started = Date.now();
  const result = spawnSync(go, ['install', '-trimpath', `-ldflags=-s -w -X=main.Version=v${VERSITYGW_VERSION}`, `${MODULE}@v${VERSITYGW_VERSION}`], {
    env: { ...process.env, GOBIN: gobin, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod', CGO_ENABLED: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) {
    throw new Error(`building versitygw failed (go install exited ${result.status ?? result.signal}); set VERSITYGW_PATH to an existing binary`);
  }
  log(`versitygw built in ${Math.round((Date.now() - started) / 1000)} s.`);
  return linkIntoProject({ path: path.join(gobin, 'versitygw'), source: 'built' });
}

/** Links the binary into `.tools/` so scripts and people find it at one path. */
function linkIntoProject(server: ResolvedS3Server): ResolvedS3Server {
  if (server.source === 'project' || server.source === 'env' || server.source === 'path') return server;
  const local = path.join(projectRoot(), '.tools', 'versitygw');
  try {
    fs.mkdirSync(path.dirname(local), { recursive: true });
    fs.rmSync(local, { force: true });
    fs.symlinkSync(server.path, local);
  } catch {
    return server;
  }
  return { path: local, source: server.source };
}

export interface RunningS3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface StartS3ServerOptions {
  binary: string;
  /** The directory the gateway serves: each bucket is a subdirectory. Must support extended attributes. */
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  /** Omitted: a free loopback port. */
  port?: number;
  readyTimeoutMs?: number;
}

/** Starts versitygw on loopback over dataDir and waits until it answers S3 requests. */
export async function startS3Server(o: StartS3ServerOptions): Promise<RunningS3Server> {
  const region = o.region ?? 'us-east-1';
  fs.mkdirSync(o.dataDir, { recursive: true });
  // A free port can be taken between probing and binding; try a few before giving up.
  for (let attempt = 1; ; attempt++) {
    const port = o.port ?? (await freePort());
    const endpoint = `http://127.0.0.1:${port}`;
    // A clean environment: only the credentials and what the binary needs, never the caller's VGW_* or AWS_*.
    const child = spawn(o.binary, ['--port', `127.0.0.1:${port}`, '--quiet', 'posix', o.dataDir], {
      env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ROOT_ACCESS_KEY_ID: o.accessKeyId, ROOT_SECRET_ACCESS_KEY: o.secretAccessKey, VGW_REGION: region },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    try {
      await waitReady(child, endpoint, o.readyTimeoutMs ?? 20_000, () => output);
    } catch (err) {
      process.removeListener('exit', killOnExit);
      await stopChild(child);
      if (o.port === undefined && attempt < 3 && /address already in use/i.test(output)) continue;
      throw err;
    }
    return {
      endpoint,
      region,
      accessKeyId: o.accessKeyId,
      secretAccessKey: o.secretAccessKey,
      dataDir: o.dataDir,
      async stop() {
        process.removeListener('exit', killOnExit);
        await stopChild(child);
      },
    };
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(child: ChildProcess, endpoint: string, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`versitygw exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    }
    try {
      // Any HTTP answer (an unsigned request gets 403) means the S3 API is up.
      await fetch(endpoint, { signal: AbortSignal.timeout(1_000) });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`versitygw did not answer on ${endpoint} within ${timeoutMs} ms:\n${output()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
