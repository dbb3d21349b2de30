/**
 * Optional payload encryption: with TEMPORAL_PAYLOAD_KEY set, prompts and product data are not stored
 * in clear in Temporal. The codec (AES-256-GCM) round-trips, refuses altered data and unknown keys,
 * and passes unencrypted payloads through; a product plan run with it leaves no product attribute and
 * no rendered prompt in its history while the result still decodes; the `worker` command and the
 * configuration wire it; and the codec endpoint Temporal UI calls decodes a history's payloads, with
 * CORS for the UI's origin only.
 */
import { randomBytes } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import proto from '@temporalio/proto';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';
import { redact } from '../../src/config/redact';
import { createPayloadCodec, ENCRYPTED_ENCODING, METADATA_KEY_ID, PayloadCodecError, payloadCodecFromConfig } from '../../src/temporal/client/codec';
import { registerCodecRoutes } from '../../src/temporal/client/codecRoutes';
import { dataConverterFor } from '../../src/temporal/client/connection';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';
import { killAllWorkers, spawnWorker, waitReady } from '../helpers/workerProcess';
import { recordFigures, type Figure } from './figures';

const { History } = proto.temporal.api.history.v1;
type History = proto.temporal.api.history.v1.IHistory;
const KEY_B64 = randomBytes(32).toString('base64');
const UI = 'http://127.0.0.1:8233';
/** Product data only this test uses: any trace of it in a history is a leak. */
const BRAND = 'Quillfeather-Zyx';
const NAME = 'Moonlit Serum 7f3a';
const LABEL = 'Moonlit 30 ml qx9';

const json = (v: unknown): Payload => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(v)) });
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const toWire = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

function binary(h: History): Buffer {
  return Buffer.from(History.encode(History.fromObject(h)).finish());
}

/**
 * Every payload in a history (inputs, results, summaries...), found by walking the decoded object;
 * search attributes aside (Temporal indexes them, so they are never encoded: catalog, SKU, slots,
 * trigger and outcome are visible by design).
 */
function payloadsOf(node: unknown, out: Payload[] = []): Payload[] {
  if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'data' in o && !Array.isArray(o.metadata)) out.push(o);
    else if (typeof o.markerName === 'string') {
      // Markers (local activities, patches) carry the SDK's own bookkeeping (activity type, sequence
      // number, patch id) outside the data converter; only a local activity's result is user data.
      // The byte search over the whole history still covers the bookkeeping.
      const details = (o.details ?? {}) as Record<string, unknown>;
      if (details.result) payloadsOf(details.result, out);
    } else for (const [k, v] of Array.isArray(node) ? node.entries() : Object.entries(o)) if (k !== 'searchAttributes') payloadsOf(v, out);
  }
  return out;
}

