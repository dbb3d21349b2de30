import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { parseContentKey } from './keys';
import { type AssetStorage, StorageError } from './types';

export interface LocalDirStorageOptions {
  /** Where the HTTP service serves rootDir from, for urlFor(); omitted means no URL. */
  publicBaseUrl?: string;
}

/**
 * Assets as files under rootDir, one file per key. Writes are atomic: the bytes go to a temp file in the
 * key's own directory (same filesystem, so rename is atomic), are fsynced, then renamed over the key. A
 * reader therefore sees either no file or the whole file, never a partial one.
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
    // Hidden and never of key form, so exists()/get() can never mistake it for an asset.
    const tmpPath = path.join(dir, `.tmp-${randomUUID()}`);
    try {
      await mkdir(dir, { recursive: true });
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
