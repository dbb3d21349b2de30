/** Small helpers for the simulator tests: plain fetch, no dependency on the provider client. */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimulator, type RunningSimulator, type SimulatorOptionsInput } from '../../src/provider/simulator/index';

/** Small, fast outputs: tests do not need 2K pictures. */
export const FAST: SimulatorOptionsInput = { latencyMs: { min: 20, max: 50 }, outputScale: 0.1 };

export async function start(options: SimulatorOptionsInput = {}): Promise<RunningSimulator> {
  return startSimulator({ ...FAST, ...options });
}

export interface JobBody {
  id: string;
  status: string;
  startedAt?: string;
  completedAt?: string;
  output?: Array<{ index: number; url: string; contentType: string; width: number; height: number; expiresAt: string }>;
  imageErrors?: Array<{ index: number; code: string; message: string }>;
  error?: { code: string; message: string };
  billedImages?: number;
  costUsd?: number;
}

/** A submit answer or an error body, typed loosely for assertions. */
export interface SubmitJson {
  id: string;
  status: string;
  error: { code: string; message: string; field?: string };
}

export function client(sim: RunningSimulator) {
  const auth = { authorization: `Bearer ${sim.apiKey}` };
  return {
    async submit(op: string, body: unknown, opts: { key?: string; headers?: Record<string, string>; model?: string } = {}) {
      const headers: Record<string, string> = { ...auth, 'content-type': 'application/json', ...opts.headers };
      if (opts.key !== undefined) headers['idempotency-key'] = opts.key;
      const res = await fetch(`${sim.url}/v1/image/${opts.model ?? 'seedream-4.5'}/${op}`, {
        method: 'POST',
        headers,
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { res, json: (await res.json()) as SubmitJson };
    },
    async job(id: string) {
      const res = await fetch(`${sim.url}/v1/jobs/${id}`, { headers: auth });
      return { res, json: (await res.json()) as JobBody };
    },
    /** Polls until the job is completed or failed. */
    async settle(id: string, timeoutMs = 5_000): Promise<JobBody> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { res, json } = await this.job(id);
        if (res.status === 200 && (json.status === 'completed' || json.status === 'failed')) return json;
        if (Date.now() > deadline) throw new Error(`job ${id} still ${json.status} after ${timeoutMs} ms`);
        await sleep(10);
      }
    },
    async generate(body: Record<string, unknown>, key?: string): Promise<JobBody> {
      const { res, json } = await this.submit('generate', body, { key });
      if (res.status !== 202 && res.status !== 200) throw new Error(`submit answered ${res.status}: ${JSON.stringify(json)}`);
      return this.settle(json.id);
    },
    async download(url: string) {
      const res = await fetch(url);
      return { res, bytes: Buffer.from(await res.arrayBuffer()) };
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A throwaway HTTP server (for reference URLs the simulator fetches). */
export async function serve(handler: RequestListener): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL nothing listens on: a port that was free a moment ago. */
export async function deadUrl(): Promise<string> {
  const s = await serve((_req, res) => res.end());
  await s.close();
  return `${s.url}/gone.png`;
}
