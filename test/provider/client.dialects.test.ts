/**
 * The client against every answer shape the provider is known to use, over real HTTP: the simulator
 * in each dialect and on both route families, plus tiny servers for answers no simulator dialect
 * gives (an unreadable 200 after a submit, an unknown status word).
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProviderClient, type ParsedJob } from '../../src/provider/client';
import { STATUS_SPELLINGS, mapStatus, readErrorAnswer, readProviderAnswer, type ApiStyle } from '../../src/provider/contract';
import { ProviderError } from '../../src/provider/errors';
import { startSimulator, type RunningSimulator } from '../../src/provider/simulator';
import { REALISTIC, realisticLatencyMs } from '../../src/provider/simulator/latency';
import { DIALECTS, type Dialect } from '../../src/provider/simulator/options';
import { createRandom } from '../../src/support/random';

const KEY = 'sim-dialect-key-0123456789';
const STYLES: ApiStyle[] = ['seed', 'tasks'];

async function settle(c: ProviderClient, jobId: string): Promise<{ job: ParsedJob; rawStatuses: Set<string>; shapes: Set<string> }> {
  const rawStatuses = new Set<string>();
  const shapes = new Set<string>();
  for (let i = 0; i < 2_000; i++) {
    const job = await c.getJob(jobId);
    rawStatuses.add(job.rawStatus);
    shapes.add(job.shape);
    expect(job.status).not.toBe('unknown');
    if (job.status === 'completed' || job.status === 'failed') return { job, rawStatuses, shapes };
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`job ${jobId} never finished`);
}

async function expectProviderError(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected a ProviderError');
}

/** A small real image as a data URI, for edit and compose references. */
let reference = '';
beforeAll(async () => {
  const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a6' } }).png().toBuffer();
  reference = `data:image/png;base64,${png.toString('base64')}`;
});

