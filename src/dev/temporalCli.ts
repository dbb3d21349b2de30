/**
 * Finds or builds the Temporal CLI (the dev server with its UI). Order:
 *   1. TEMPORAL_CLI_PATH, when set (it must exist);
 *   2. `.tools/temporal` in the project;
 *   3. the per-user cache, keyed by version, so clean clones and CI reuse one build;
 *   4. a `temporal` already on PATH;
 *   5. a build from the Go module proxy into the cache (`go install ...@v1.5.1`: about 3 minutes cold);
 *   6. nothing: the caller falls back to the SDK's own download of the dev server.
 * v1.5.1 is pinned: later CLI versions carry a `replace` directive and cannot be `go install`ed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findTool, goToolchain, projectRoot, toolCacheDir, type ResolvedTool } from './executables';

export const TEMPORAL_CLI_VERSION = '1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';


export function cacheDir(): string {
  return toolCacheDir(`temporal-cli-${TEMPORAL_CLI_VERSION}`);
}

const findGo = goToolchain;

export type ResolvedCli = ResolvedTool;

/** Locates the CLI without building it. */
export function findTemporalCli(): ResolvedCli | undefined {
  return findTool({ name: 'temporal', envVar: 'TEMPORAL_CLI_PATH', cacheDir: cacheDir() });
}

/** Locates the CLI, building it with Go when it is missing. Returns undefined only without Go. */
export function ensureTemporalCli(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): ResolvedCli | undefined {
  const found = findTemporalCli();
  if (found) return linkIntoProject(found);
  const go = findGo();
  if (!go) {
    log('Temporal CLI not found and Go is not installed: the Temporal SDK will download its dev server instead.');
    return undefined;
  }
  const gobin = cacheDir();
  fs.mkdirSync(gobin, { recursive: true });
  log(`Building the Temporal CLI v${TEMPORAL_CLI_VERSION} with Go into ${gobin} (about 3 minutes the first time; cached afterwards)...`);
  const started = Date.now();
  const result = spawnSync(go, ['install', `${MODULE}@v${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: gobin, GOFLAGS: process.env.GOFLAGS ?? '-mod=mod' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) {
    throw new Error(`building the Temporal CLI failed (go install exited ${result.status ?? result.signal}); set TEMPORAL_CLI_PATH to an existing binary`);
  }
  log(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)} s.`);
  return linkIntoProject({ path: path.join(gobin, 'temporal'), source: 'built' });
}

/** Links the binary into `.tools/` so scripts and people find it at one path. */
function linkIntoProject(cli: ResolvedCli): ResolvedCli {
  const local = path.join(projectRoot(), '.tools', 'temporal');
  if (cli.source === 'project' || cli.source === 'env' || cli.source === 'path') return cli;
  fs.mkdirSync(path.dirname(local), { recursive: true });
  try {
    fs.rmSync(local, { force: true });
    fs.symlinkSync(cli.path, local);
  } catch {
    return cli;
  }
  return { path: local, source: cli.source };
}
