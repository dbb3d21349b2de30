/**
 * The behaviour every AssetStorage backend must have, as one suite run against each (local directory,
 * S3-compatible store), so the rest of the code cannot tell which backend it runs on.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentKey, StorageError, type AssetStorage, type StorageErrorReason } from '../../src/storage';

export const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function expectStorageError(work: Promise<unknown> | (() => unknown), reason: StorageErrorReason): Promise<StorageError> {
  let err: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StorageError);
  expect((err as StorageError).reason).toBe(reason);
  return err as StorageError;
}

/** A fresh, empty backend for one test, with back doors the interface does not offer. */
export interface StorageUnderTest {
  storage: AssetStorage;
  kind: AssetStorage['kind'];
  /** Every key the backend holds, sorted: proves no temp objects and nothing written for refused keys. */
  listKeys(): Promise<string[]>;
  /** Replaces what is stored under key behind the storage's back (bit rot, a foreign writer). */
  overwriteRaw(key: string, bytes: Buffer): Promise<void>;
  /**
   * How urlFor() behaves: 'none' hands out no URL; 'presigned' hands out expiring URLs a plain HTTP
   * client can fetch, and presign() makes one with a chosen lifetime.
   */
  urls: { mode: 'none' } | { mode: 'presigned'; presign(key: string, seconds: number): Promise<string> };
  cleanup(): Promise<void>;
}

export function describeAssetStorage(name: string, open: () => Promise<StorageUnderTest>, o: { skipReason?: string } = {}): void {
  if (o.skipReason) {
    // Never a silent skip: the reason is in the suite's name and on stderr.
    console.warn(`SKIPPED ${name} storage contract: ${o.skipReason}`);
    describe.skip(`${name} satisfies the AssetStorage contract (skipped: ${o.skipReason})`, () => {
      it('round-trips', () => undefined);
    });
    return;
  }

  describe(`${name} satisfies the AssetStorage contract`, () => {
    let t: StorageUnderTest;
    beforeEach(async () => {
      t = await open();
    });
    afterEach(async () => {
      await t.cleanup();
    });

    const data = Buffer.from('pretend this is an AVIF');
    const key = contentKey(sha256Hex(data), 'avif', 'variants');

    it('round-trips put, exists, get and delete; delete is idempotent', async () => {
      const { storage } = t;
      expect(storage.kind).toBe(t.kind);
      expect(await storage.exists(key)).toBe(false);
      expect(await storage.put(key, data, 'image/avif')).toEqual({ key, bytes: data.length });
      expect(await storage.exists(key)).toBe(true);
      expect(await storage.get(key)).toEqual(data);
      expect(await t.listKeys()).toEqual([key]);
      await storage.delete(key);
      expect(await storage.exists(key)).toBe(false);
      await storage.delete(key);
      await expectStorageError(storage.get(key), 'not_found');
      expect(await t.listKeys()).toEqual([]);
    });

    it('reports an absent key as not_found on get, false on exists, and deletes it without error', async () => {
      const absent = contentKey(sha256Hex(Buffer.from('never stored')), 'webp');
      const err = await expectStorageError(t.storage.get(absent), 'not_found');
      expect(err.message).toContain(absent);
      expect(await t.storage.exists(absent)).toBe(false);
      await t.storage.delete(absent);
    });

    it('put is idempotent, also under concurrency, and leaves nothing but the key', async () => {
      const { storage } = t;
      await storage.put(key, data, 'image/avif');
      const results = await Promise.all(Array.from({ length: 8 }, () => storage.put(key, data, 'image/avif')));
      expect(results.every((r) => r.key === key && r.bytes === data.length)).toBe(true);
      expect(await t.listKeys()).toEqual([key]);
      expect(await storage.get(key)).toEqual(data);
    });

    it('repairs a key whose stored bytes no longer match its hash', async () => {
      await t.storage.put(key, data, 'image/avif');
      await t.overwriteRaw(key, Buffer.from('bit rot!'));
      await t.storage.put(key, data, 'image/avif');
      expect(await t.storage.get(key)).toEqual(data);
    });

    it('refuses data that does not match the key hash, storing nothing', async () => {
      await expectStorageError(t.storage.put(key, Buffer.from('other bytes'), 'image/avif'), 'invalid_key');
      expect(await t.listKeys()).toEqual([]);
    });

    it('keeps many keys and prefixes apart, and round-trips a multi-megabyte object', async () => {
      const big = randomBytes(6 * 1024 * 1024 + 17);
      const items = [
        { bytes: big, key: contentKey(sha256Hex(big), 'png', 'originals') },
        { bytes: Buffer.from('a'), key: contentKey(sha256Hex(Buffer.from('a')), 'jpg') },
        { bytes: Buffer.from('b'), key: contentKey(sha256Hex(Buffer.from('b')), 'webp', 'variants/listing') },
      ];
      await Promise.all(items.map((i) => t.storage.put(i.key, i.bytes, 'application/octet-stream')));
      expect(await t.listKeys()).toEqual(items.map((i) => i.key).sort());
      for (const i of items) expect((await t.storage.get(i.key)).equals(i.bytes)).toBe(true);
    });

    it('rejects unsafe keys on every operation, before touching the backend', async () => {
      const { storage } = t;
      const h = sha256Hex(data);
      const unsafe = [
        '../../etc/passwd',
        '/etc/passwd',
        `../${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.avif`,
        `variants/../${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.avif`,
        `${h.slice(0, 2)}\\${h.slice(2, 4)}\\${h}.avif`,
        `ff/ff/${h}.avif`, // fan-out does not match the hash
        `${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.exe`,
        `${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.avif/`,
        `${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.avif?x-id=PutObject`,
        'SKU-../../etc/passwd.avif',
        '',
      ];
      for (const k of unsafe) {
        const err = await expectStorageError(storage.put(k, data, 'image/avif'), 'invalid_key');
        expect(err.message).toMatch(/unsafe or malformed asset key/);
        await expectStorageError(storage.get(k), 'invalid_key');
        await expectStorageError(storage.exists(k), 'invalid_key');
        await expectStorageError(storage.delete(k), 'invalid_key');
        if (storage.urlFor) await expectStorageError(() => storage.urlFor?.(k), 'invalid_key');
      }
      expect(await t.listKeys()).toEqual([]);
    });

    it('hands out URLs only as the backend can: none, or presigned URLs a plain fetch can use until they expire', async () => {
      const { storage } = t;
      await storage.put(key, data, 'image/avif');
      if (t.urls.mode === 'none') {
        expect(storage.urlFor?.(key)).toBeUndefined();
        return;
      }
      const url = await storage.urlFor?.(key);
      expect(url).toMatch(/^https?:\/\//);
      const res = await fetch(url!);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/avif');
      expect(Buffer.from(await res.arrayBuffer())).toEqual(data);

      // A URL for a key that is not stored does not serve anything.
      const absent = contentKey(sha256Hex(Buffer.from('absent')), 'avif', 'variants');
      expect((await fetch((await storage.urlFor?.(absent))!)).status).toBe(404);

      // Presigned URLs expire: one made with a 2-second lifetime (X-Amz-Date has whole seconds, so at
      // least 1 s of it is left now) works at once and is refused once it has passed.
      const shortLived = await t.urls.presign(key, 2);
      expect((await fetch(shortLived)).status).toBe(200);
      await sleep(3_100);
      const expired = await fetch(shortLived);
      expect(expired.status).toBe(403);
      expect(await expired.text()).not.toContain(data.toString());
    });
  });
}
