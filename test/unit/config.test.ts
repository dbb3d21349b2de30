import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, KNOWN_ENV_VARS, loadConfig } from '../../src/config';
import { redact, registerSecret } from '../../src/config/redact';

describe('configuration', () => {
  it('has embedded defaults: no configuration is needed to start', () => {
    const c = loadConfig({});
    expect(c.provider.kind).toBe('simulator');
    expect(c.provider.baseUrl).toBe('http://127.0.0.1:8790');
    expect(c.temporal.address).toBe('127.0.0.1:7233');
    expect(c.storage.kind).toBe('local');
  });

  it('fails at start with a message naming the malformed variable and the reason', () => {
    expect(() => loadConfig({ HTTP_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTP_PORT: 'eighty' })).toThrow(/HTTP_PORT: /);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL: must be a postgres:\/\/ URL/);
    expect(() => loadConfig({ REFERENCE_MODE: 'ftp' })).toThrow(/REFERENCE_MODE/);
    expect(() => loadConfig({ PROVIDER_RATE_LIMIT_PER_SECOND: '-1' })).toThrow(/PROVIDER_RATE_LIMIT_PER_SECOND/);
  });

  it('requires the real API base URL with a real key, and then uses the real API', () => {
    expect(() => loadConfig({ IMAROUTER_API_KEY: 'ir-live-0123456789' })).toThrow(/IMAROUTER_BASE_URL: required when IMAROUTER_API_KEY is set/);
    const c = loadConfig({ IMAROUTER_API_KEY: 'ir-live-0123456789', IMAROUTER_BASE_URL: 'https://api.example.test' });
    expect(c.provider).toMatchObject({ kind: 'real', baseUrl: 'https://api.example.test', model: 'seedream-4.5' });
  });

  it('refuses to run production on the simulator unless told so explicitly', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/IMAROUTER_API_KEY: required with NODE_ENV=production.*IMAROUTER_SIMULATOR=1/);
    expect(() => loadConfig({ NODE_ENV: 'production', IMAROUTER_SIMULATOR: '0' })).toThrow(/IMAROUTER_API_KEY/);
    expect(loadConfig({ NODE_ENV: 'production', IMAROUTER_SIMULATOR: '1' }).provider).toMatchObject({ kind: 'simulator', baseUrl: 'http://127.0.0.1:8790' });
    const real = loadConfig({ NODE_ENV: 'production', IMAROUTER_API_KEY: 'ir-live-0123456789', IMAROUTER_BASE_URL: 'https://api.example.test' });
    expect(real.provider).toMatchObject({ kind: 'real', baseUrl: 'https://api.example.test' });
    // The key wins over a permission to use the simulator; 0 refuses the simulator outside production too.
    expect(loadConfig({ NODE_ENV: 'production', IMAROUTER_SIMULATOR: '1', IMAROUTER_API_KEY: 'ir-live-0123456789', IMAROUTER_BASE_URL: 'https://api.example.test' }).provider.kind).toBe('real');
    expect(() => loadConfig({ IMAROUTER_SIMULATOR: '0' })).toThrow(/IMAROUTER_API_KEY: required because IMAROUTER_SIMULATOR=0/);
    expect(() => loadConfig({ IMAROUTER_SIMULATOR: 'maybe' })).toThrow(/IMAROUTER_SIMULATOR/);
  });

  it('validates the private-host allow-list as host:port entries', () => {
    expect(loadConfig({ ALLOW_PRIVATE_REFERENCE_HOSTS: '127.0.0.1:8791, [::1]:8790,packshots.internal' }).allowPrivateReferenceHosts).toEqual(['127.0.0.1:8791', '[::1]:8790', 'packshots.internal']);
    expect(() => loadConfig({ ALLOW_PRIVATE_REFERENCE_HOSTS: '127.0.0.1:0' })).toThrow(/ALLOW_PRIVATE_REFERENCE_HOSTS: .*port must be 1-65535/);
    expect(() => loadConfig({ ALLOW_PRIVATE_REFERENCE_HOSTS: 'http://127.0.0.1/x' })).toThrow(/ALLOW_PRIVATE_REFERENCE_HOSTS: .*not host or host:port/);
  });

  it('reads the webhook secret key and the codec token, validated and redacted', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const c = loadConfig({ WEBHOOK_SECRET_KEY: key, TEMPORAL_CODEC_TOKEN: 'codec-token-0123456789' });
    expect(c.http.webhookSecretKey).toEqual(Buffer.alloc(32, 7));
    expect(c.http.codecToken).toBe('codec-token-0123456789');
    expect(redact(`key ${key} token codec-token-0123456789`)).toBe('key [REDACTED] token [REDACTED]');
    try {
      loadConfig({ WEBHOOK_SECRET_KEY: 'c2hvcnQta2V5LXZhbHVl' });
      expect.unreachable('a short key was accepted');
    } catch (err) {
      expect(String(err)).toMatch(/WEBHOOK_SECRET_KEY: must be 32 random bytes/);
      expect(String(err)).not.toContain('c2hvcnQta2V5LXZhbHVl');
    }
    expect(() => loadConfig({ TEMPORAL_CODEC_TOKEN: 'short' })).toThrow(/TEMPORAL_CODEC_TOKEN: use at least 16 characters/);
  });

  it('never echoes a secret in its own error message', () => {
    try {
      loadConfig({ IMAROUTER_API_KEY: 'short', SERVICE_TOKEN: 'tiny' });
      expect.unreachable('loadConfig accepted a bad configuration');
    } catch (err) {
      expect(String(err)).toMatch(/IMAROUTER_API_KEY: looks too short/);
      expect(String(err)).not.toContain('short"');
      expect(String(err)).not.toContain('tiny');
    }
  });

  it('redacts registered secrets and bearer tokens from any text', () => {
    loadConfig({ IMAROUTER_API_KEY: 'ir-live-secret-abcdef', IMAROUTER_BASE_URL: 'https://api.example.test' });
    expect(redact('failed with key ir-live-secret-abcdef at https://x')).toBe('failed with key [REDACTED] at https://x');
    expect(redact('Authorization: Bearer abc.def-ghi')).toBe('Authorization: Bearer [REDACTED]');
    registerSecret('xy'); // too short to redact safely
    expect(redact('xylophone')).toBe('xylophone');
  });

  it('documents every variable it reads in the README configuration table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = KNOWN_ENV_VARS.filter((name) => !readme.includes(`| \`${name}\``));
    expect(missing).toEqual([]);
  });
});
