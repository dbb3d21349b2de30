/**
 * Finding the executables the project provisions for itself (the Temporal CLI, the S3 test server)
 * and the Go toolchain that builds them into the per-user cache.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function projectRoot(): string {
  return path.resolve(import.meta.dirname, '..', '..');
}

export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** The Go toolchain, on PATH or where the official tarball installs it. */
export function goToolchain(): string | undefined {
  return onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/** A per-user cache folder for a tool at one version, shared by clean clones and CI. */
export function toolCacheDir(tool: string): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'catalog-assets', tool);
}

export interface ResolvedTool {
  path: string;
  source: 'env' | 'project' | 'cache' | 'path' | 'built';
}

/**
 * Where a provisioned tool is, without building it: the variable's path (which must be executable),
 * then .tools/<name> in the project, the per-user cache, and PATH.
 */
export function findTool(o: { name: string; envVar: string; cacheDir: string }): ResolvedTool | undefined {
  const fromEnv = process.env[o.envVar];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`${o.envVar}=${fromEnv}: not an executable file`);
    return { path: fromEnv, source: 'env' };
  }
  const local = path.join(projectRoot(), '.tools', o.name);
  if (isExecutable(local)) return { path: local, source: 'project' };
  const cached = path.join(o.cacheDir, o.name);
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  const fromPath = onPath(o.name);
  if (fromPath) return { path: fromPath, source: 'path' };
  return undefined;
}
