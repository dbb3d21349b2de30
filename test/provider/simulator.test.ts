import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { errorBodySchema, jobSchema, ledgerSchema, simulatorPaths, submitResponseSchema } from '../../src/provider/contract';
import type { RunningSimulator } from '../../src/provider/simulator/index';
import { client, sleep, start, type JobBody } from './simulator-helpers';

let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('simulator: auth and validation', () => {
  it('rejects a missing or wrong bearer key with 401, without echoing the key', async () => {
    sim = await start();
    const body = JSON.stringify({ prompt: 'a teapot' });
    const none = await fetch(`${sim.url}/v1/image/seedream-4.5/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(none.status).toBe(401);
    expect(errorBodySchema.parse(await none.json()).error.code).toBe('unauthorized');

    const wrong = await fetch(`${sim.url}/v1/jobs/anything`, { headers: { authorization: 'Bearer secret-wrong-key-123' } });
    expect(wrong.status).toBe(401);
    const text = await wrong.text();
    expect(text).not.toContain('secret-wrong-key-123');
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(sim.ledger().rejectedSubmissions).toBe(1);
    expect(sim.ledger().jobs).toBe(0);
  });

  it('answers 400 invalid_request naming the field and the reason', async () => {
    sim = await start();
    const api = client(sim);
    const cases: Array<[unknown, string, RegExp]> = [
      [{ prompt: '' }, 'prompt', /prompt: .*empty/],
      [{ prompt: 'x', numImages: 0 }, 'numImages', /numImages: /],
      [{ prompt: 'x', imageSize: 'huge' }, 'imageSize', /imageSize/],
      [{ prompt: 'x', imageSize: { width: 100, height: 300 } }, 'imageSize.width', /imageSize.width: .*256/],
      [{ prompt: 'x', imageSize: { width: 300, height: 300 } }, 'imageSize', /imageSize: .*3686400 pixels/],
      [{ prompt: 'x', outputFormat: 'gif' }, 'outputFormat', /outputFormat: /],
      [{ prompt: 'x', seed: 42 }, 'seed', /seed: unknown field/],
    ];
    for (const [body, field, message] of cases) {
      const { res, json } = await api.submit('generate', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = errorBodySchema.parse(json).error;
      expect(err.code).toBe('invalid_request');
      expect(err.field).toBe(field);
      expect(err.message).toMatch(message);
    }
    const refs = await api.submit('compose', { prompt: 'x', imageUrls: ['https://example.com/a.png', 'ftp://example.com/b.png'] });
    expect(refs.res.status).toBe(400);
    expect(refs.json.error.field).toBe('imageUrls.1');

    const malformed = await api.submit('generate', '{"prompt": ');
    expect(malformed.res.status).toBe(400);
    expect(malformed.json.error.code).toBe('invalid_request');

    const empty = await api.submit('generate', '');
    expect(empty.res.status).toBe(400);

    const badKey = await api.submit('generate', { prompt: 'x' }, { key: 'has spaces in it' });
    expect(badKey.res.status).toBe(400);
    expect(badKey.json.error.field).toBe('Idempotency-Key');

    expect(sim.ledger()).toMatchObject({ jobs: 0, submissions: 0, rejectedSubmissions: cases.length + 4 });
  });

  it('answers 404 not_found for another model, an unknown operation, or an unknown job', async () => {
    sim = await start();
    const api = client(sim);
    const other = await api.submit('generate', { prompt: 'x' }, { model: 'seedream-4.0' });
    expect(other.res.status).toBe(404);
    expect(other.json.error.code).toBe('not_found');
    expect((await api.submit('upscale', { prompt: 'x' })).res.status).toBe(404);
    const job = await api.job('job_does_not_exist');
    expect(job.res.status).toBe(404);
    expect(job.json.error?.code).toBe('not_found');
  });
});

describe('simulator: jobs', () => {
  it('runs a job queued -> running -> completed and serves real images of the scaled size', async () => {
    sim = await start({ latencyMs: { min: 150, max: 200 }, outputScale: 0.1 });
    const api = client(sim);
    const { res, json } = await api.submit('generate', { prompt: 'a red teapot', imageSize: 'portrait_4_3', numImages: 2 });
    expect(res.status).toBe(202);
    expect(submitResponseSchema.parse(json).status).toBe('queued');
    expect(res.headers.get('x-simulator')).toBeTruthy();

    const seen: string[] = ['queued'];
    let job: JobBody | undefined;
    for (let i = 0; i < 200 && job?.status !== 'completed'; i++) {
      job = (await api.job(json.id)).json;
      if (seen.at(-1) !== job.status) seen.push(job.status);
      await sleep(10);
    }
    expect(seen).toEqual(['queued', 'running', 'completed']);
    const parsed = jobSchema.parse(job) as unknown as JobBody;
    expect(parsed.billedImages).toBe(2);
    expect(parsed.costUsd).toBe(0.08);
    expect(parsed.output?.map((o) => o.index)).toEqual([0, 1]);

    const bytes: Buffer[] = [];
    for (const out of parsed.output ?? []) {
      // 1728 x 2304 at scale 0.1
      expect([out.width, out.height]).toEqual([173, 230]);
      expect(out.contentType).toBe('image/jpeg');
      expect(Date.parse(out.expiresAt)).toBeGreaterThan(Date.now() + 50 * 60 * 1000);
      const dl = await api.download(out.url);
      expect(dl.res.status).toBe(200);
      expect(dl.res.headers.get('content-type')).toBe('image/jpeg');
      expect(Number(dl.res.headers.get('content-length'))).toBe(dl.bytes.length);
      const meta = await sharp(dl.bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 173, 230]);
      bytes.push(dl.bytes);
    }
    expect(bytes[0]!.equals(bytes[1]!)).toBe(false); // each output of a job is its own picture
  });

  it('renders PNG when asked and honours explicit sizes', async () => {
    sim = await start({ outputScale: 0.05 });
    const api = client(sim);
    const job = await api.generate({ prompt: 'a bottle', outputFormat: 'png', imageSize: { width: 2400, height: 1600 } });
    const out = job.output![0]!;
    expect(out.contentType).toBe('image/png');
    const dl = await api.download(out.url);
    expect(dl.res.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(dl.bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 120, 80]);
  });

  it('is deterministic: the same body gives identical bytes, another prompt different ones', async () => {
    sim = await start();
    const api = client(sim);
    const fetchFirst = async (body: Record<string, unknown>) => (await api.download((await api.generate(body)).output![0]!.url)).bytes;
    const a = await fetchFirst({ prompt: 'green tea tin', quality: 'high' });
    const b = await fetchFirst({ quality: 'high', prompt: 'green tea tin' });
    const c = await fetchFirst({ prompt: 'black tea tin', quality: 'high' });
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    const [pa, pc] = await Promise.all([a, c].map((x) => sharp(x).raw().toBuffer()));
    expect(pa!.equals(pc!)).toBe(false);
  });

  it('expires output URLs after outputUrlTtlMs with 410 url_expired', async () => {
    sim = await start({ outputUrlTtlMs: 500 });
    const api = client(sim);
    const job = await api.generate({ prompt: 'a lamp' });
    const url = job.output![0]!.url;
    expect((await api.download(url)).res.status).toBe(200);
    await sleep(550);
    const late = await api.download(url);
    expect(late.res.status).toBe(410);
    expect(JSON.parse(late.bytes.toString()).error.code).toBe('url_expired');
    const unknown = await api.download(`${sim.url}/files/not-a-token`);
    expect(unknown.res.status).toBe(404);
  });

  it('caps the memory held for outputs, dropping downloaded ones first', async () => {
    const cap = 10_000;
    sim = await start({ outputScale: 0.05, maxStoredOutputBytes: cap });
    const api = client(sim);
    const first = await api.generate({ prompt: 'first batch', numImages: 3 });
    const firstSizes = [];
    for (const o of first.output!) firstSizes.push((await api.download(o.url)).bytes.length);
    const second = await api.generate({ prompt: 'second batch', numImages: 3 });
    const secondSizes = [];
    for (const o of second.output!) {
      const dl = await api.download(o.url);
      expect(dl.res.status).toBe(200);
      secondSizes.push(dl.bytes.length);
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(secondSizes)).toBeLessThan(cap); // preconditions of this test
    expect(sum(firstSizes) + sum(secondSizes)).toBeGreaterThan(cap);
    const evicted = await api.download(first.output![0]!.url);
    expect(evicted.res.status).toBe(410);
  });

  it('rejects a prompt with a blocked term with 422 content_rejected on prompt', async () => {
    sim = await start({ blockedTerms: ['forbidden-word'] });
    const { res, json } = await client(sim).submit('generate', { prompt: 'a FORBIDDEN-WORD poster' }, { key: 'blocked-1' });
    expect(res.status).toBe(422);
    expect(json.error).toMatchObject({ code: 'content_rejected', field: 'prompt' });
    expect(sim.ledger()).toMatchObject({ jobs: 0, rejectedSubmissions: 1, rejections: [{ idempotencyKey: 'blocked-1', status: 422, code: 'content_rejected' }] });
  });

  it('exposes the ledger, health and reset over HTTP', async () => {
    sim = await start();
    const api = client(sim);
    await api.generate({ prompt: 'a mug' });
    const ledger = ledgerSchema.parse(await (await fetch(`${sim.url}${simulatorPaths.ledger}`)).json());
    expect(ledger).toMatchObject({ submissions: 1, jobs: 1, billedImages: 1, costUsd: 0.04 });
    expect(ledger.entries).toEqual([expect.objectContaining({ operation: 'generate', status: 'completed', billedImages: 1, idempotencyKey: null })]);
    const health = await (await fetch(`${sim.url}${simulatorPaths.health}`)).json();
    expect(health).toMatchObject({ ok: true, simulator: true, jobs: { completed: 1 } });
    const reset = await fetch(`${sim.url}${simulatorPaths.reset}`, { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(sim.ledger()).toMatchObject({ submissions: 0, jobs: 0, billedImages: 0, costUsd: 0, entries: [] });
  });
});
