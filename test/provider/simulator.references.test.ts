import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../src/provider/simulator/index';
import { renderOutputs, type RenderSpec } from '../../src/provider/simulator/render';
import { client, deadUrl, serve, start } from './simulator-helpers';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0)) await fn();
});

async function startSim(options: Parameters<typeof start>[0] = {}): Promise<RunningSimulator> {
  const sim = await start(options);
  cleanups.push(() => sim.close());
  return sim;
}

async function solid(width: number, height: number, background: string, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg().toBuffer();
}

const dataUri = (bytes: Buffer, type = 'image/png') => `data:${type};base64,${bytes.toString('base64')}`;

/** Serves fixed bodies by path, and counts requests. */
async function referenceHost(files: Record<string, { body: Buffer | string; type: string }>) {
  const hits: string[] = [];
  const host = await serve((req, res) => {
    hits.push(req.url ?? '');
    const file = files[req.url ?? ''];
    if (!file) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('content-type', file.type);
    res.end(file.body);
  });
  cleanups.push(() => host.close());
  return { url: host.url, hits };
}

/** Mean absolute difference per channel between two images, compared at the same size. */
async function meanDiff(a: Buffer, b: Buffer, width: number, height: number): Promise<number> {
  const [ra, rb] = await Promise.all(
    [a, b].map((x) => sharp(x).resize(width, height, { fit: 'cover' }).removeAlpha().toColourspace('srgb').raw().toBuffer()),
  );
  let sum = 0;
  for (let i = 0; i < ra!.length; i++) sum += Math.abs(ra![i]! - rb![i]!);
  return sum / ra!.length;
}

