import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { simulatorPaths } from '../../src/provider/contract';
import type { RunningSimulator } from '../../src/provider/simulator/index';
import { client, sleep, start } from './simulator-helpers';

const sims: RunningSimulator[] = [];
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.close();
});
async function startSim(options: Parameters<typeof start>[0] = {}): Promise<RunningSimulator> {
  const sim = await start(options);
  sims.push(sim);
  return sim;
}

/** A POST whose connection is destroyed rejects; fetch never sees a status. */
async function expectDropped(promise: Promise<unknown>): Promise<void> {
  await expect(promise).rejects.toThrow(/fetch failed|socket|closed/i);
}

describe('simulator: request faults', () => {
  it('rateLimit: 429 rate_limited with Retry-After on submit and on job GET', async () => {
    const sim = await startSim();
    const api = client(sim);
    const { json } = await api.submit('generate', { prompt: 'a bowl' });
    sim.setFaults({ rateLimit: { probability: 1, retryAfterSeconds: 3 } });
    const submit = await api.submit('generate', { prompt: 'a bowl' });
    expect(submit.res.status).toBe(429);
    expect(submit.res.headers.get('retry-after')).toBe('3');
    expect(submit.json.error.code).toBe('rate_limited');
    const poll = await api.job(json.id);
    expect(poll.res.status).toBe(429);
    expect(poll.res.headers.get('retry-after')).toBe('3');

    sim.setFaults({ rateLimit: { probability: 1, retryAfterSeconds: 5, asHttpDate: true } });
    const dated = await api.submit('generate', { prompt: 'a bowl' });
    const when = Date.parse(dated.res.headers.get('retry-after') ?? '');
    expect(when - Date.now()).toBeGreaterThan(3_000);
    expect(when - Date.now()).toBeLessThanOrEqual(5_000);
    expect(sim.ledger()).toMatchObject({ jobs: 1, rejectedSubmissions: 2 });
    expect(sim.ledger().rejections.map((r) => [r.status, r.code])).toEqual([
      [429, 'rateLimit'],
      [429, 'rateLimit'],
    ]);
  });

  it('serverError: the configured 5xx with internal_error on submit and on job GET', async () => {
    const sim = await startSim();
    const api = client(sim);
    const { json } = await api.submit('generate', { prompt: 'a bowl' });
    sim.setFaults({ serverError: { probability: 1, status: 502 } });
    const submit = await api.submit('generate', { prompt: 'a bowl' });
    expect([submit.res.status, submit.json.error.code]).toEqual([502, 'internal_error']);
    const poll = await api.job(json.id);
    expect(poll.res.status).toBe(502);
  });

  it('dropBeforeAccept: the connection dies and no job exists', async () => {
    const sim = await startSim({ faults: { dropBeforeAccept: 1 } });
    await expectDropped(client(sim).submit('generate', { prompt: 'a bowl' }, { key: 'k1' }));
    expect(sim.ledger()).toMatchObject({ jobs: 0, submissions: 0, rejectedSubmissions: 1, rejections: [{ idempotencyKey: 'k1', status: 0, code: 'dropBeforeAccept' }] });
  });

  it('dropAfterAccept: the job exists and bills although the client got no answer; a retry with the key replays it', async () => {
    const sim = await startSim({ faults: { script: [{ on: 'submit', kind: 'dropAfterAccept' }] } });
    const api = client(sim);
    await expectDropped(api.submit('generate', { prompt: 'a bowl' }, { key: 'k1' }));
    const [entry] = sim.ledger().entries;
    expect(entry).toMatchObject({ idempotencyKey: 'k1' });
    const retry = await api.submit('generate', { prompt: 'a bowl' }, { key: 'k1' });
    expect([retry.res.status, retry.json.id]).toEqual([200, entry!.jobId]);
    const job = await api.settle(entry!.jobId);
    expect(job.billedImages).toBe(1);
    expect(sim.ledger()).toMatchObject({ jobs: 1, replays: 1, billedImages: 1, duplicateSubmissions: 0 });
  });

  it('the same seed makes the same probabilistic decisions', async () => {
    const outcomes = async (seed: number) => {
      const sim = await startSim({ seed, faults: { rateLimit: 0.5 } });
      const api = client(sim);
      const statuses: number[] = [];
      for (let i = 0; i < 16; i++) statuses.push((await api.submit('generate', { prompt: `p${i}` })).res.status);
      return statuses;
    };
    const a = await outcomes(7);
    expect(await outcomes(7)).toEqual(a);
    expect(a).toContain(429);
    expect(a).toContain(202);
    expect(await outcomes(8)).not.toEqual(a);
  });
});