describe.each(DIALECTS.map((d) => [d] as [Dialect]))('dialect %s', (dialect) => {
  let sim: RunningSimulator;
  const clients: ProviderClient[] = [];
  beforeAll(async () => {
    sim = await startSimulator({ apiKey: KEY, dialect, latencyMs: { min: 20, max: 60 }, outputScale: 0.03, seed: 3 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.close();
  });
  const client = (apiStyle: ApiStyle) => {
    const c = new ProviderClient({ baseUrl: sim.url, apiKey: KEY, apiStyle, timeouts: { connectMs: 2_000, requestMs: 5_000, downloadMs: 5_000 } });
    clients.push(c);
    return c;
  };

  it.each(STYLES)('%s style: generate, poll to completed, read every output and download it', async (style) => {
    const c = client(style);
    const submitted = await c.generate({ prompt: `two bottles ${dialect} ${style}`, numImages: 2 }, { idempotencyKey: `gen-${dialect}-${style}` });
    expect(submitted.jobId).toMatch(/\S/);
    expect(submitted.status).not.toBe('unknown');
    const { job } = await settle(c, submitted.jobId);
    expect(job.status).toBe('completed');
    expect(job.outputs.map((o) => o.index)).toEqual([0, 1]);
    expect(job.imageOutcomes.map((o) => o.outcome)).toEqual(['delivered', 'delivered']);
    expect(job.costUsd).toBe(0.08);
    if (job.shape.startsWith('tasks')) expect(job.providerCostUsd).toBe(0.08);
    for (const out of job.outputs) {
      const dl = await c.download(out.url);
      expect(dl.contentType).toMatch(/^image\//);
      expect((await sharp(dl.bytes).metadata()).width).toBeGreaterThan(0);
    }
  });

  it.each(STYLES)('%s style: edit and compose send their references and complete', async (style) => {
    const c = client(style);
    const edit = await c.edit({ prompt: 'refresh the label', imageUrl: reference }, { idempotencyKey: `edit-${dialect}-${style}` });
    const compose = await c.compose({ prompt: 'bottle on a table', imageUrls: [reference, reference] }, { idempotencyKey: `compose-${dialect}-${style}` });
    for (const id of [edit.jobId, compose.jobId]) {
      const { job } = await settle(c, id);
      expect([job.status, job.outputs.length]).toEqual(['completed', 1]);
    }
  });

  it.each(STYLES)('%s style: a failed job reads as failed with its error, string or object', async (style) => {
    const c = client(style);
    sim.setFaults({ script: [{ kind: 'failJob', code: 'content_rejected' }] });
    const rejected = await c.generate({ prompt: `rejected ${dialect} ${style}` }, { idempotencyKey: `fail-${dialect}-${style}` });
    const { job } = await settle(c, rejected.jobId);
    expect(job.status).toBe('failed');
    expect(job.outputs).toEqual([]);
    // A string error names no code; its wording (moderation) still tells a rejection from a failure.
    expect(job.error?.code).toBe('content_rejected');
    expect(job.error?.message).toMatch(/moderation/);
    expect(job.imageOutcomes).toEqual([{ index: 0, outcome: 'rejected', code: 'content_rejected', message: job.error!.message }]);
    sim.setFaults({ script: [{ kind: 'failJob', code: 'generation_failed' }] });
    const failed = await c.generate({ prompt: `failed ${dialect} ${style}` }, { idempotencyKey: `fail2-${dialect}-${style}` });
    expect((await settle(c, failed.jobId)).job.error?.code).toMatch(/generation_failed/);
    sim.setFaults({});
  });

  it.each(STYLES)('%s style: an HTTP error is classified with its Retry-After, in any error body', async (style) => {
    const c = client(style);
    sim.setFaults({ script: [{ kind: 'rateLimit', on: 'submit', retryAfterSeconds: 7 }] });
    const limited = await expectProviderError(c.generate({ prompt: 'limited' }, { idempotencyKey: `rl-${dialect}-${style}` }));
    expect([limited.kind, limited.sent, limited.retryAfterMs]).toEqual(['rate_limited', 'yes', 7_000]);
    const missing = await expectProviderError(c.getJob('job_does_not_exist'));
    expect([missing.kind, missing.status]).toEqual(['not_found', 404]);
    sim.setFaults({});
  });

  it('the ledger bills what was delivered, and the amount the answers reported agrees to the cent', () => {
    const ledger = sim.ledger();
    expect(ledger.duplicateSubmissions).toBe(0);
    expect(ledger.reportedAmountUsd).toBe(ledger.costUsd);
    expect(ledger.costUsd).toBe(Math.round(ledger.billedImages * 4) / 100);
  });
});

describe('status spellings and answer shapes', () => {
  it('maps every written spelling, in any case, and nothing else', () => {
    for (const [status, words] of Object.entries(STATUS_SPELLINGS)) {
      for (const w of words) {
        expect(mapStatus(w).status).toBe(status);
        expect(mapStatus(w.toUpperCase()).status).toBe(status);
      }
    }
    for (const raw of ['exploded', '', 'done?', 42, null, undefined, { status: 'completed' }]) {
      expect(mapStatus(raw).status).toBe('unknown');
    }
    expect(mapStatus('In Progress')).toEqual({ status: 'running', rawStatus: 'In Progress' });
  });

  it('the mixed dialect answers in several shapes and spellings, all read', async () => {
    const sim = await startSimulator({ apiKey: KEY, dialect: 'mixed', latencyMs: { min: 80, max: 120 }, outputScale: 0.03, seed: 9 });
    const c = new ProviderClient({ baseUrl: sim.url, apiKey: KEY });
    try {
      const spellings = new Set<string>();
      const shapes = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const s = await c.generate({ prompt: `mixed ${i}` }, { idempotencyKey: `mixed-${i}` });
        shapes.add(s.shape!);
        const settled = await settle(c, s.jobId);
        const { job } = settled;
        settled.rawStatuses.forEach((r) => spellings.add(r));
        settled.shapes.forEach((r) => shapes.add(r));
        expect([job.status, job.outputs.length]).toEqual(['completed', 1]);
      }
      expect(spellings.size).toBeGreaterThan(4);
      expect(shapes.size).toBeGreaterThan(2);
    } finally {
      await c.close();
      await sim.close();
    }
  });

  it('reads ids, outputs, errors and costs from every documented shape', () => {
    const wrapped = readProviderAnswer({ code: 0, data: { task_id: 't1', status: 'succeeded', url: 'https://cdn.example/1.jpg', amount_usd: '0.04' } });
    expect(wrapped).toMatchObject({ shape: 'tasks-wrapped', jobId: 't1', status: 'completed', outputs: [{ index: 0, url: 'https://cdn.example/1.jpg' }], providerCostUsd: 0.04 });
    const flat = readProviderAnswer({ id: 'req-9', task_id: 't2', status: 'error', progress: 100, results: [], error: { message: 'prompt flagged as sensitive' } });
    expect(flat).toMatchObject({ shape: 'tasks-flat', jobId: 't2', status: 'failed', error: { code: 'content_rejected' } });
    const nested = readProviderAnswer({ code: 0, data: { task_id: 't3', status: 'failed', error: { message: 'upstream timeout' } } });
    expect(nested?.error).toEqual({ code: 'generation_failed', message: 'upstream timeout' });
    const list = readProviderAnswer({ data: [{ url: 'https://cdn.example/a.jpg' }, { url: 'https://cdn.example/b.jpg' }], id: 'x', status: 'completed' });
    expect(list?.outputs.map((o) => o.index)).toEqual([0, 1]);
    const numeric = readProviderAnswer({ id: 1234, status: 'SUCCESS', output: [{ url: 'https://cdn.example/z.jpg' }, { url: 'not a url' }] });
    expect(numeric).toMatchObject({ jobId: '1234', status: 'completed', outputs: [{ index: 0 }] });
    expect(readProviderAnswer([1, 2])).toBeUndefined();
    expect(readErrorAnswer({ error: 'bad key' })).toEqual({ message: 'bad key' });
    expect(readErrorAnswer({ code: 400, message: 'bad size', data: null })).toEqual({ message: 'bad size' });
    expect(readErrorAnswer({ error: { message: 'size', type: 'invalid_request', param: 'size' } })).toEqual({ message: 'size', code: 'invalid_request', field: 'size' });
  });
});

describe('wire format of the two styles', () => {
  let srv: http.Server;
  let url = '';
  const seen: Array<{ method: string; url: string; body: unknown }> = [];
  let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => undefined;
  beforeAll(async () => {
    srv = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        seen.push({ method: req.method ?? '', url: req.url ?? '', body: text ? JSON.parse(text) : undefined });
        answer(req, res);
      });
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    seen.length = 0;
  });
  afterAll(async () => {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  });
  const send = (status: number, body: string) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };

  it('tasks style posts to the unified route with the model and snake_case fields, and polls the task route', async () => {
    answer = send(200, JSON.stringify({ code: 0, data: { task_id: 'task-7', status: 'pending' } }));
    const c = new ProviderClient({ baseUrl: url, apiKey: KEY, apiStyle: 'tasks' });
    const gen = await c.generate({ prompt: 'p', imageSize: 'portrait_4_3', numImages: 2 }, { idempotencyKey: 'k1' });
    expect(gen).toMatchObject({ jobId: 'task-7', status: 'queued', rawStatus: 'pending', shape: 'tasks-wrapped', replayed: false });
    await c.edit({ prompt: 'p', imageUrl: 'https://img.example/a.png' }, { idempotencyKey: 'k2' });
    await c.compose({ prompt: 'p', imageUrls: ['https://img.example/a.png', 'https://img.example/b.png'] }, { idempotencyKey: 'k3' });
    await c.getJob('task-7');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /v1/images/generations',
      'POST /v1/images/generations',
      'POST /v1/images/generations',
      'GET /v1/images/generations/task-7',
    ]);
    expect(seen[0]!.body).toEqual({ model: 'seedream-4.5', prompt: 'p', size: '1728x2304', n: 2, response_format: 'url', watermark: false });
    expect(seen[1]!.body).toMatchObject({ image: 'https://img.example/a.png' });
    expect(seen[2]!.body).toMatchObject({ images: ['https://img.example/a.png', 'https://img.example/b.png'] });
    await c.close();
  });

  it('seed style keeps the vendor routes and camelCase fields', async () => {
    answer = send(202, JSON.stringify({ id: 'job-1', status: 'queued' }));
    const c = new ProviderClient({ baseUrl: url, apiKey: KEY });
    expect((await c.generate({ prompt: 'p' }, { idempotencyKey: 'k' })).jobId).toBe('job-1');
    expect(seen[0]!.url).toBe('/v1/image/seedream-4.5/generate');
    expect(seen[0]!.body).toMatchObject({ prompt: 'p', imageSize: 'square_hd', numImages: 1, outputFormat: 'jpeg', quality: 'high' });
    await c.close();
  });

  it.each(STYLES)('%s style: an unreadable 200 after a submit is ambiguous money (sent maybe), never a plain failure', async (style) => {
    const c = new ProviderClient({ baseUrl: url, apiKey: KEY, apiStyle: style });
    for (const body of ['<html>502 Bad Gateway</html>', '{"code":0,"data":{"status":"pending"}}', '{"success":false,"message":"try later"}', '[]']) {
      answer = send(200, body);
      const err = await expectProviderError(c.generate({ prompt: 'p' }, { idempotencyKey: 'k' }));
      expect([err.kind, err.sent]).toEqual(['invalid_response', 'maybe']);
    }
    // A refusal is not ambiguous.
    answer = send(503, '{"error":"overloaded"}');
    const refused = await expectProviderError(c.generate({ prompt: 'p' }, { idempotencyKey: 'k' }));
    expect([refused.kind, refused.sent]).toEqual(['unavailable', 'yes']);
    await c.close();
  });

  it('an unknown status word is reported raw, not terminal, never completed', async () => {
    answer = send(200, JSON.stringify({ task_id: 'j', status: 'moderating', results: [{ url: 'https://cdn.example/a.jpg' }] }));
    const c = new ProviderClient({ baseUrl: url, apiKey: KEY, apiStyle: 'tasks' });
    const job = await c.getJob('j');
    expect([job.status, job.rawStatus, job.imageOutcomes, job.costUsd]).toEqual(['unknown', 'moderating', [], undefined]);
    await c.close();
  });
});