async function pixel(bytes: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (Math.floor(y) * info.width + Math.floor(x)) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

describe('simulator: edit and compose', () => {
  it('edit fetches a URL reference and visibly changes it at the requested size', async () => {
    const source = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#d0d0d0' } })
      .composite([{ input: await solid(200, 150, '#2040c0'), left: 100, top: 75 }])
      .png()
      .toBuffer();
    const host = await referenceHost({ '/packshot.png': { body: source, type: 'image/png' } });
    const sim = await startSim();
    const api = client(sim);
    const { res, json } = await api.submit('edit', { prompt: 'Update label: Organic 500 g', imageUrl: `${host.url}/packshot.png`, imageSize: 'landscape_4_3' });
    expect(res.status).toBe(202);
    expect(host.hits).toEqual([]); // fetched when the job runs, not at submit
    const job = await api.settle(json.id);
    expect(job.status).toBe('completed');
    expect(host.hits).toEqual(['/packshot.png']);
    const out = await api.download(job.output![0]!.url);
    const meta = await sharp(out.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([230, 173]);
    expect(await meanDiff(out.bytes, source, 230, 173)).toBeGreaterThan(15);
    // The subject survives: the centre stays bluer than the grey border.
    const centre = await pixel(out.bytes, 115, 70);
    const border = await pixel(out.bytes, 5, 70);
    expect(centre[2] - centre[0]).toBeGreaterThan(border[2] - border[0]);
  });

  it('edit decodes an inline data URI reference', async () => {
    const sim = await startSim();
    const api = client(sim);
    const source = await solid(300, 300, '#30a050', 'jpeg');
    const { json } = await api.submit('edit', { prompt: 'new label', imageUrl: dataUri(source, 'image/jpeg'), outputFormat: 'png' });
    const job = await api.settle(json.id);
    expect(job.status).toBe('completed');
    const out = await api.download(job.output![0]!.url);
    expect((await sharp(out.bytes).metadata()).format).toBe('png');
    expect(await meanDiff(out.bytes, source, 205, 205)).toBeGreaterThan(15);
  });

  it('compose fetches every reference and lays them out: hero left, the others stacked right', async () => {
    const host = await referenceHost({
      '/product.png': { body: await solid(300, 300, '#ff0000'), type: 'image/png' },
      '/scene.png': { body: await solid(400, 200, '#00ff00'), type: 'image/png' },
    });
    const sim = await startSim();
    const api = client(sim);
    const style = dataUri(await solid(200, 400, '#0000ff'));
    const { json } = await api.submit('compose', {
      prompt: 'product in a scene',
      imageUrls: [`${host.url}/product.png`, `${host.url}/scene.png`, style],
      imageSize: 'landscape_4_3',
    });
    const job = await api.settle(json.id);
    expect(job.status).toBe('completed');
    expect([...host.hits].sort()).toEqual(['/product.png', '/scene.png']);
    const out = (await api.download(job.output![0]!.url)).bytes;
    const W = 230;
    const H = 173;
    const dominant = (p: [number, number, number]) => p.indexOf(Math.max(...p));
    expect(dominant(await pixel(out, W * 0.3, H * 0.4))).toBe(0); // product, left
    expect(dominant(await pixel(out, W * 0.8, H * 0.25))).toBe(1); // scene, right top
    expect(dominant(await pixel(out, W * 0.8, H * 0.7))).toBe(2); // style, right bottom
  });

  it('fails the job with reference_unreachable when a reference URL cannot be fetched', async () => {
    const sim = await startSim();
    const api = client(sim);
    const refused = await api.submit('edit', { prompt: 'x', imageUrl: await deadUrl() });
    expect(refused.res.status).toBe(202);
    const job = await api.settle(refused.json.id);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('reference_unreachable');
    expect(job.error?.message).toContain('imageUrl');
    expect(job.billedImages).toBe(0);

    const host = await referenceHost({});
    const missing = await api.submit('compose', { prompt: 'x', imageUrls: [dataUri(await solid(64, 64, '#fff')), `${host.url}/missing.png?sig=secret`] });
    const failed = await api.settle(missing.json.id);
    expect(failed.error?.code).toBe('reference_unreachable');
    expect(failed.error?.message).toContain('imageUrls.1');
    expect(failed.error?.message).not.toContain('secret'); // presigned query strings are never echoed
    expect(sim.ledger()).toMatchObject({ jobs: 2, billedImages: 0, costUsd: 0 });
  });

  it('gives up on a reference host that does not answer within referenceFetchTimeoutMs', async () => {
    const hang = await serve(() => undefined);
    cleanups.push(() => hang.close());
    const sim = await startSim({ referenceFetchTimeoutMs: 150 });
    const api = client(sim);
    const { json } = await api.submit('edit', { prompt: 'x', imageUrl: `${hang.url}/slow.png` });
    const job = await api.settle(json.id);
    expect(job.error).toMatchObject({ code: 'reference_unreachable', message: expect.stringContaining('timed out') });
  });

  it('fails the job with reference_invalid for a non-image, an extreme aspect, or an oversized file', async () => {
    const host = await referenceHost({
      '/page.html': { body: '<html>not an image</html>', type: 'text/html' },
      '/sliver.png': { body: await solid(20, 400, '#888'), type: 'image/png' },
      '/huge.bin': { body: Buffer.alloc(10 * 1024 * 1024 + 1), type: 'image/jpeg' },
    });
    const sim = await startSim();
    const api = client(sim);
    for (const path of ['/page.html', '/sliver.png', '/huge.bin']) {
      const { json } = await api.submit('edit', { prompt: 'x', imageUrl: `${host.url}${path}` });
      const job = await api.settle(json.id);
      expect(job.status, path).toBe('failed');
      expect(job.error?.code, path).toBe('reference_invalid');
    }
    const truncated = (await solid(300, 300, '#123456', 'jpeg')).subarray(0, 200);
    const { json } = await api.submit('edit', { prompt: 'x', imageUrl: dataUri(truncated, 'image/jpeg') });
    expect((await api.settle(json.id)).error?.code).toBe('reference_invalid');
  });
});

describe('simulator: rendering', () => {
  const spec: RenderSpec = { operation: 'generate', seed: 'abc', prompt: 'a teapot', width: 200, height: 200, format: 'png', quality: 'high', watermark: false };

  it('draws a visible watermark only when asked, leaving the rest of the picture alone', async () => {
    const [plain, marked] = await Promise.all([renderOutputs(spec, [], [0]), renderOutputs({ ...spec, watermark: true }, [], [0])]);
    const a = await sharp(plain.get(0)!.bytes).raw().toBuffer({ resolveWithObject: true });
    const b = await sharp(marked.get(0)!.bytes).raw().toBuffer({ resolveWithObject: true });
    let changedTop = 0;
    let changedMark = 0;
    const { width, channels } = a.info;
    for (let i = 0; i < a.data.length; i += channels) {
      const y = Math.floor(i / channels / width);
      const diff = Math.abs(a.data[i]! - b.data[i]!) + Math.abs(a.data[i + 1]! - b.data[i + 1]!);
      if (diff > 30) {
        if (y < 100) changedTop++;
        else changedMark++;
      }
    }
    expect(changedTop).toBe(0);
    expect(changedMark).toBeGreaterThan(100);
  });

  it('renders each requested index as a distinct, repeatable picture', async () => {
    const first = await renderOutputs(spec, [], [0, 1]);
    const again = await renderOutputs(spec, [], [1]);
    expect(first.get(0)!.bytes.equals(first.get(1)!.bytes)).toBe(false);
    expect(first.get(1)!.bytes.equals(again.get(1)!.bytes)).toBe(true);
  });
});
