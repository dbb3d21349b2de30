/**
 * The payload codec endpoint over real HTTP, as the service mounts it: whoever may call it can read
 * every encrypted payload or forge one, so it needs a credential (SERVICE_TOKEN or
 * TEMPORAL_CODEC_TOKEN) with or without an Origin, and answers CORS for Temporal UI's origin only.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPayloadCodec } from '../../src/temporal/client/codec';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { startService, TOKEN, type TestService } from './helpers';

const UI = 'http://127.0.0.1:8233';
const CODEC_TOKEN = 'codec_token_0123456789abcdef';
const SECRET_TEXT = 'Night Cream by Lumen, launch 2027';

describe('POST /codec/encode and /codec/decode over real HTTP', () => {
  let database: TestDatabase;
  let service: TestService;
  const codec = createPayloadCodec(randomBytes(32), { keyId: 'http-test' });
  let sealed: { payloads: Array<{ metadata: Record<string, string>; data: string }> };

  beforeAll(async () => {
    database = await createTestDatabase();
    service = await startService(database.db, { codec: { codec, allowedOrigins: [`${UI}/namespaces/default`] }, codecToken: CODEC_TOKEN });
    const [p] = await codec.encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(SECRET_TEXT)) }]);
    sealed = { payloads: [{ metadata: Object.fromEntries(Object.entries(p!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(p!.data!).toString('base64') }] };
  });
  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });

  const post = (op: 'encode' | 'decode', headers: Record<string, string>, body: unknown = sealed) =>
    fetch(`${service.url}/codec/${op}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('answers 401 without a credential or with a wrong one, whatever the Origin, and reveals nothing', async () => {
    const refused: Array<Record<string, string>> = [
      {},
      { origin: UI },
      { authorization: `Bearer ${CODEC_TOKEN}x` },
      { authorization: `Bearer ${CODEC_TOKEN.slice(0, -1)}` },
      { authorization: CODEC_TOKEN },
      { authorization: 'Basic Y29kZWM6dG9rZW4=' },
      { origin: UI, authorization: 'Bearer wrong-token-0123456789' },
    ];
    for (const op of ['decode', 'encode'] as const) {
      for (const headers of refused) {
        const res = await post(op, headers);
        const text = await res.text();
        expect([op, headers, res.status, text.includes(SECRET_TEXT)]).toEqual([op, headers, 401, false]);
      }
    }
  });

  it('answers 200 with the codec token or the service token', async () => {
    for (const token of [CODEC_TOKEN, TOKEN]) {
      const res = await post('decode', { authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { payloads: Array<{ data: string }> };
      expect(JSON.parse(Buffer.from(body.payloads[0]!.data, 'base64').toString())).toBe(SECRET_TEXT);
    }
    const fromUi = await post('encode', { origin: UI, authorization: `Bearer ${CODEC_TOKEN}` }, { payloads: [{ metadata: {}, data: Buffer.from('1').toString('base64') }] });
    expect([fromUi.status, fromUi.headers.get('access-control-allow-origin')]).toEqual([200, UI]);
  });

  it('answers CORS preflights for the configured UI origin only; another origin is 403 even with the token', async () => {
    const preflight = (headers: Record<string, string>) =>
      fetch(`${service.url}/codec/decode`, { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type', ...headers } });
    const ok = await preflight({ origin: UI });
    expect([ok.status, ok.headers.get('access-control-allow-origin'), ok.headers.get('access-control-allow-headers')]).toEqual([204, UI, 'Content-Type, X-Namespace, Authorization']);
    for (const origin of ['https://evil.example', 'http://127.0.0.1:8234', 'null']) {
      const res = await preflight({ origin });
      expect([origin, res.status, res.headers.get('access-control-allow-origin')]).toEqual([origin, 403, null]);
    }
    // A preflight without an Origin is no browser's: nothing to answer.
    expect((await preflight({})).status).toBe(403);
    const evil = await post('decode', { origin: 'https://evil.example', authorization: `Bearer ${CODEC_TOKEN}` });
    expect([evil.status, evil.headers.get('access-control-allow-origin'), (await evil.text()).includes(SECRET_TEXT)]).toEqual([403, null, false]);
  });

  it('is not mounted at all when no credential is configured', async () => {
    const open = await startService(database.db, { serviceToken: undefined, codec: { codec, allowedOrigins: [UI] } });
    try {
      const res = await fetch(`${open.url}/codec/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sealed) });
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain(SECRET_TEXT);
    } finally {
      await open.close();
    }
  });
});