describe('payload encryption', () => {
  const figures: Figure[] = [];
  afterAll(() => {
    if (figures.length) recordFigures('codec', figures);
  });

  describe('the codec', () => {
    const codec = createPayloadCodec(KEY_B64, { keyId: 'k1' });

    it('round-trips, seals the original metadata too, and uses a fresh IV each time', async () => {
      const original = [json({ prompt: `Studio photo of ${BRAND}` }), { metadata: { encoding: Buffer.from('binary/null') } }];
      const sealed = await codec.encode(original);
      expect(sealed.map((p) => [text(p.metadata?.encoding), text(p.metadata?.[METADATA_KEY_ID])])).toEqual([
        [ENCRYPTED_ENCODING, 'k1'],
        [ENCRYPTED_ENCODING, 'k1'],
      ]);
      expect(Buffer.concat(sealed.map((p) => Buffer.from(p.data!))).includes(BRAND)).toBe(false);
      const again = await codec.encode(original);
      expect(Buffer.from(again[0]!.data!).equals(Buffer.from(sealed[0]!.data!))).toBe(false);
      const opened = await codec.decode(sealed);
      expect(opened.map((p) => [text(p.metadata?.encoding), text(p.data)])).toEqual([
        ['json/plain', JSON.stringify({ prompt: `Studio photo of ${BRAND}` })],
        ['binary/null', ''],
      ]);
    });

    it('refuses altered data, another key, an unknown key id; passes unencrypted payloads through', async () => {
      const [sealed] = await codec.encode([json('x')]);
      const tampered = { ...sealed!, data: Buffer.from(sealed!.data!).map((b, i) => (i === 20 ? b ^ 1 : b)) };
      await expect(codec.decode([tampered])).rejects.toThrow(PayloadCodecError);
      const otherKey = createPayloadCodec(randomBytes(32), { keyId: 'k1' });
      await expect(otherKey.decode([sealed!])).rejects.toThrow(/failed authentication/);
      const otherId = createPayloadCodec(KEY_B64, { keyId: 'k2' });
      await expect(otherId.decode([sealed!])).rejects.toThrow(/key id "k1", which this process does not have/);
      // Rotation: a new key encrypts, the old one still decrypts.
      const rotated = createPayloadCodec(randomBytes(32), { keyId: 'k2', decryptOnly: [{ keyId: 'k1', key: Buffer.from(KEY_B64, 'base64') }] });
      expect(text((await rotated.decode([sealed!]))[0]!.data)).toBe('"x"');
      const plain = json({ clear: true });
      expect(await codec.decode([plain])).toEqual([plain]);
      expect(() => createPayloadCodec(randomBytes(16))).toThrow(/32 bytes/);
      // No error message carries key material.
      for (const err of [await codec.decode([tampered]).catch((e: Error) => e), await otherId.decode([sealed!]).catch((e: Error) => e)]) {
        expect(err).toBeInstanceOf(PayloadCodecError);
        expect((err as Error).message).not.toContain(KEY_B64);
      }
    });

    it('is configured by TEMPORAL_PAYLOAD_KEY (and _ID), validated with a clear message, and redacted', () => {
      expect(loadConfig({}).temporal.payloadKey).toBeUndefined();
      expect(dataConverterFor(loadConfig({}))).toBeUndefined();
      const c = loadConfig({ TEMPORAL_PAYLOAD_KEY: KEY_B64, TEMPORAL_PAYLOAD_KEY_ID: '2026-11' });
      expect(c.temporal.payloadKey?.keyId).toBe('2026-11');
      expect(c.temporal.payloadKey?.key.equals(Buffer.from(KEY_B64, 'base64'))).toBe(true);
      expect(payloadCodecFromConfig(c)?.keyId).toBe('2026-11');
      expect(dataConverterFor(c)?.payloadCodecs).toHaveLength(1);
      // Default id: derived from the key, the same in every process with that key, different for another key.
      const derived = loadConfig({ TEMPORAL_PAYLOAD_KEY: KEY_B64 }).temporal.payloadKey!.keyId;
      expect(derived).toMatch(/^k-[0-9a-f]{12}$/);
      expect(loadConfig({ TEMPORAL_PAYLOAD_KEY: KEY_B64 }).temporal.payloadKey!.keyId).toBe(derived);
      expect(loadConfig({ TEMPORAL_PAYLOAD_KEY: randomBytes(32).toString('base64url') }).temporal.payloadKey!.keyId).not.toBe(derived);

      const short = randomBytes(16).toString('base64');
      for (const bad of [short, 'not base64 at all!', `${KEY_B64}AAAA`]) {
        let err: unknown;
        try {
          loadConfig({ TEMPORAL_PAYLOAD_KEY: bad });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ConfigError);
        expect(String(err)).toMatch(/TEMPORAL_PAYLOAD_KEY: must be 32 random bytes, base64-encoded \(generate one with: openssl rand -base64 32\)/);
        expect(String(err)).not.toContain(bad);
      }
      expect(() => loadConfig({ TEMPORAL_PAYLOAD_KEY_ID: 'k1' })).toThrow(/TEMPORAL_PAYLOAD_KEY_ID: names the payload encryption key, so it needs TEMPORAL_PAYLOAD_KEY too/);
      expect(() => loadConfig({ TEMPORAL_PAYLOAD_KEY: KEY_B64, TEMPORAL_PAYLOAD_KEY_ID: 'has spaces' })).toThrow(/TEMPORAL_PAYLOAD_KEY_ID: a key name/);
      expect(redact(`key=${KEY_B64}`)).toBe('key=[REDACTED]');
    });
  });

  describe('with a product plan', () => {
    let stack: TestStack;
    const codec = createPayloadCodec(KEY_B64, { keyId: 'rel-2026' });

    beforeAll(async () => {
      stack = await startTestStack({ dataConverter: { payloadCodecs: [codec] } });
      await stack.addProducts('rel-codec', [
        { sku: 'ENC-1', attributes: sampleAttributes(stack, 'ENC-1', { brand: BRAND, name: NAME, labelText: LABEL }) },
        { sku: 'ENC-2', attributes: sampleAttributes(stack, 'ENC-2', { brand: BRAND, name: NAME, labelText: LABEL }) },
      ]);
    }, 120_000);
    afterAll(async () => {
      await killAllWorkers();
      await stack?.close();
    });

    async function runAndCheck(sku: string, keyId: string): Promise<{ history: History; payloads: number }> {
      const { workflowId } = await stack.trigger({ catalogId: 'rel-codec', sku, trigger: 'manual' });
      const handle = stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId);
      const result = await handle.result();
      // The client decodes: the result is there in clear for whoever holds the key.
      expect(result.slots.map((s) => s.outcome)).toEqual(['generated', 'generated', 'generated']);
      expect(result.sku).toBe(sku);
      const history = await handle.fetchHistory();
      const bytes = binary(history);
      // Nothing of the product's data, nor of the prompts rendered from it, is stored in clear.
      for (const secret of [BRAND, NAME, LABEL, 'Studio product photograph', 'Change only the text', 'Lifestyle photograph', 'frosted glass', 'packshot-']) {
        expect([secret, bytes.includes(secret)]).toEqual([secret, false]);
      }
      const payloads = payloadsOf(history);
      expect(payloads.length).toBeGreaterThan(20);
      expect(payloads.filter((p) => text(p.metadata?.encoding) !== ENCRYPTED_ENCODING || text(p.metadata?.[METADATA_KEY_ID]) !== keyId)).toEqual([]);
      return { history, payloads: payloads.length };
    }

    it('stores every payload of the run encrypted; the result still decodes; /decode shows it in clear', { timeout: 90_000 }, async () => {
      const { history, payloads } = await runAndCheck('ENC-1', 'rel-2026');

      // Temporal UI's codec server: /decode of the history's payloads gives them back in clear.
      const app = Fastify();
      const CODEC_TOKEN = 'codec-token-0123456789';
      const bearer = { authorization: `Bearer ${CODEC_TOKEN}` };
      registerCodecRoutes(app, { codec, allowedOrigins: [`${UI}/namespaces/default/workflows`], tokens: [CODEC_TOKEN] });
      try {
        const all = payloadsOf(history).map(toWire);
        const res = await app.inject({ method: 'POST', url: '/codec/decode', headers: { origin: UI, 'content-type': 'application/json', 'x-namespace': 'default', ...bearer }, payload: { payloads: all } });
        expect(res.statusCode).toBe(200);
        expect(res.headers['access-control-allow-origin']).toBe(UI);
        const decoded = res.json<{ payloads: Array<{ metadata: Record<string, string>; data: string }> }>().payloads;
        expect(decoded).toHaveLength(all.length);
        const clear = decoded.map((p) => Buffer.from(p.data, 'base64').toString('utf8')).join('\n');
        expect(clear).toContain(`Studio product photograph of ${BRAND} ${NAME}`);
        expect(clear).toContain(LABEL);
        expect(decoded.every((p) => Buffer.from(p.metadata.encoding ?? '', 'base64').toString() !== ENCRYPTED_ENCODING)).toBe(true);

        // /encode then /decode: the same payload.
        const enc = await app.inject({ method: 'POST', url: '/codec/encode', headers: { 'content-type': 'application/json', ...bearer }, payload: { payloads: [toWire(json({ a: 1 }))] } });
        const back = await app.inject({ method: 'POST', url: '/codec/decode', headers: { 'content-type': 'application/json', ...bearer }, payload: enc.json() });
        expect(Buffer.from(back.json<{ payloads: Array<{ data: string }> }>().payloads[0]!.data, 'base64').toString()).toBe('{"a":1}');

        // CORS: the UI's origin is answered, any other is refused; bad input is a 400, never a 500.
        const preflight = await app.inject({ method: 'OPTIONS', url: '/codec/decode', headers: { origin: UI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
        expect([preflight.statusCode, preflight.headers['access-control-allow-origin'], preflight.headers['access-control-allow-methods']]).toEqual([204, UI, 'POST, OPTIONS']);
        expect(String(preflight.headers['access-control-allow-headers'])).toMatch(/X-Namespace/);
        const evil = { origin: 'https://evil.example', 'content-type': 'application/json', ...bearer };
        expect((await app.inject({ method: 'OPTIONS', url: '/codec/decode', headers: { origin: evil.origin, 'access-control-request-method': 'POST' } })).statusCode).toBe(403);
        const refused = await app.inject({ method: 'POST', url: '/codec/decode', headers: evil, payload: { payloads: all.slice(0, 1) } });
        expect([refused.statusCode, refused.headers['access-control-allow-origin'], refused.body.includes(BRAND)]).toEqual([403, undefined, false]);
        expect((await app.inject({ method: 'POST', url: '/codec/decode', headers: { 'content-type': 'application/json', ...bearer }, payload: { payloads: 'x' } })).statusCode).toBe(400);
        const foreign = await createPayloadCodec(randomBytes(32), { keyId: 'other' }).encode([json(1)]);
        const wrongKey = await app.inject({ method: 'POST', url: '/codec/decode', headers: { 'content-type': 'application/json', ...bearer }, payload: { payloads: foreign.map(toWire) } });
        expect([wrongKey.statusCode, wrongKey.json<{ error: string }>().error]).toEqual([400, 'codec_error']);
      } finally {
        await app.close();
      }

      // Only a bearer of a configured token may decode, with or without an Origin; there is no open mode.
      const locked = Fastify();
      registerCodecRoutes(locked, { codec, allowedOrigins: [UI], tokens: [undefined, 'codec-token-0123456789'] });
      try {
        const body = { payloads: payloadsOf(history).slice(0, 1).map(toWire) };
        for (const headers of [{}, { origin: UI }, { authorization: 'Bearer codec-token-012345678' }, { authorization: 'codec-token-0123456789' }]) {
          const r = await locked.inject({ method: 'POST', url: '/codec/decode', headers: { 'content-type': 'application/json', ...headers }, payload: body });
          expect([headers, r.statusCode, r.body.includes(BRAND)]).toEqual([headers, 401, false]);
        }
        expect((await locked.inject({ method: 'POST', url: '/codec/decode', headers: { 'content-type': 'application/json', authorization: 'Bearer codec-token-0123456789' }, payload: body })).statusCode).toBe(200);
      } finally {
        await locked.close();
      }
      expect(() => registerCodecRoutes(Fastify(), { codec, allowedOrigins: [UI], tokens: [undefined, ''] })).toThrow(/needs a credential/);
      figures.push({
        fault: 'payload encryption: product data and rendered prompts in a history, with TEMPORAL_PAYLOAD_KEY set',
        tried: `1 product plan, ${payloads} payloads (inputs, results, summaries)`,
        lost: '0 in clear (all AES-256-GCM, key id recorded); result decoded by the client; /codec/decode gives them back only to a bearer of the codec or service token, CORS for the UI origin only',
      });
    });

    it('is wired by the worker command from TEMPORAL_PAYLOAD_KEY', { timeout: 90_000 }, async () => {
      await stack.stopWorkers();
      const worker = spawnWorker(stack, { env: { TEMPORAL_PAYLOAD_KEY: KEY_B64, TEMPORAL_PAYLOAD_KEY_ID: 'rel-2026' } });
      await waitReady(worker);
      expect(worker.output()).toContain('"payloadEncryption":"rel-2026"');
      await runAndCheck('ENC-2', 'rel-2026');
      figures.push({ fault: 'payload encryption through the `worker` command (configuration wiring)', tried: '1 product plan in a worker process', lost: '0 payloads in clear' });
    });
  });
});
