import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../src/provider/simulator/index';
import { client, sleep, start } from './simulator-helpers';

let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('simulator: idempotency and billing', () => {
  it('answers a repeated Idempotency-Key with the same job, counted as a replay and billed once', async () => {
    sim = await start();
    const api = client(sim);
    const first = await api.submit('generate', { prompt: 'a kettle', numImages: 2 }, { key: 'sku-1:hero:v1' });
    expect(first.res.status).toBe(202);
    // Same meaning, different key order and an explicit default: still the same body.
    const again = await api.submit('generate', { numImages: 2, prompt: 'a kettle', outputFormat: 'jpeg' }, { key: 'sku-1:hero:v1' });
    expect(again.res.status).toBe(200);
    expect(again.json.id).toBe(first.json.id);
    expect(again.res.headers.get('idempotent-replayed')).toBe('true');
    await api.settle(first.json.id);
    const late = await api.submit('generate', { prompt: 'a kettle', numImages: 2 }, { key: 'sku-1:hero:v1' });
    expect([late.res.status, late.json.id, late.json.status]).toEqual([200, first.json.id, 'completed']);

    const conflict = await api.submit('generate', { prompt: 'a different kettle', numImages: 2 }, { key: 'sku-1:hero:v1' });
    expect(conflict.res.status).toBe(409);
    expect(conflict.json.error.code).toBe('idempotency_conflict');
    const otherOp = await api.submit('edit', { prompt: 'a kettle', numImages: 2, imageUrl: 'https://example.com/a.png' }, { key: 'sku-1:hero:v1' });
    expect(otherOp.res.status).toBe(409);

    expect(sim.ledger()).toMatchObject({
      submissions: 3,
      jobs: 1,
      replays: 2,
      billedImages: 2,
      costUsd: 0.08,
      duplicateSubmissions: 0,
      identicalBodiesBilled: 0,
      rejectedSubmissions: 2,
    });
  });

  it('creates a new job for every submit without a key, and flags identical paid bodies', async () => {
    sim = await start();
    const api = client(sim);
    const a = await api.generate({ prompt: 'a cup' });
    const b = await api.generate({ prompt: 'a cup' });
    expect(a.id).not.toBe(b.id);
    await api.generate({ prompt: 'a cup' }, 'key-a');
    expect(sim.ledger()).toMatchObject({ jobs: 3, billedImages: 3, duplicateSubmissions: 1, identicalBodiesBilled: 2, costUsd: 0.12 });
  });

  it('detects a double payment when the provider forgets idempotency keys', async () => {
    sim = await start({ faults: { forgetIdempotencyKeys: true } });
    const api = client(sim);
    const one = await api.generate({ prompt: 'a vase' }, 'sku-9:hero');
    const two = await api.generate({ prompt: 'a vase' }, 'sku-9:hero');
    expect(two.id).not.toBe(one.id);
    const ledger = sim.ledger();
    expect(ledger).toMatchObject({ jobs: 2, replays: 0, billedImages: 2, duplicateSubmissions: 1, identicalBodiesBilled: 1, costUsd: 0.08 });
    expect(ledger.entries.map((e) => e.idempotencyKey)).toEqual(['sku-9:hero', 'sku-9:hero']);
    expect(new Set(ledger.entries.map((e) => e.bodyHash)).size).toBe(1);
  });

  it('bills only delivered images: partial and rejectOne', async () => {
    sim = await start({
      faults: {
        script: [
          { on: 'submit', kind: 'partial', delivered: 2 },
          { on: 'submit', kind: 'rejectOne', index: 1 },
          { on: 'submit', kind: 'rejectOne' },
        ],
      },
    });
    const api = client(sim);
    const partial = await api.generate({ prompt: 'three shots', numImages: 3 });
    expect(partial.status).toBe('completed');
    expect(partial.output!.map((o) => o.index)).toEqual([0, 1]);
    expect(partial.imageErrors).toEqual([expect.objectContaining({ index: 2, code: 'generation_failed' })]);
    expect([partial.billedImages, partial.costUsd]).toEqual([2, 0.08]);

    const rejected = await api.generate({ prompt: 'three more shots', numImages: 3 });
    expect(rejected.output!.map((o) => o.index)).toEqual([0, 2]);
    expect(rejected.imageErrors).toEqual([expect.objectContaining({ index: 1, code: 'content_rejected' })]);
    expect(rejected.billedImages).toBe(2);

    const single = await api.generate({ prompt: 'one shot' });
    expect(single.status).toBe('failed');
    expect(single.error?.code).toBe('content_rejected');
    expect(single.imageErrors).toEqual([expect.objectContaining({ index: 0, code: 'content_rejected' })]);
    expect(single.billedImages).toBe(0);

    expect(sim.ledger()).toMatchObject({ jobs: 3, billedImages: 4, costUsd: 0.16 });
    expect(sim.ledger().entries.map((e) => [e.status, e.billedImages])).toEqual([
      ['completed', 2],
      ['completed', 2],
      ['failed', 0],
    ]);
  });

  it('keeps cents exact over many jobs', async () => {
    sim = await start({ latencyMs: { min: 0, max: 5 }, outputScale: 0.02, maxRunning: 32 });
    const api = client(sim);
    const jobs = await Promise.all(Array.from({ length: 30 }, (_, i) => api.generate({ prompt: `item ${i}`, numImages: 1 + (i % 3) })));
    const images = jobs.reduce((n, j) => n + (j.billedImages ?? 0), 0);
    expect(images).toBe(60);
    expect(sim.ledger().costUsd).toBe(2.4); // 0.04 * 60 summed as floats would drift
  });

  it('answers 402 insufficient_credit once the credit would be exceeded, counting running jobs', async () => {
    sim = await start({ creditUsd: 0.1 });
    const api = client(sim);
    const two = await api.submit('generate', { prompt: 'a chair', numImages: 2 });
    expect(two.res.status).toBe(202);
    const third = await api.submit('generate', { prompt: 'a table' }); // 8 + 4 cents > 10, even before billing
    expect(third.res.status).toBe(402);
    expect(third.json.error.code).toBe('insufficient_credit');
    await api.settle(two.json.id);
    expect(sim.ledger()).toMatchObject({ costUsd: 0.08, remainingCreditUsd: 0.02, rejectedSubmissions: 1 });
    expect((await api.submit('generate', { prompt: 'a table' })).res.status).toBe(402);
  });

  it('never runs more than maxRunning jobs at once; the rest wait queued', async () => {
    // Jobs long enough that a loaded machine still sees the queue before the first ones finish.
    sim = await start({ maxRunning: 2, latencyMs: { min: 300, max: 400 } });
    const api = client(sim);
    const submitted = await Promise.all(Array.from({ length: 7 }, (_, i) => api.submit('generate', { prompt: `lamp ${i}` })));
    const health = async () => ((await (await fetch(`${sim!.url}/__simulator/health`)).json()) as { jobs: Record<string, number> }).jobs;
    await sleep(20);
    const early = await health();
    expect(early.running).toBe(2);
    expect(early.queued).toBeGreaterThanOrEqual(1);
    expect(early.queued).toBeLessThanOrEqual(5);
    const jobs = await Promise.all(submitted.map((s) => api.settle(s.json.id)));
    // Max overlap of [startedAt, completedAt) intervals; at equal times a finish frees its slot first.
    const events = jobs.flatMap((j) => [
      { t: Date.parse(j.startedAt!), d: 1 },
      { t: Date.parse(j.completedAt!), d: -1 },
    ]);
    events.sort((a, b) => a.t - b.t || a.d - b.d);
    let running = 0;
    let peak = 0;
    for (const e of events) peak = Math.max(peak, (running += e.d));
    expect(peak).toBe(2);
    expect((await health()).peakRunning).toBe(2);
  });
});
