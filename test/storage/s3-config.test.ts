import { describe, expect, it } from 'vitest';
import { ConfigError, KNOWN_ENV_VARS, loadConfig } from '../../src/config';
import { redact } from '../../src/config/redact';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

const s3 = { ASSET_STORAGE: 's3', S3_BUCKET: 'catalog-assets' };

describe('S3 configuration', () => {
  it('knows every S3 variable', () => {
    for (const name of ['S3_ENDPOINT', 'S3_REGION', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_FORCE_PATH_STYLE', 'S3_PRESIGN_SECONDS']) {
      expect(KNOWN_ENV_VARS).toContain(name);
    }
  });

  it('leaves S3 settings out with local storage', () => {
    const config = loadConfig({});
    expect(config.storage.kind).toBe('local');
    expect(config.storage.s3).toBeUndefined();
  });

  it('requires S3_BUCKET with ASSET_STORAGE=s3, naming it', () => {
    expect(configError({ ASSET_STORAGE: 's3' })).toMatch(/S3_BUCKET: required when ASSET_STORAGE=s3/);
    expect(configError({ ...s3, S3_BUCKET: 'Not_A_Bucket' })).toMatch(/S3_BUCKET: a bucket name/);
  });

  it('defaults: AWS S3 in us-east-1, virtual-hosted style, one-hour presigned URLs, default credential chain', () => {
    const { storage } = loadConfig(s3);
    expect(storage.kind).toBe('s3');
    expect(storage.s3).toEqual({
      bucket: 'catalog-assets',
      region: 'us-east-1',
      endpoint: undefined,
      forcePathStyle: false,
      credentials: undefined,
      presignSeconds: 3_600,
    });
  });

  it('an S3-compatible endpoint turns path-style on unless told otherwise', () => {
    expect(loadConfig({ ...s3, S3_ENDPOINT: 'http://minio:9000' }).storage.s3?.forcePathStyle).toBe(true);
    expect(loadConfig({ ...s3, S3_ENDPOINT: 'https://s3.example.com', S3_FORCE_PATH_STYLE: 'false' }).storage.s3?.forcePathStyle).toBe(false);
    expect(loadConfig({ ...s3, S3_FORCE_PATH_STYLE: 'true' }).storage.s3?.forcePathStyle).toBe(true);
    expect(configError({ ...s3, S3_ENDPOINT: 'minio:9000' })).toMatch(/S3_ENDPOINT/);
    expect(configError({ ...s3, S3_ENDPOINT: 'ftp://minio:9000' })).toMatch(/S3_ENDPOINT: must be an http/);
  });

  it('bounds S3_PRESIGN_SECONDS by what SigV4 allows', () => {
    expect(loadConfig({ ...s3, S3_PRESIGN_SECONDS: '600' }).storage.s3?.presignSeconds).toBe(600);
    expect(configError({ ...s3, S3_PRESIGN_SECONDS: '604801' })).toMatch(/S3_PRESIGN_SECONDS/);
    expect(configError({ ...s3, S3_PRESIGN_SECONDS: '0' })).toMatch(/S3_PRESIGN_SECONDS/);
  });

  it('takes the access key pair together or not at all, and redacts the secret', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    expect(configError({ ...s3, S3_ACCESS_KEY_ID: 'AKIAEXAMPLE' })).toMatch(/S3_SECRET_ACCESS_KEY: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together/);
    const message = configError({ ...s3, S3_SECRET_ACCESS_KEY: secret });
    expect(message).toMatch(/S3_ACCESS_KEY_ID: set/);
    expect(message).not.toContain(secret);

    const config = loadConfig({ ...s3, S3_ACCESS_KEY_ID: 'AKIAEXAMPLE', S3_SECRET_ACCESS_KEY: secret });
    expect(config.storage.s3?.credentials).toEqual({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: secret });
    expect(redact(`signing with ${secret} failed`)).toBe('signing with [REDACTED] failed');
  });

  it('refuses REFERENCE_MODE=url with local storage: local files are not reachable by the provider', () => {
    expect(configError({ REFERENCE_MODE: 'url' })).toMatch(/REFERENCE_MODE: url needs ASSET_STORAGE=s3/);
    expect(loadConfig({ ...s3, REFERENCE_MODE: 'url' }).referenceMode).toBe('url');
    expect(loadConfig({ REFERENCE_MODE: 'inline' }).referenceMode).toBe('inline');
  });

  it('lists every problem at once', () => {
    const message = configError({ ASSET_STORAGE: 's3', REFERENCE_MODE: 'url', IMAROUTER_API_KEY: 'a-real-looking-key' });
    expect(message).toMatch(/IMAROUTER_BASE_URL/);
    expect(message).toMatch(/S3_BUCKET/);
  });
});
