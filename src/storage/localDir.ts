import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseContentKey } from './keys';
import { type AssetStorage, StorageError } from './types';
import { pidAlive } from '../support/processes';

export interface LocalDirStorageOptions {
  /** Where the HTTP service serves rootDir from, for urlFor(); omitted means no URL. */
  publicBaseUrl?: string;
}

/** Where writes are staged: one folder under the root (same filesystem, so the final rename is atomic). */
export const TEMP_DIR = '.tmp';
/** Staged files older than this are removed whoever wrote them (a process on another host that died). */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

/**
 * Assets as files under rootDir, one file per key. Writes are atomic: the bytes go to a temp file in
 * `<root>/.tmp/` (same filesystem, so rename is atomic), are fsynced, then renamed over the key. A
 * reader therefore sees either no file or the whole file, never a partial one.
 *
 * A process killed mid-write (SIGKILL, power loss) leaves its temp file behind; it is never under a
 * key's path, and the next LocalDirStorage on the same host removes it on its first write (temp names
 * carry the writer's host and pid; files of a live process are left alone, any older than a day go).
 */
export class LocalDirStorage implements AssetStorage {
  readonly kind = 'local' as const;
  readonly rootDir: string;

  constructor(
    rootDir: string,
    private readonly options: LocalDirStorageOptions = {},
  ) {
    this.rootDir = path.resolve(rootDir);
  }

  /** Absolute path of a key; throws StorageError('invalid_key') for anything not of the safe form. */
  pathFor(key: string): string {
    parseContentKey(key);
    return path.join(this.rootDir, ...key.split('/'));
  }

  // contentType is implied by the key's extension here; an S3 backend stores it as Content-Type.
  async put(key: string, data: Buffer, _contentType: string): Promise<{ key: string; bytes: number }> {
    const { sha256 } = parseContentKey(key);
    const actual = sha256Hex(data);
    if (actual !== sha256) {
      throw new StorageError('invalid_key', `refusing to store ${key}: the data's SHA-256 is ${actual}, not the key's`, { key });
    }
    const finalPath = this.pathFor(key);
    if (await this.holds(finalPath, data.length, sha256, key)) return { key, bytes: data.length };

    const dir = path.dirname(finalPath);
    this.swept ??= this.sweepTemp();
    await this.swept;
    // Hidden and never of key form, so exists()/get() can never mistake it for an asset.
    const tmpPath = path.join(this.rootDir, TEMP_DIR, `${TEMP_PREFIX}${randomUUID()}`);
    try {
      await mkdirp(dir);
      await mkdirp(path.dirname(tmpPath));
      const file = await open(tmpPath, 'wx', 0o644);
      try {
        await file.writeFile(data);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmpPath, finalPath);
    } catch (err) {
      await rm(tmpPath, { force: true }).catch(() => undefined);
      throw storageErrorFromFs(err, 'write', key, this.rootDir);
    }
    await fsyncDir(dir);
    return { key, bytes: data.length };
  }

  async get(key: string): Promise<Buffer> {
    const p = this.pathFor(key);
    try {
      return await readFile(p);
    } catch (err) {
      throw storageErrorFromFs(err, 'read', key, this.rootDir);
    }
  }

  async exists(key: string): Promise<boolean> {
    const p = this.pathFor(key);
    try {
      return (await stat(p)).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw storageErrorFromFs(err, 'read', key, this.rootDir);
    }
  }

  async delete(key: string): Promise<void> {
    const p = this.pathFor(key);
    try {
      await unlink(p);
    } catch (err) {
      if (isMissing(err)) return;
      throw storageErrorFromFs(err, 'delete', key, this.rootDir);
    }
  }

  urlFor(key: string): Promise<string> | undefined {
    parseContentKey(key);
    const base = this.options.publicBaseUrl;
    return base ? Promise.resolve(`${base.replace(/\/+$/, '')}/${key}`) : undefined;
  }

