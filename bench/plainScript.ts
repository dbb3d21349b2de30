/**
 * The baseline the Temporal path is measured against: a plain in-process script that calls the same
 * ProviderClient with the same concurrency and no Temporal, no Postgres, no storage. Each SKU is
 * submit -> poll (the same schedule as the awaitJob activity) -> download, `window` SKUs at a time
 * in a promise pool. The three-slot variant runs hero and label at once, then lifestyle with the
 * hero output as its first reference (inline data URIs, as the worker's REFERENCE_MODE=inline does).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProviderClient } from '../src/provider/client';
import { jobTiming, pool, type JobTiming } from './harness';

export interface PlainScriptOptions {
  client: ProviderClient;
  prompts: Array<{ sku: string; hero: string; label?: string; lifestyle?: string; packshotUrl?: string }>;
  window: number;
  poll: { initialMs: number; maxIntervalMs: number };
  /** Scene reference for the lifestyle slot (three-slot plan only). */
  sceneUrl?: string;
}

export interface PlainScriptResult {
  seconds: number;
  jobs: number;
  bytesDownloaded: number;
  timings: JobTiming[];
}

const dataUri = (bytes: Buffer, type = 'image/jpeg') => `data:${type};base64,${bytes.toString('base64')}`;

export async function runPlainScript(o: PlainScriptOptions): Promise<PlainScriptResult> {
  const timings: JobTiming[] = [];
  let jobs = 0;
  let bytesDownloaded = 0;
  const common = { imageSize: 'square_hd' as const, quality: 'high' as const, numImages: 1, outputFormat: 'jpeg' as const, watermark: false };

  async function awaitAndDownload(jobId: string): Promise<Buffer> {
    let interval = o.poll.initialMs;
    for (;;) {
      const job = await o.client.getJob(jobId);
      if (job.status === 'completed' || job.status === 'failed') {
        const t = jobTiming(job, Date.now());
        if (t) timings.push(t);
        const out = job.outputs[0];
        if (job.status === 'failed' || !out) throw new Error(`job ${jobId} failed: ${job.error?.message ?? 'no output'}`);
        const { bytes } = await o.client.download(out.url);
        bytesDownloaded += bytes.length;
        return bytes;
      }
      await sleep(interval);
      interval = Math.min(o.poll.maxIntervalMs, Math.round(interval * 1.5));
    }
  }

  let scene: Buffer | undefined;
  if (o.sceneUrl) scene = Buffer.from(await (await fetch(o.sceneUrl)).arrayBuffer());

  const t0 = performance.now();
  await pool(o.prompts, o.window, async (p) => {
    const key = (slot: string) => `plain:${p.sku}:${slot}`;
    const hero = (async () => {
      const { jobId } = await o.client.generate({ ...common, prompt: p.hero }, { idempotencyKey: key('hero') });
      jobs += 1;
      return awaitAndDownload(jobId);
    })();
    const label = (async () => {
      if (!p.label || !p.packshotUrl) return undefined;
      const packshot = Buffer.from(await (await fetch(p.packshotUrl)).arrayBuffer());
      const { jobId } = await o.client.edit({ ...common, prompt: p.label, imageUrl: dataUri(packshot) }, { idempotencyKey: key('label') });
      jobs += 1;
      return awaitAndDownload(jobId);
    })();
    const heroBytes = await hero;
    if (p.lifestyle && scene) {
      const { jobId } = await o.client.compose(
        { ...common, imageSize: 'landscape_4_3', prompt: p.lifestyle, imageUrls: [dataUri(heroBytes), dataUri(scene)] },
        { idempotencyKey: key('lifestyle') },
      );
      jobs += 1;
      await awaitAndDownload(jobId);
    }
    await label;
  });
  return { seconds: (performance.now() - t0) / 1000, jobs, bytesDownloaded, timings };
}