describe('simulator: idempotency, balance and latency', () => {
  it('with ignoreIdempotency a repeated key bills a second job; by default it replays', async () => {
    for (const ignoreIdempotency of [false, true]) {
      const sim = await startSimulator({ apiKey: KEY, ignoreIdempotency, latencyMs: { min: 5, max: 10 }, outputScale: 0.03 });
      const c = new ProviderClient({ baseUrl: sim.url, apiKey: KEY });
      const a = await c.generate({ prompt: 'same' }, { idempotencyKey: 'same-key' });
      const b = await c.generate({ prompt: 'same' }, { idempotencyKey: 'same-key' });
      await settle(c, a.jobId);
      await settle(c, b.jobId);
      expect(a.jobId === b.jobId).toBe(!ignoreIdempotency);
      expect(b.replayed).toBe(!ignoreIdempotency);
      expect(sim.ledger()).toMatchObject({ jobs: ignoreIdempotency ? 2 : 1, duplicateSubmissions: ignoreIdempotency ? 1 : 0 });
      await c.close();
      await sim.close();
    }
  });

  it('serves the balance endpoint in its documented shape, authenticated', async () => {
    const sim = await startSimulator({ apiKey: KEY, creditUsd: 1, latencyMs: { min: 5, max: 10 }, outputScale: 0.03 });
    const c = new ProviderClient({ baseUrl: sim.url, apiKey: KEY });
    const job = await c.generate({ prompt: 'one' }, { idempotencyKey: 'bal' });
    await settle(c, job.jobId);
    const balance = await c.balance();
    expect(balance).toMatchObject({ balanceUsd: 0.96, usedAmountUsd: 0.04, raw: { success: true, data: { object: 'user_balance' } } });
    const wrong = new ProviderClient({ baseUrl: sim.url, apiKey: 'not-the-key-at-all' });
    expect((await expectProviderError(wrong.balance())).kind).toBe('unauthorized');
    await wrong.close();
    await c.close();
    await sim.close();
  });

  it('the realistic profile is right-skewed: median ~22 s, p95 ~45 s, a few % slow outliers', () => {
    const random = createRandom(42);
    const draws = Array.from({ length: 20_000 }, () => realisticLatencyMs(random)).sort((a, b) => a - b);
    const at = (q: number) => draws[Math.floor(q * (draws.length - 1))]!;
    expect(at(0.5)).toBeGreaterThan(20_500);
    expect(at(0.5)).toBeLessThan(23_500);
    expect(at(0.95)).toBeGreaterThan(41_000);
    expect(at(0.95)).toBeLessThan(49_000);
    const slow = draws.filter((d) => d > 60_000).length / draws.length;
    expect(slow).toBeGreaterThan(0.01);
    expect(slow).toBeLessThan(0.05);
    expect(draws[0]).toBeGreaterThanOrEqual(REALISTIC.minMs);
    const mean = draws.reduce((s, d) => s + d, 0) / draws.length;
    expect(mean).toBeGreaterThan(at(0.5)); // skewed right
  });

  it('the realistic profile at a compressed time scale runs jobs in a fraction of that', async () => {
    const sim = await startSimulator({ apiKey: KEY, latencyProfile: 'realistic', timeScale: 0.005, outputScale: 0.03, maxRunning: 16 });
    const c = new ProviderClient({ baseUrl: sim.url, apiKey: KEY });
    const jobs = await Promise.all(Array.from({ length: 8 }, (_, i) => c.generate({ prompt: `r${i}` }, { idempotencyKey: `r-${i}` })));
    const done = await Promise.all(jobs.map((j) => settle(c, j.jobId)));
    expect(done.every((d) => d.job.status === 'completed')).toBe(true);
    await c.close();
    await sim.close();
  });
});
