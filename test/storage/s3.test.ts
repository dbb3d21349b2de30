/**
 * S3Storage against a real S3-compatible server (versitygw over a temp directory, built from the Go
 * module proxy by src/dev/s3server.ts), started on a free loopback port for this file.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage } from '../../src/app/runtime';
import { loadConfig } from '../../src/config';
import { contentKey, IMMUTABLE_CACHE_CONTROL, S3Storage, storageErrorFromS3, type S3StorageOptions } from '../../src/storage';
import { ensureS3Server, findS3Server, goToolchain, startS3Server, type RunningS3Server } from '../../src/dev/s3server';
import { client as simulatorClient, start as startSimulator } from '../provider/simulator-helpers';
import { describeAssetStorage, expectStorageError, sha256Hex } from './contract';

const ACCESS_KEY_ID = 'catalog-test-access';
const SECRET = `test-secret-${randomUUID()}`;

// Decided at collection time, so a skip is visible in the suite name; the build itself runs in beforeAll.
const skipReason =
  findS3Server() || goToolchain()
    ? undefined
    : 'no versitygw binary (VERSITYGW_PATH, .tools/versitygw, the cache, PATH) and no Go toolchain to build it: see src/dev/s3server.ts';

let server: RunningS3Server;
let dataDir: string;
let admin: S3Client;

beforeAll(async () => {
  if (skipReason) return;
  const binary = ensureS3Server();
  if ('unavailable' in binary) throw new Error(binary.unavailable);
  dataDir = await mkdtemp(path.join(tmpdir(), 'ca-s3-'));
  server = await startS3Server({ binary: binary.path, dataDir, accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET });
  admin = new S3Client({ ...clientOptions(), requestChecksumCalculation: 'WHEN_REQUIRED' });
}, 300_000);

afterAll(async () => {
  admin?.destroy();
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function clientOptions() {
  return {
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
  };
}

function storageFor(bucket: string, extra: Partial<S3StorageOptions> = {}): S3Storage {
  return new S3Storage({ ...clientOptions(), bucket, ...extra });
}

async function newBucket(): Promise<string> {
  const bucket = `t-${randomUUID().slice(0, 18)}`;
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

async function listKeys(bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

async function dropBucket(bucket: string): Promise<void> {
  const keys = await listKeys(bucket);
  if (keys.length) await admin.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
  await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
}

describeAssetStorage(
  'S3Storage (versitygw)',
  async () => {
    const bucket = await newBucket();
    const storage = storageFor(bucket);
    return {
      storage,
      kind: 's3',
      listKeys: () => listKeys(bucket),
      overwriteRaw: async (key, bytes) => {
        await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: 'application/octet-stream' }));
      },
      urls: { mode: 'presigned', presign: (key, seconds) => storage.presignGet(key, { expiresInSeconds: seconds }) },
      cleanup: async () => {
        await storage.close();
        await dropBucket(bucket);
      },
    };
  },
  { skipReason },
);

describe.skipIf(skipReason !== undefined)(`S3Storage specifics${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const data = Buffer.from('a product hero, pretend AVIF');
  const key = contentKey(sha256Hex(data), 'avif', 'variants');

  it('stores Content-Type, an immutable Cache-Control and the SHA-256 the key names', async () => {
    const bucket = await newBucket();
    const storage = storageFor(bucket);
    await storage.put(key, data, 'image/avif');
    const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    expect(head.ContentType).toBe('image/avif');
    expect(head.CacheControl).toBe(IMMUTABLE_CACHE_CONTROL);
    expect(head.ContentLength).toBe(data.length);
    expect(Buffer.from(head.ChecksumSHA256 ?? '', 'base64').toString('hex')).toBe(sha256Hex(data));

    const res = await fetch(await storage.urlFor(key));
    expect(res.headers.get('content-type')).toBe('image/avif');
    expect(res.headers.get('cache-control')).toBe(IMMUTABLE_CACHE_CONTROL);
    await storage.close();
  });

  it('does not upload again what is already stored, and rewrites an object with the wrong content type', async () => {
    const bucket = await newBucket();
    const storage = storageFor(bucket);
    const sent: string[] = [];
    storage.client.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    await storage.put(key, data, 'image/avif');
    await storage.put(key, data, 'image/avif');
    await Promise.all([storage.put(key, data, 'image/avif'), storage.put(key, data, 'image/avif')]);
    expect(sent.filter((c) => c === 'PutObjectCommand')).toHaveLength(1);
    expect(sent.filter((c) => c === 'HeadObjectCommand')).toHaveLength(4);

    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ContentType: 'text/plain' }));
    await storage.put(key, data, 'image/avif');
    expect(sent.filter((c) => c === 'PutObjectCommand')).toHaveLength(2);
    expect((await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentType).toBe('image/avif');
    await storage.close();
  });

  it('presigns for the configured lifetime, one hour by default', async () => {
    const bucket = await newBucket();
    const byDefault = storageFor(bucket);
    const short = storageFor(bucket, { presignSeconds: 120 });
    await byDefault.put(key, data, 'image/avif');
    const url = new URL(await byDefault.urlFor(key));
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(url.pathname).toBe(`/${bucket}/${key}`);
    expect(url.toString()).not.toContain(SECRET);
    expect(new URL(await short.urlFor(key)).searchParams.get('X-Amz-Expires')).toBe('120');
    await Promise.all([byDefault.close(), short.close()]);
  });

  it('maps bad credentials to not_writable with a message naming the key and never the secret', async () => {
    const bucket = await newBucket();
    const wrongSecret = `wrong-secret-${randomUUID()}`;
    const storage = storageFor(bucket, { credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: wrongSecret } });
    const attempts = [() => storage.put(key, data, 'image/avif'), () => storage.get(key), () => storage.exists(key), () => storage.delete(key)];
    for (const attempt of attempts) {
      const err = await expectStorageError(attempt, 'not_writable');
      expect(err.message).toContain(key);
      expect(err.message).toContain(`s3://${bucket}`);
      expect(err.message).toMatch(/access denied/);
      expect(err.message).not.toContain(wrongSecret);
      expect(err.message).not.toContain(SECRET);
    }
    expect(await listKeys(bucket)).toEqual([]);
    await storage.close();
  });

  it('reports a missing bucket clearly, and ensureBucket creates it on request', async () => {
    const bucket = `t-missing-${randomUUID().slice(0, 8)}`;
    const storage = storageFor(bucket);
    const err = await expectStorageError(storage.put(key, data, 'image/avif'), 'not_writable');
    expect(err.message).toContain('the bucket does not exist');
    expect(err.message).toContain(key);
    await expectStorageError(storage.ensureBucket(), 'not_found');
    expect(await storage.ensureBucket({ create: true })).toBe('created');
    expect(await storage.ensureBucket({ create: true })).toBe('exists');
    await storage.put(key, data, 'image/avif');
    expect(await storage.get(key)).toEqual(data);
    await storage.close();
    await dropBucket(bucket);
  });

  it('maps an unreachable endpoint to io, naming the key', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const storage = storageFor('anything', { endpoint: `http://127.0.0.1:${closedPort}`, timeouts: { connectMs: 1_000 } });
    const err = await expectStorageError(storage.get(key), 'io');
    expect(err.message).toContain(key);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.message).toMatch(/reachable/);
    await storage.close();
  });

  it('hands the image provider (the local simulator) a reference URL it can fetch, until it expires', async () => {
    const bucket = await newBucket();
    const storage = storageFor(bucket);
    const packshot = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#3060c0' } }).png().toBuffer();
    const packshotKey = contentKey(sha256Hex(packshot), 'png', 'sources');
    await storage.put(packshotKey, packshot, 'image/png');
    const sim = await startSimulator();
    try {
      const api = simulatorClient(sim);
      const edit = (imageUrl: string) => api.submit('edit', { prompt: 'Update label: Organic 500 g', imageUrl, imageSize: 'landscape_4_3' });
      const ok = await api.settle((await edit(await storage.urlFor(packshotKey))).json.id);
      expect(ok.status).toBe('completed');

      const expired = await storage.presignGet(packshotKey, { expiresInSeconds: 1 });
      await new Promise((r) => setTimeout(r, 2_100));
      const failed = await api.settle((await edit(expired)).json.id);
      expect(failed.status).toBe('failed');
      expect(failed.error?.code).toBe('reference_unreachable');
      expect(failed.error?.message).toMatch(/HTTP 403/);
      expect(failed.error?.message).not.toContain(new URL(expired).searchParams.get('X-Amz-Signature'));
    } finally {
      await sim.close();
      await storage.close();
    }
  });

  it('is what createStorage builds from ASSET_STORAGE=s3 configuration', async () => {
    const bucket = await newBucket();
    const config = loadConfig({
      ASSET_STORAGE: 's3',
      S3_ENDPOINT: server.endpoint,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: SECRET,
      REFERENCE_MODE: 'url',
    });
    const storage = createStorage(config);
    expect(storage).toBeInstanceOf(S3Storage);
    await storage.put(key, data, 'image/avif');
    expect(await listKeys(bucket)).toEqual([key]);
    const res = await fetch((await storage.urlFor?.(key))!);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(data);
    await storage.close?.();
  });
});

describe('storageErrorFromS3', () => {
  const where = 's3://assets at http://minio:9000';
  const key = contentKey(sha256Hex(Buffer.from('k')), 'jpg');
  const s3Error = (name: string, status: number, message = `${name} happened`) =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

  it('maps service errors, bodiless HEAD answers and network faults to reasons', () => {
    const cases: Array<[unknown, string]> = [
      [s3Error('NoSuchKey', 404), 'not_found'],
      [s3Error('NotFound', 404, 'UnknownError'), 'not_found'],
      [s3Error('AccessDenied', 403), 'not_writable'],
      [s3Error('InvalidAccessKeyId', 403), 'not_writable'],
      [s3Error('SignatureDoesNotMatch', 403), 'not_writable'],
      [s3Error('Unknown', 403, 'UnknownError'), 'not_writable'],
      [s3Error('NoSuchBucket', 404), 'not_writable'],
      [s3Error('XMinioStorageFull', 507), 'no_space'],
      [s3Error('SlowDown', 503), 'io'],
      [s3Error('InternalError', 500), 'io'],
      [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'io'],
      ['a string was thrown', 'io'],
    ];
    for (const [err, reason] of cases) {
      const mapped = storageErrorFromS3(err, 'read', { key, where });
      expect(mapped.reason, String((err as Error).name ?? err)).toBe(reason);
      expect(mapped.message).toContain(key);
      expect(mapped.message).toContain(where);
      expect(mapped.details.key).toBe(key);
    }
  });

  it('never lets the secret through, even when the store echoes it', () => {
    const secret = 'abcdEFGH1234/secret+value';
    const mapped = storageErrorFromS3(s3Error('SignatureDoesNotMatch', 403, `string to sign used ${secret}`), 'write', { key, where, secret });
    expect(mapped.message).not.toContain(secret);
    expect(mapped.message).toContain('[REDACTED]');
  });
});