  private swept: Promise<void> | undefined;

  /** Removes temp files of writers that died (this host, pid gone) or that are older than a day. */
  private async sweepTemp(): Promise<void> {
    const tempDir = path.join(this.rootDir, TEMP_DIR);
    let names: string[];
    try {
      names = await readdir(tempDir);
    } catch {
      return; // no temp folder yet (or an unusable root: the write below reports that)
    }
    const host = os.hostname();
    await Promise.all(
      names.map(async (name) => {
        const file = path.join(tempDir, name);
        const writer = /^p(\d+)@(.*)@[0-9a-f-]{36}$/.exec(name);
        let stale = writer !== null && writer[2] === host && Number(writer[1]) !== process.pid && !pidAlive(Number(writer[1]));
        if (!stale) stale = await stat(file).then((st) => Date.now() - st.mtimeMs > STALE_TEMP_MS, () => false);
        if (stale) await rm(file, { force: true }).catch(() => undefined);
      }),
    );
  }

  /** True when finalPath already holds exactly this content (so put is a no-op). */
  private async holds(finalPath: string, size: number, sha256: string, key: string): Promise<boolean> {
    try {
      const st = await stat(finalPath);
      if (!st.isFile() || st.size !== size) return false;
      return sha256Hex(await readFile(finalPath)) === sha256;
    } catch (err) {
      if (isMissing(err)) return false;
      throw storageErrorFromFs(err, 'read', key, this.rootDir);
    }
  }
}

/**
 * Maps a filesystem failure to a StorageError whose message names the key, the root and the cause.
 * A path component that is a regular file (ENOTDIR) means the storage root is unusable, like EACCES.
 */
export function storageErrorFromFs(err: unknown, op: 'read' | 'write' | 'delete', key: string, rootDir: string): StorageError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const cause = err instanceof Error ? err.message : String(err);
  const where = `asset ${key} in local storage ${rootDir}`;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageError('no_space', `cannot ${op} ${where}: no space left (${cause})`, { key, code, cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
    case 'ENOTDIR':
      // On read, a file where a directory should be simply means the key is absent.
      if (code === 'ENOTDIR' && op === 'read') return new StorageError('not_found', `${where} does not exist`, { key, code, cause: err });
      return new StorageError('not_writable', `cannot ${op} ${where}: storage is not writable (${cause})`, { key, code, cause: err });
    case 'ENOENT':
      if (op === 'read') return new StorageError('not_found', `${where} does not exist`, { key, code, cause: err });
      break;
  }
  return new StorageError('io', `cannot ${op} ${where}: I/O error (${cause})`, { key, code, cause: err });
}

/** `p<pid>@<host>@`: whose temp file this is, so a later process can tell a dead writer's leftovers. */
const TEMP_PREFIX = `p${process.pid}@${os.hostname()}@`;

/**
 * mkdir -p that reports why it failed. Node's recursive mkdir answers ENOENT when it cannot create a
 * missing directory for a reason it does not special-case (a read-only filesystem: EROFS, a full
 * one: ENOSPC...), which would read as "I/O error, no such file". Walking down from the deepest
 * existing ancestor with plain mkdir gives the real error.
 */
async function mkdirp(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const missing: string[] = [];
    for (let p = dir; ; p = path.dirname(p)) {
      const present = await stat(p).then(
        () => true,
        () => false,
      );
      if (present || path.dirname(p) === p) break;
      missing.unshift(p);
    }
    for (const m of missing) {
      try {
        await mkdir(m);
      } catch (inner) {
        if ((inner as NodeJS.ErrnoException).code !== 'EEXIST') throw inner;
      }
    }
    // Every level could be made after all (another writer raced this one): the folder is there.
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Makes the rename itself durable. Best effort: some filesystems cannot fsync a directory. */
async function fsyncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The data file is already fsynced; losing only the directory entry on power loss is acceptable.
  }
}
