import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/schema';
import { registerResultsRoutes } from '../../src/results/routes';
import { contentKey } from '../../src/storage/keys';
import { LocalDirStorage } from '../../src/storage/localDir';
import { StorageError, type AssetStorage } from '../../src/storage/types';

const bytes = Buffer.from('not really a webp, but bytes all the same');
const sha = createHash('sha256').update(bytes).digest('hex');
const key = contentKey(sha, 'webp', 'variants');
const absent = contentKey('f'.repeat(64), 'jpg', 'variants');

/** A store that is not a local directory, like S3: served through get(). */
class MemoryStorage implements AssetStorage {
  readonly kind = 's3' as const;
  constructor(private readonly files: Map<string, Buffer>) {}
  async put(k: string, data: Buffer) {
    this.files.set(k, data);
    return { key: k, bytes: data.length };
  }
  async get(k: string) {
    const b = this.files.get(k);
    if (!b) throw new StorageError('not_found', `absent ${k}`);
    return b;
  }
  async exists(k: string) {
    return this.files.has(k);
  }
  async delete(k: string) {
    this.files.delete(k);
  }
}

const noDb = {} as Kysely<Database>; // the asset route and the auth hook never touch the database

describe('registerResultsRoutes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ca-routes-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  for (const kind of ['local', 'memory'] as const) {
    it(`GET /assets/* streams a stored file with its type and immutable caching (${kind} storage)`, async () => {
      const storage = kind === 'local' ? new LocalDirStorage(dir) : new MemoryStorage(new Map());
      await storage.put(key, bytes, 'image/webp');
      const app = Fastify();
      registerResultsRoutes(app, { db: noDb, storage });
      const ok = await app.inject({ method: 'GET', url: `/assets/${key}` });
      expect(ok.statusCode).toBe(200);
      expect(ok.headers['content-type']).toBe('image/webp');
      expect(ok.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(ok.headers.etag).toBe(`"${sha}"`);
      expect(ok.rawPayload.equals(bytes)).toBe(true);
      const head = await app.inject({ method: 'HEAD', url: `/assets/${key}` });
      expect(head.statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: `/assets/${key}`, headers: { 'if-none-match': `"${sha}"` } })).statusCode).toBe(304);
      const missing = await app.inject({ method: 'GET', url: `/assets/${absent}` });
      expect(missing.statusCode).toBe(404);
      expect(missing.headers['cache-control']).toBe('no-store');
      expect(missing.headers.etag).toBeUndefined();
      for (const bad of ['../../../etc/passwd', '..%2F..%2Fetc%2Fpasswd', `variants/${sha}.webp`, `${key}.exe`, 'variants/AB/CD/x.webp', '']) {
        const r = await app.inject({ method: 'GET', url: `/assets/${bad}` });
        expect([400, 404], bad).toContain(r.statusCode);
        expect(r.headers['content-type'] ?? '', bad).not.toMatch(/^image\//);
      }
      await app.close();
    });
  }

  it('runs the auth preHandler before both routes', async () => {
    const app = Fastify();
    registerResultsRoutes(app, {
      db: noDb,
      storage: new LocalDirStorage(dir),
      auth: async (request, reply) => {
        if (request.headers.authorization !== 'Bearer sesame') return reply.code(401).send({ error: 'unauthorized' });
      },
    });
    expect((await app.inject({ method: 'GET', url: '/catalogs/acme/results' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: `/assets/${key}` })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: `/assets/${key}`, headers: { authorization: 'Bearer sesame' } })).statusCode).toBe(200);
    const badQuery = await app.inject({ method: 'GET', url: '/catalogs/acme/results?limit=0', headers: { authorization: 'Bearer sesame' } });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.body).toContain('limit must be a whole number from 1 to 1000');
    await app.close();
  });
});
