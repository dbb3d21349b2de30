import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentKey, LocalDirStorage, parseContentKey, StorageError, type StorageErrorReason } from '../../src/storage';
import { storageErrorFromFs } from '../../src/storage/localDir';
import { describeAssetStorage, expectStorageError, sha256Hex as sha } from './contract';

/** Every file under dir, relative, recursively. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describeAssetStorage('LocalDirStorage', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'assets-'));
  const storage = new LocalDirStorage(dir);
  return {
    storage,
    kind: 'local',
    listKeys: () => listFiles(dir),
    overwriteRaw: (key, bytes) => writeFile(storage.pathFor(key), bytes),
    urls: { mode: 'none' },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'assets-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('contentKey', () => {
  const h = sha(Buffer.from('x'));

  it('builds a fanned-out key from the hash and a fixed extension', () => {
    expect(contentKey(h, 'avif')).toBe(`${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.avif`);
    expect(contentKey(h, 'jpg', 'variants')).toBe(`variants/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.jpg`);
    expect(parseContentKey(contentKey(h, 'webp', 'a/b'))).toEqual({ prefix: 'a/b', sha256: h, ext: 'webp' });
  });

  it('refuses anything that is not a hash, a known extension or a slug prefix', () => {
    expect(() => contentKey('../../etc/passwd', 'jpg')).toThrow(StorageError);
    expect(() => contentKey(h.toUpperCase(), 'jpg')).toThrow(StorageError);
    expect(() => contentKey(h, '../x' as 'jpg')).toThrow(StorageError);
    expect(() => contentKey(h, 'jpg', '../../etc')).toThrow(StorageError);
    expect(() => contentKey(h, 'jpg', '/abs')).toThrow(StorageError);
    expect(() => contentKey(h, 'jpg', 'SKU 123')).toThrow(StorageError);
  });
});

describe('LocalDirStorage, local specifics', () => {
  const data = Buffer.from('pretend this is an AVIF');
  const key = contentKey(sha(data), 'avif', 'variants');

  it('stores a key as the file at the same relative path', async () => {
    const storage = new LocalDirStorage(root);
    await storage.put(key, data, 'image/avif');
    expect(await readFile(path.join(root, key))).toEqual(data);
  });

  it('rejects unsafe keys without creating the storage root', async () => {
    const storage = new LocalDirStorage(path.join(root, 'store'));
    await expectStorageError(storage.put('../../etc/passwd', data, 'image/avif'), 'invalid_key');
    expect(await readdir(root)).toEqual([]);
  });

  it('maps a root that cannot be written (a path component is a file) to not_writable', async () => {
    // chmod does not stop root, so make the storage root live under a regular file: ENOTDIR, even as root.
    await writeFile(path.join(root, 'not-a-dir'), 'x');
    const storage = new LocalDirStorage(path.join(root, 'not-a-dir', 'assets'));
    const err = await expectStorageError(storage.put(key, data, 'image/avif'), 'not_writable');
    expect(err.message).toContain(key);
    expect(err.message).toContain('ENOTDIR');
    expect(err.details.code).toBe('ENOTDIR');
    expect(await storage.exists(key)).toBe(false);
    await expectStorageError(storage.get(key), 'not_found');
    expect(await listFiles(root)).toEqual(['not-a-dir']);
  });

  it('cleans up its temp file when the final rename fails', async () => {
    // A directory squatting on the key's path makes rename() fail after the temp file was written and synced.
    const storage = new LocalDirStorage(root);
    await mkdir(path.join(root, key, 'squatter'), { recursive: true });
    const err = await expectStorageError(storage.put(key, data, 'image/avif'), 'io');
    expect(err.message).toContain(key);
    expect(err.details.code).toBe('EISDIR');
    const keyDir = path.dirname(path.join(root, key));
    expect(await readdir(keyDir)).toEqual([path.basename(key)]);
    expect(await listFiles(root)).toEqual([]);
    expect(await storage.exists(key)).toBe(false);
  });

  it('maps ENOSPC, EROFS and EACCES to clear reasons naming the key', () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: simulated, write '/x'`), { code });
    const cases: [string, StorageErrorReason][] = [
      ['ENOSPC', 'no_space'],
      ['EDQUOT', 'no_space'],
      ['EACCES', 'not_writable'],
      ['EPERM', 'not_writable'],
      ['EROFS', 'not_writable'],
      ['EIO', 'io'],
    ];
    for (const [code, reason] of cases) {
      const err = storageErrorFromFs(errno(code), 'write', key, '/srv/assets');
      expect(err.reason).toBe(reason);
      expect(err.message).toContain(key);
      expect(err.message).toContain(code);
      expect(err.message).toContain('/srv/assets');
    }
  });

  it('urlFor joins a configured public base URL, else returns undefined', async () => {
    expect(new LocalDirStorage(root).urlFor(key)).toBeUndefined();
    expect(await new LocalDirStorage(root, { publicBaseUrl: 'http://localhost:8080/assets/' }).urlFor(key)).toBe(
      `http://localhost:8080/assets/${key}`,
    );
  });
});
