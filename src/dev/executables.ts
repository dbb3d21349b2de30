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