describe('simulator: job faults', () => {
  it('slowJob adds extraMs to the running time', async () => {
    const sim = await startSim({ latencyMs: { min: 10, max: 20 }, faults: { slowJob: { probability: 1, extraMs: 300 } } });
    const job = await client(sim).generate({ prompt: 'slow' });
    expect(Date.parse(job.completedAt!) - Date.parse(job.startedAt!)).toBeGreaterThanOrEqual(300);
  });

  it('stuckJob stays running forever', async () => {
    const sim = await startSim({ latencyMs: { min: 10, max: 20 }, faults: { script: [{ on: 'submit', kind: 'stuckJob' }] } });
    const api = client(sim);
    const { json } = await api.submit('generate', { prompt: 'stuck' });
    const normal = await api.generate({ prompt: 'not stuck' });
    expect(normal.status).toBe('completed');
    await sleep(200);
    expect((await api.job(json.id)).json.status).toBe('running');
    expect(sim.ledger().billedImages).toBe(1);
  });

  it('failJob fails the job with the configured code and bills nothing', async () => {
    const sim = await startSim({ faults: { failJob: { probability: 1, code: 'generation_failed' } } });
    const job = await client(sim).generate({ prompt: 'doomed', numImages: 2 });
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('generation_failed');
    expect(job.output).toEqual([]);
    expect(job.billedImages).toBe(0);
    expect(sim.ledger()).toMatchObject({ jobs: 1, billedImages: 0, costUsd: 0 });
  });

  it('partial delivers fewer images and lists the missing ones as generation_failed', async () => {
    const sim = await startSim({ faults: { partial: 1 } });
    const job = await client(sim).generate({ prompt: 'four', numImages: 4 });
    expect(job.status).toBe('completed');
    const delivered = job.output!.map((o) => o.index);
    const missing = job.imageErrors!.map((e) => e.index);
    expect(delivered.length).toBeGreaterThanOrEqual(1);
    expect(delivered.length).toBeLessThan(4);
    expect([...delivered, ...missing].sort()).toEqual([0, 1, 2, 3]);
    expect(job.imageErrors!.every((e) => e.code === 'generation_failed')).toBe(true);
    expect(job.billedImages).toBe(delivered.length);
    expect(sim.ledger().billedImages).toBe(delivered.length);
  });

  it('rejectOne rejects exactly one output by moderation', async () => {
    const sim = await startSim({ faults: { rejectOne: 1 } });
    const job = await client(sim).generate({ prompt: 'three', numImages: 3 });
    expect(job.output).toHaveLength(2);
    expect(job.imageErrors).toEqual([expect.objectContaining({ code: 'content_rejected' })]);
    expect(job.billedImages).toBe(2);
  });
});

describe('simulator: download faults', () => {
  it('corruptImage serves truncated bytes under an image content type, for that download only', async () => {
    const sim = await startSim();
    const api = client(sim);
    const job = await api.generate({ prompt: 'a plate' });
    sim.setFaults({ corruptImage: 1 });
    const bad = await api.download(job.output![0]!.url);
    expect(bad.res.status).toBe(200);
    expect(bad.res.headers.get('content-type')).toBe('image/jpeg');
    expect(Number(bad.res.headers.get('content-length'))).toBe(bad.bytes.length);
    await expect(sharp(bad.bytes).raw().toBuffer()).rejects.toThrow();
    sim.setFaults({});
    const good = await api.download(job.output![0]!.url);
    expect(good.bytes.length).toBeGreaterThan(bad.bytes.length);
    await expect(sharp(good.bytes).raw().toBuffer()).resolves.toBeInstanceOf(Buffer);
  });

  it('expiredUrl answers 410 url_expired from the first fetch on', async () => {
    const sim = await startSim({ faults: { expiredUrl: 1 } });
    const api = client(sim);
    const job = await api.generate({ prompt: 'a plate' });
    const first = await api.download(job.output![0]!.url);
    expect(first.res.status).toBe(410);
    expect(JSON.parse(first.bytes.toString()).error.code).toBe('url_expired');
    sim.setFaults({});
    expect((await api.download(job.output![0]!.url)).res.status).toBe(410);
  });
});

describe('simulator: fault script and the faults endpoint', () => {
  it('consumes scripted faults in order, each by the next matching operation', async () => {
    const sim = await startSim({
      faults: {
        script: [
          { on: 'poll', kind: 'serverError', status: 503 },
          { on: 'submit', kind: 'rateLimit', retryAfterSeconds: 2 },
          { on: 'submit', kind: 'serverError', status: 500 },
          { on: 'submit', kind: 'failJob', code: 'generation_failed' },
          { on: 'download', kind: 'corruptImage' },
        ],
      },
    });
    const api = client(sim);
    const limited = await api.submit('generate', { prompt: 'x' });
    expect([limited.res.status, limited.res.headers.get('retry-after')]).toEqual([429, '2']);
    expect((await api.submit('generate', { prompt: 'x' })).res.status).toBe(500);
    const failing = await api.submit('generate', { prompt: 'x' });
    expect(failing.res.status).toBe(202);
    expect((await api.job(failing.json.id)).res.status).toBe(503);
    expect((await api.settle(failing.json.id)).error?.code).toBe('generation_failed');
    const ok = await api.generate({ prompt: 'y' });
    expect(ok.status).toBe('completed');
    expect(sim.faults().script).toEqual([{ on: 'download', kind: 'corruptImage' }]);
    const corrupt = await api.download(ok.output![0]!.url);
    await expect(sharp(corrupt.bytes).raw().toBuffer()).rejects.toThrow();
    const clean = await api.download(ok.output![0]!.url);
    await expect(sharp(clean.bytes).raw().toBuffer()).resolves.toBeInstanceOf(Buffer);
    expect(sim.faults().script).toEqual([]);
  });

  it('replaces faults over HTTP, validating them', async () => {
    const sim = await startSim();
    const url = `${sim.url}${simulatorPaths.faults}`;
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post({ rateLimit: { probability: 2 } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('rateLimit.probability');
    expect((await post({ script: [{ on: 'download', kind: 'dropAfterAccept' }] })).status).toBe(400);
    expect((await post({ nonsense: true })).status).toBe(400);

    const ok = await post({ script: [{ on: 'submit', kind: 'rateLimit', retryAfterSeconds: 4 }] });
    expect(ok.status).toBe(200);
    const limited = await client(sim).submit('generate', { prompt: 'x' });
    expect([limited.res.status, limited.res.headers.get('retry-after')]).toEqual([429, '4']);
    const current = (await (await fetch(url)).json()) as { script: unknown[] };
    expect(current.script).toEqual([]);
    expect(() => sim.setFaults({ partial: { probability: -1 } })).toThrow();
  });
});
