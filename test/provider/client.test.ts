/**
 * The Seedream client: pure behaviour (validation, Retry-After, redaction, job shaping), transport
 * faults against tiny node:http servers (real HTTP: refused, stalled, reset), and every endpoint
 * and error class against the project's simulator.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { inspect } from 'node:util';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ProviderClient, jobFailureError, toParsedJob, validateRequest, type ParsedJob } from '../../src/provider/client';
import type { Operation } from '../../src/provider/contract';
import {
  MAX_RETRY_AFTER_MS,
  PROVIDER_ERROR_KINDS,
  ProviderError,
  isRetryable,
  kindFromHttp,
  parseRetryAfter,
  redactSecrets,
} from '../../src/provider/errors';
import { startSimulator, type RunningSimulator } from '../../src/provider/simulator';

const KEY = 'sk-test-0123456789abcdef-secret';

/** Runs `fn` and returns the ProviderError it must throw. */
async function providerError(fn: () => Promise<unknown>): Promise<ProviderError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected a ProviderError, got success');
}

function expectNoKey(err: unknown, key = KEY) {
  const e = err as ProviderError;
  expect(e.message).not.toContain(key);
  expect(String(e.stack)).not.toContain(key);
  expect(JSON.stringify(e)).not.toContain(key);
  expect(inspect(e, { depth: 5 })).not.toContain(key);
}

// ---------------------------------------------------------------------------------------------
// A tiny programmable HTTP server for transport faults and header checks.

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  url: string;
  port: number;
  seen: Seen[];
  onConnection?: () => void;
  close: () => Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const servers: TestServer[] = [];

async function startServer(handler: Handler): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      ts.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  const ts: TestServer = {
    url: '',
    port: 0,
    seen: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', (s: Socket) => {
    ts.onConnection?.();
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  ts.port = (server.address() as AddressInfo).port;
  ts.url = `http://127.0.0.1:${ts.port}`;
  servers.push(ts);
  return ts;
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const clients: ProviderClient[] = [];
function client(baseUrl: string, extra: Partial<ConstructorParameters<typeof ProviderClient>[0]> = {}): ProviderClient {
  const c = new ProviderClient({ baseUrl, apiKey: KEY, timeouts: { connectMs: 2_000, requestMs: 3_000, downloadMs: 3_000 }, ...extra });
  clients.push(c);
  return c;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const GOOD = { prompt: 'a bottle of olive oil on white' };

// ---------------------------------------------------------------------------------------------

describe('error taxonomy', () => {
  it('lists the kinds and which are retryable', () => {
    expect(PROVIDER_ERROR_KINDS).toContain('invalid_response');
    const retryable = PROVIDER_ERROR_KINDS.filter(isRetryable);
    expect(retryable.sort()).toEqual(['network', 'rate_limited', 'timeout', 'unavailable']);
  });

  it('maps statuses and provider codes to kinds', () => {
    expect(kindFromHttp(400, 'invalid_request')).toBe('invalid_request');
    expect(kindFromHttp(401)).toBe('unauthorized');
    expect(kindFromHttp(402)).toBe('insufficient_credit');
    expect(kindFromHttp(404)).toBe('not_found');
    expect(kindFromHttp(409)).toBe('idempotency_conflict');
    expect(kindFromHttp(410)).toBe('url_expired');
    expect(kindFromHttp(422, 'content_rejected')).toBe('content_rejected');
    expect(kindFromHttp(422, 'invalid_request')).toBe('invalid_request');
    expect(kindFromHttp(429, 'invalid_request')).toBe('rate_limited');
    expect(kindFromHttp(503)).toBe('unavailable');
    expect(kindFromHttp(500, 'content_rejected')).toBe('unavailable');
    expect(kindFromHttp(413)).toBe('invalid_request');
    expect(kindFromHttp(400, 'generation_failed')).toBe('invalid_request');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter(['3', '9'], now)).toBe(3000);
  });
  it('reads an HTTP date relative to now, floored at 0', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });
  it('caps absurd values and ignores garbage', () => {
    expect(parseRetryAfter('86400', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('redaction', () => {
  it('removes secrets and bearer tokens from text', () => {
    const text = `failed with key ${KEY}; header Authorization: Bearer abc.def-123`;
    const out = redactSecrets(text, [KEY]);
    expect(out).not.toContain(KEY);
    expect(out).not.toContain('abc.def-123');
    expect(out).toContain('[REDACTED]');
  });

  it('never shows the key in JSON, inspect or toString of the client', () => {
    const c = client('http://127.0.0.1:1');
    expect(JSON.stringify(c)).not.toContain(KEY);
    expect(inspect(c, { depth: 10, showHidden: true })).not.toContain(KEY);
    expect(String(c)).not.toContain(KEY);
    expect(JSON.stringify(c)).toContain('[REDACTED]');
  });

  it('rejects bad configuration without echoing the key', () => {
    expect(() => new ProviderClient({ baseUrl: 'ftp://x', apiKey: KEY })).toThrow(/not http/);
    expect(() => new ProviderClient({ baseUrl: 'http://x', apiKey: '' })).toThrow(/apiKey is required/);
    try {
      new ProviderClient({ baseUrl: 'not a url', apiKey: KEY });
    } catch (err) {
      expect(String(err)).not.toContain(KEY);
    }
  });
});

describe('request validation (nothing is sent)', () => {
  it('names the field and the reason, with sent no', async () => {
    const srv = await startServer((_req, res) => json(res, 202, { jobId: 'j', status: 'queued' }));
    const c = client(srv.url);

    const empty = await providerError(() => c.generate({ prompt: '   ' }, { idempotencyKey: 'k1' }));
    expect(empty.kind).toBe('invalid_request');
    expect(empty.sent).toBe('no');
    expect(empty.retryable).toBe(false);
    expect(empty.field).toBe('prompt');
    expect(empty.message).toMatch(/prompt: must not be empty/);

    const unknown = await providerError(() => c.generate({ ...GOOD, colour: 'red' } as never, { idempotencyKey: 'k1' }));
    expect(unknown.field).toBe('colour');
    expect(unknown.message).toMatch(/unknown field/);

    const tooSmall = await providerError(() =>
      c.generate({ ...GOOD, imageSize: { width: 1024, height: 1024 } }, { idempotencyKey: 'k1' }),
    );
    expect(tooSmall.field).toBe('imageSize');

    const many = await providerError(() => c.generate({ ...GOOD, numImages: 7 }, { idempotencyKey: 'k1' }));
    expect(many.field).toBe('numImages');

    const scheme = await providerError(() => c.edit({ ...GOOD, imageUrl: 'file:///etc/passwd' }, { idempotencyKey: 'k1' }));
    expect(scheme.field).toBe('imageUrl');
    expect(scheme.message).toMatch(/scheme file:/);

    const refs = Array.from({ length: 12 }, (_, i) => `https://example.com/${i}.png`);
    const tooMany = await providerError(() => c.compose({ ...GOOD, imageUrls: refs, numImages: 4 }, { idempotencyKey: 'k1' }));
    expect(tooMany.field).toBe('numImages');
    expect(tooMany.message).toMatch(/references plus outputs/);

    const badRef = await providerError(() =>
      c.compose({ ...GOOD, imageUrls: ['https://example.com/a.png', 'data:text/plain;base64,AAAA'] }, { idempotencyKey: 'k1' }),
    );
    expect(badRef.field).toBe('imageUrls.1');

    expect(srv.seen).toHaveLength(0);
  });

  it('requires a usable idempotency key', async () => {
    const srv = await startServer((_req, res) => json(res, 202, { jobId: 'j', status: 'queued' }));
    const c = client(srv.url);
    for (const key of ['', 'x'.repeat(256), 'has space', undefined]) {
      const err = await providerError(() => c.generate(GOOD, { idempotencyKey: key as string }));
      expect(err.kind).toBe('invalid_request');
      expect(err.field).toBe('idempotencyKey');
      expect(err.sent).toBe('no');
    }
    expect(srv.seen).toHaveLength(0);
  });

  it('applies the contract defaults to what is sent', () => {
    expect(validateRequest('generate', GOOD)).toEqual({
      prompt: GOOD.prompt,
      imageSize: 'square_hd',
      quality: 'high',
      numImages: 1,
      outputFormat: 'jpeg',
      watermark: false,
    });
  });
});

describe('job shaping', () => {
  const parse = (doc: Record<string, unknown>) => toParsedJob(doc);

  it('reports one outcome per requested image', () => {
    const job = parse({
      jobId: 'j1',
      status: 'completed',
      numImages: 4,
      output: [
        { index: 2, url: 'https://cdn.example/2.jpg', contentType: 'image/jpeg', width: 10, height: 10 },
        { index: 0, url: 'https://cdn.example/0.jpg' },
      ],
      imageErrors: [{ index: 1, code: 'content_rejected', message: 'output moderation' }],
      billedImages: 2,
      extraField: { tolerated: true },
    });
    expect(job.outputs.map((o) => o.index)).toEqual([0, 2]);
    expect(job.imageOutcomes).toEqual([
      { index: 0, outcome: 'delivered' },
      { index: 1, outcome: 'rejected', code: 'content_rejected', message: 'output moderation' },
      { index: 2, outcome: 'delivered' },
      { index: 3, outcome: 'missing' },
    ]);
    expect(job.billedImages).toBe(2);
    expect((job.raw).extraField).toEqual({ tolerated: true });
  });

  it('marks every image of a failed job and builds its error', () => {
    const job = parse({ jobId: 'j2', status: 'failed', numImages: 2, error: { code: 'reference_unreachable', message: 'could not fetch' } });
    expect(job.imageOutcomes.map((o) => o.outcome)).toEqual(['failed', 'failed']);
    const err = jobFailureError(job);
    expect(err.kind).toBe('job_failed');
    expect(err.code).toBe('reference_unreachable');
    expect(err.retryable).toBe(false);
    const rejected = jobFailureError(parse({ jobId: 'j3', status: 'failed', error: { code: 'content_rejected', message: 'no' } }));
    expect(rejected.kind).toBe('content_rejected');
  });

  it('has no outcomes while the job runs', () => {
    expect(parse({ jobId: 'j4', status: 'running', numImages: 3 }).imageOutcomes).toEqual([]);
  });
});

describe('HTTP behaviour against a local server', () => {
  it('sends bearer auth, the idempotency key and a JSON body; a replay is only what the provider says is one', async () => {
    let calls = 0;
    const srv = await startServer((_req, res) => {
      calls++;
      // A 200 alone says nothing about the key (a real API may answer 200 to every submit).
      json(res, 200, { jobId: 'job-1', status: 'queued', futureField: 1 }, calls === 3 ? { 'idempotent-replayed': 'true' } : {});
    });
    const c = client(`${srv.url}/prefix/`);
    const first = await c.generate(GOOD, { idempotencyKey: 'step-abc' });
    const second = await c.generate(GOOD, { idempotencyKey: 'step-abc' });
    const third = await c.generate(GOOD, { idempotencyKey: 'step-abc' });
    expect(first).toMatchObject({ jobId: 'job-1', status: 'queued', replayed: false, rawStatus: 'queued', shape: 'seed' });
    expect(second.replayed).toBe(false);
    expect(third.replayed).toBe(true);
    const seen = srv.seen[0]!;
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/prefix/v1/image/seedream-4.5/generate');
    expect(seen.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(seen.headers['idempotency-key']).toBe('step-abc');
    expect(seen.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen.body)).toMatchObject({ prompt: GOOD.prompt, watermark: false, numImages: 1 });
  });

  it('redacts the key when the provider echoes it, and keeps code, field and message', async () => {
    const srv = await startServer((_req, res) =>
      json(res, 401, { error: { code: 'unauthorized', message: `key ${KEY} is not valid`, field: 'authorization' } }),
    );
    const err = await providerError(() => client(srv.url).getJob('job-1'));
    expect(err.kind).toBe('unauthorized');
    expect(err.status).toBe(401);
    expect(err.sent).toBe('yes');
    expect(err.code).toBe('unauthorized');
    expect(err.message).toContain('GET /v1/jobs/job-1');
    expect(err.message).toContain('401');
    expect(err.message).toContain('[REDACTED]');
    expectNoKey(err);
  });

  it('reads Retry-After as seconds and as an HTTP date on 429 and 503', async () => {
    let n = 0;
    const srv = await startServer((_req, res) => {
      n++;
      if (n === 1) json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '3' });
      else if (n === 2) json(res, 429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': new Date(Date.now() + 5_000).toUTCString() });
      else {
        res.writeHead(503, { 'content-type': 'text/html', 'retry-after': '1' });
        res.end('<html><body>Service Unavailable</body></html>');
      }
    });
    const c = client(srv.url);
    const a = await providerError(() => c.generate(GOOD, { idempotencyKey: 'k' }));
    expect(a.kind).toBe('rate_limited');
    expect(a.retryable).toBe(true);
    expect(a.retryAfterMs).toBe(3000);
    const b = await providerError(() => c.generate(GOOD, { idempotencyKey: 'k' }));
    expect(b.retryAfterMs).toBeGreaterThan(2_000);
    expect(b.retryAfterMs).toBeLessThanOrEqual(5_000);
    const d = await providerError(() => c.generate(GOOD, { idempotencyKey: 'k' }));
    expect(d.kind).toBe('unavailable');
    expect(d.status).toBe(503);
    expect(d.retryAfterMs).toBe(1000);
    expect(d.message).toContain('Service Unavailable');
  });

  it('treats an accepted answer without a job id as invalid_response with sent maybe (the job may exist)', async () => {
    const srv = await startServer((req, res) => {
      if (req.method === 'POST') json(res, 202, { reference: 'no-id-field', status: 'queued' });
      else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{not json');
      }
    });
    const c = client(srv.url);
    const a = await providerError(() => c.generate(GOOD, { idempotencyKey: 'k' }));
    expect(a.kind).toBe('invalid_response');
    expect(a.sent).toBe('maybe');
    expect(a.message).toMatch(/job id/);
    const b = await providerError(() => c.getJob('x'));
    expect(b.kind).toBe('invalid_response');
    expect(b.message).toMatch(/not JSON/);
  });

  it('a refused connection is network, retryable, sent no', async () => {
    const srv = await startServer(() => undefined);
    const port = srv.port;
    await srv.close();
    servers.splice(servers.indexOf(srv), 1);
    const err = await providerError(() => client(`http://127.0.0.1:${port}`).generate(GOOD, { idempotencyKey: 'k' }));
    expect(err.kind).toBe('network');
    expect(err.sent).toBe('no');
    expect(err.retryable).toBe(true);
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.message).toContain('POST /v1/image/seedream-4.5/generate');
    expectNoKey(err);
  });

  it('an unknown host is network with sent no', async () => {
    const err = await providerError(() => client('http://no-such-host.invalid').generate(GOOD, { idempotencyKey: 'k' }));
    expect(err.kind).toBe('network');
    expect(err.sent).toBe('no');
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(err.code);
  });

  it('a deadline that fires while still connecting is a timeout with sent no', async () => {
    // A caller-supplied dispatcher whose connections never come up: the request is never written.
    const neverConnects = new Agent({ connect: () => undefined });
    try {
      const c = client('http://127.0.0.1:9', { dispatcher: neverConnects, timeouts: { connectMs: 5_000, requestMs: 200, downloadMs: 200 } });
      const err = await providerError(() => c.generate(GOOD, { idempotencyKey: 'k' }));
      expect(err.kind).toBe('timeout');
      expect(err.sent).toBe('no');
      expect(err.message).toMatch(/before the request was sent/);
    } finally {
      await neverConnects.destroy();
    }
  });

  it('reuses one keep-alive connection across calls', async () => {
    let connections = 0;
    const srv = await startServer((_req, res) => json(res, 200, { jobId: 'j', status: 'running' }));
    const c = client(srv.url);
    srv.onConnection = () => connections++;
    for (let i = 0; i < 10; i++) await c.getJob('j');
    // undici may open a second socket while the first is being released; after that both are reused.
    expect(connections).toBeLessThanOrEqual(2);
  });

  it('a server that takes the body and never answers is a timeout with sent maybe', async () => {
    const srv = await startServer(() => undefined); // reads the body, then stalls
    const c = client(srv.url, { timeouts: { connectMs: 1_000, requestMs: 300, downloadMs: 1_000 } });
    const started = Date.now();
    const err = await providerError(() => c.generate(GOOD, { idempotencyKey: 'k' }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.kind).toBe('timeout');
    expect(err.sent).toBe('maybe');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/may have received it/);
    expect(srv.seen).toHaveLength(1);
  });

  it('a socket destroyed after the body was sent is network with sent maybe', async () => {
    const srv = await startServer((req) => req.socket.destroy());
    const err = await providerError(() => client(srv.url).generate(GOOD, { idempotencyKey: 'k' }));
    expect(err.kind).toBe('network');
    expect(err.sent).toBe('maybe');
    expect(srv.seen).toHaveLength(1);
    expectNoKey(err);
  });

  it('a stalled body after 2xx headers of a submit is a timeout with sent maybe', async () => {
    const srv = await startServer((_req, res) => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.write('{"jobId":');
    });
    const c = client(srv.url, { timeouts: { connectMs: 1_000, requestMs: 300, downloadMs: 1_000 } });
    const err = await providerError(() => c.generate(GOOD, { idempotencyKey: 'k' }));
    expect(err.kind).toBe('timeout');
    expect(err.sent).toBe('maybe');
  });

  it("rethrows the caller's abort reason", async () => {
    const srv = await startServer(() => undefined);
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    setTimeout(() => controller.abort(reason), 50);
    await expect(client(srv.url).getJob('j', { signal: controller.signal })).rejects.toBe(reason);
    const pre = new AbortController();
    pre.abort(reason);
    await expect(client(srv.url).generate(GOOD, { idempotencyKey: 'k', signal: pre.signal })).rejects.toBe(reason);
  });

  it('reads the job document, tolerates additive fields and reports an unknown status raw', async () => {
    const srv = await startServer((req, res) => {
      if (req.url === '/v1/jobs/good') {
        json(res, 200, { jobId: 'good', status: 'completed', numImages: 1, output: [{ index: 0, url: 'https://cdn.example/a.jpg' }], newThing: [1] });
      } else if (req.url === '/v1/jobs/bad') {
        json(res, 200, { jobId: 'bad', status: 'exploded' });
      } else json(res, 404, { error: { code: 'not_found', message: 'no such job' } });
    });
    const c = client(srv.url);
    const good = await c.getJob('good');
    expect(good.imageOutcomes).toEqual([{ index: 0, outcome: 'delivered' }]);
    const bad = await c.getJob('bad');
    expect([bad.status, bad.rawStatus, bad.imageOutcomes]).toEqual(['unknown', 'exploded', []]);
    const missing = await providerError(() => c.getJob('a/b?c'));
    expect(missing.kind).toBe('not_found');
    expect(srv.seen.at(-1)!.url).toBe('/v1/jobs/a%2Fb%3Fc');
  });
});

describe('download against a local server', () => {
  const PNG_1x1 = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
    'base64',
  );

  it('never sends the API key, follows redirects, and checks type and size', async () => {
    const srv = await startServer((req, res) => {
      const path = req.url ?? '';
      if (path.startsWith('/redirect')) {
        res.writeHead(302, { location: '/img.png?sig=abc' });
        res.end();
      } else if (path.startsWith('/img.png')) {
        res.writeHead(200, { 'content-type': 'image/png; charset=binary' });
        res.end(PNG_1x1);
      } else if (path.startsWith('/html')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>login</html>');
      } else if (path.startsWith('/big-declared')) {
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(10_000) });
        res.end(Buffer.alloc(10_000));
      } else if (path.startsWith('/big-chunked')) {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.write(Buffer.alloc(600));
        res.write(Buffer.alloc(600));
        res.end(Buffer.alloc(600));
      } else if (path.startsWith('/gone')) {
        json(res, 410, { error: { code: 'url_expired', message: 'expired' } });
      } else if (path.startsWith('/s3-expired')) {
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
      } else if (path.startsWith('/forbidden')) {
        res.writeHead(403);
        res.end('nope');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    const c = client(srv.url);

    const ok = await c.download(`${srv.url}/redirect?token=secret-capability`);
    expect(ok.contentType).toBe('image/png');
    expect(ok.sizeBytes).toBe(PNG_1x1.length);
    expect(ok.bytes.equals(PNG_1x1)).toBe(true);
    for (const s of srv.seen) expect(s.headers.authorization).toBeUndefined();

    const html = await providerError(() => c.download(`${srv.url}/html`));
    expect(html.kind).toBe('invalid_response');
    expect(html.message).toMatch(/text\/html/);

    const declared = await providerError(() => c.download(`${srv.url}/big-declared`, { maxBytes: 1_000 }));
    expect(declared.kind).toBe('invalid_response');
    expect(declared.message).toMatch(/cap of 1000 bytes/);

    const chunked = await providerError(() => c.download(`${srv.url}/big-chunked`, { maxBytes: 1_000 }));
    expect(chunked.kind).toBe('invalid_response');
    expect(chunked.message).toMatch(/cap of 1000 bytes/);

    const gone = await providerError(() => c.download(`${srv.url}/gone?sig=hidden`));
    expect(gone.kind).toBe('url_expired');
    expect(gone.retryable).toBe(false);
    expect(gone.message).not.toContain('sig=hidden');

    expect((await providerError(() => c.download(`${srv.url}/s3-expired`))).kind).toBe('url_expired');
    expect((await providerError(() => c.download(`${srv.url}/forbidden`))).kind).toBe('unauthorized');
    expect((await providerError(() => c.download(`${srv.url}/nothing`))).kind).toBe('not_found');

    const scheme = await providerError(() => c.download('file:///etc/passwd'));
    expect(scheme.kind).toBe('invalid_request');
    expect(scheme.sent).toBe('no');
  });
});

// ---------------------------------------------------------------------------------------------
// Against the project's simulator: every endpoint through to a decodable image, and every error
// class the simulator can produce.

const SIM_KEY = 'sim-test-key-0123456789-do-not-leak';

/** A client whose local validation is off, so the provider's own 400 can be seen. */
class UnvalidatedClient extends ProviderClient {
  protected override validateBody(_operation: Operation, req: unknown): unknown {
    return req;
  }
}

async function waitForJob(c: ProviderClient, jobId: string, timeoutMs = 10_000): Promise<ParsedJob> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await c.getJob(jobId);
    if (job.status === 'completed' || job.status === 'failed') return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function pngDataUri(width: number, height: number, rgb: { r: number; g: number; b: number }): Promise<string> {
  const png = await sharp({ create: { width, height, channels: 3, background: rgb } }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

describe('against the simulator', () => {
  let sim: RunningSimulator;
  let c: ProviderClient;
  let keySeq = 0;
  const key = () => `test-step-${Date.now()}-${++keySeq}`;

  beforeAll(async () => {
    sim = await startSimulator({ apiKey: SIM_KEY, latencyMs: { min: 10, max: 40 }, outputScale: 0.05, seed: 7 });
    c = new ProviderClient({ baseUrl: sim.url, apiKey: SIM_KEY, timeouts: { connectMs: 2_000, requestMs: 5_000, downloadMs: 5_000 } });
  });
  afterAll(async () => {
    await c?.close();
    await sim?.close();
  });
  afterEach(() => {
    sim.setFaults({});
    sim.reset();
  });

  it('generate: submit, poll, download, decode', async () => {
    const submitted = await c.generate({ prompt: 'a ceramic mug, studio light', numImages: 2, outputFormat: 'png', imageSize: 'portrait_4_3' }, { idempotencyKey: key() });
    expect(submitted.replayed).toBe(false);
    expect(['queued', 'running']).toContain(submitted.status);
    const job = await waitForJob(c, submitted.jobId);
    expect(job.status).toBe('completed');
    expect(job.outputs).toHaveLength(2);
    expect(job.imageOutcomes).toEqual([
      { index: 0, outcome: 'delivered' },
      { index: 1, outcome: 'delivered' },
    ]);
    expect(job.billedImages).toBe(2);
    for (const output of job.outputs) {
      const file = await c.download(output.url);
      expect(file.contentType).toBe('image/png');
      expect(file.sizeBytes).toBe(file.bytes.length);
      const meta = await sharp(file.bytes).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBe(output.width);
      expect(meta.height).toBe(output.height);
      expect(meta.height).toBeGreaterThan(meta.width); // portrait 3:4
    }
    expect(sim.ledger()).toMatchObject({ jobs: 1, billedImages: 2, duplicateSubmissions: 0 });
  });

  it('edit with an inline source image, then compose with a URL reference and an inline one', async () => {
    const source = await pngDataUri(64, 48, { r: 200, g: 30, b: 30 });
    const edited = await c.edit({ prompt: 'update the label text to 2025', imageUrl: source }, { idempotencyKey: key() });
    const editJob = await waitForJob(c, edited.jobId);
    expect(editJob.status).toBe('completed');
    const editFile = await c.download(editJob.outputs[0]!.url);
    expect(editFile.contentType).toBe('image/jpeg');
    expect((await sharp(editFile.bytes).metadata()).format).toBe('jpeg');

    const scene = await pngDataUri(48, 48, { r: 20, g: 120, b: 40 });
    const composed = await c.compose({ prompt: 'the product on a kitchen counter', imageUrls: [editJob.outputs[0]!.url, scene] }, { idempotencyKey: key() });
    const composeJob = await waitForJob(c, composed.jobId);
    expect(composeJob.status).toBe('completed');
    const composeFile = await c.download(composeJob.outputs[0]!.url);
    const meta = await sharp(composeFile.bytes).metadata();
    expect(meta.width).toBeGreaterThan(0);
  });

  it('a replay with the same key returns the same job, unbilled', async () => {
    const k = key();
    const first = await c.generate({ prompt: 'replay me' }, { idempotencyKey: k });
    const again = await c.generate({ prompt: 'replay me' }, { idempotencyKey: k });
    expect(again.replayed).toBe(true);
    expect(again.jobId).toBe(first.jobId);
    await waitForJob(c, first.jobId);
    expect(sim.ledger()).toMatchObject({ jobs: 1, replays: 1, billedImages: 1, duplicateSubmissions: 0 });
  });

  it('409: the same key with a different body', async () => {
    const k = key();
    await c.generate({ prompt: 'first body' }, { idempotencyKey: k });
    const err = await providerError(() => c.generate({ prompt: 'second body' }, { idempotencyKey: k }));
    expect(err.kind).toBe('idempotency_conflict');
    expect(err.status).toBe(409);
    expect(err.code).toBe('idempotency_conflict');
    expect(err.retryable).toBe(false);
    expect(err.sent).toBe('yes');
  });

  it('401: a wrong key, and the key appears nowhere in the error', async () => {
    const wrongKey = 'sk-wrong-key-abcdefghijklmnop';
    const bad = new ProviderClient({ baseUrl: sim.url, apiKey: wrongKey });
    try {
      const submitErr = await providerError(() => bad.generate({ prompt: 'x' }, { idempotencyKey: key() }));
      expect(submitErr.kind).toBe('unauthorized');
      expect(submitErr.status).toBe(401);
      expect(submitErr.retryable).toBe(false);
      expect(submitErr.message).toContain('POST /v1/image/seedream-4.5/generate');
      expectNoKey(submitErr, wrongKey);
      expectNoKey(submitErr, SIM_KEY);
      const pollErr = await providerError(() => bad.getJob('whatever'));
      expect(pollErr.kind).toBe('unauthorized');
      expectNoKey(pollErr, wrongKey);
    } finally {
      await bad.close();
    }
    expect(sim.ledger().jobs).toBe(0);
  });

  it("400: the provider's own validation names the field", async () => {
    const raw = new UnvalidatedClient({ baseUrl: sim.url, apiKey: SIM_KEY });
    try {
      const err = await providerError(() => raw.generate({ prompt: 'ok', numImages: 99 }, { idempotencyKey: key() }));
      expect(err.kind).toBe('invalid_request');
      expect(err.status).toBe(400);
      expect(err.field).toBe('numImages');
      expect(err.sent).toBe('yes');
      expect(err.message).toContain('numImages');
      const unknown = await providerError(() => raw.generate({ prompt: 'ok', negativePrompt: 'x' } as never, { idempotencyKey: key() }));
      expect(unknown.field).toBe('negativePrompt');
    } finally {
      await raw.close();
    }
  });

  it('422: input moderation rejects the prompt', async () => {
    const err = await providerError(() => c.generate({ prompt: 'a bottle with blocked-content on it' }, { idempotencyKey: key() }));
    expect(err.kind).toBe('content_rejected');
    expect(err.status).toBe(422);
    expect(err.field).toBe('prompt');
    expect(err.retryable).toBe(false);
  });

  it('404: an unknown job', async () => {
    const err = await providerError(() => c.getJob('no-such-job'));
    expect(err.kind).toBe('not_found');
    expect(err.status).toBe(404);
    expect(err.message).toContain('GET /v1/jobs/no-such-job');
  });

  it('429 with Retry-After in seconds and as an HTTP date; 5xx', async () => {
    const k = key();
    sim.setFaults({
      script: [
        { on: 'submit', kind: 'rateLimit', retryAfterSeconds: 2 },
        { on: 'poll', kind: 'rateLimit', retryAfterSeconds: 4, asHttpDate: true },
        { on: 'submit', kind: 'serverError', status: 502 },
        { on: 'poll', kind: 'serverError', status: 503 },
      ],
    });
    const limited = await providerError(() => c.generate({ prompt: 'busy' }, { idempotencyKey: k }));
    expect(limited).toMatchObject({ kind: 'rate_limited', status: 429, retryable: true, sent: 'yes', retryAfterMs: 2000, code: 'rate_limited' });

    const limitedPoll = await providerError(() => c.getJob('any'));
    expect(limitedPoll.kind).toBe('rate_limited');
    // An HTTP date has one-second resolution: 4 s from the server's now, read a moment later.
    expect(limitedPoll.retryAfterMs).toBeGreaterThanOrEqual(2_000);
    expect(limitedPoll.retryAfterMs).toBeLessThanOrEqual(4_000);

    const bad = await providerError(() => c.generate({ prompt: 'busy' }, { idempotencyKey: k }));
    expect(bad).toMatchObject({ kind: 'unavailable', status: 502, retryable: true, sent: 'yes' });
    const badPoll = await providerError(() => c.getJob('any'));
    expect(badPoll).toMatchObject({ kind: 'unavailable', status: 503 });

    // The same key goes through once the faults pass, and only one job exists.
    const ok = await c.generate({ prompt: 'busy' }, { idempotencyKey: k });
    expect(ok.replayed).toBe(false);
    expect(sim.ledger().jobs).toBe(1);
  });

  it('a connection dropped after the job was accepted is sent maybe; the same key recovers the job', async () => {
    const k = key();
    sim.setFaults({ script: [{ kind: 'dropAfterAccept' }] });
    const err = await providerError(() => c.generate({ prompt: 'ambiguous' }, { idempotencyKey: k }));
    expect(err.kind).toBe('network');
    expect(err.sent).toBe('maybe');
    expect(err.retryable).toBe(true);
    expectNoKey(err, SIM_KEY);
    const retried = await c.generate({ prompt: 'ambiguous' }, { idempotencyKey: k });
    expect(retried.replayed).toBe(true);
    await waitForJob(c, retried.jobId);
    expect(sim.ledger()).toMatchObject({ jobs: 1, billedImages: 1, duplicateSubmissions: 0 });
  });

  it('a connection dropped before acceptance is also ambiguous to the client', async () => {
    sim.setFaults({ script: [{ kind: 'dropBeforeAccept' }] });
    const k = key();
    const err = await providerError(() => c.generate({ prompt: 'dropped early' }, { idempotencyKey: k }));
    expect(err.sent).toBe('maybe');
    const retried = await c.generate({ prompt: 'dropped early' }, { idempotencyKey: k });
    expect(retried.replayed).toBe(false);
    expect(sim.ledger().jobs).toBe(1);
  });

  it('a simulator that is gone refuses the connection: sent no', async () => {
    const gone = await startSimulator({ apiKey: SIM_KEY });
    const url = gone.url;
    await gone.close();
    const orphan = new ProviderClient({ baseUrl: url, apiKey: SIM_KEY });
    try {
      const err = await providerError(() => orphan.generate({ prompt: 'nobody home' }, { idempotencyKey: key() }));
      expect(err).toMatchObject({ kind: 'network', sent: 'no', retryable: true, code: 'ECONNREFUSED' });
    } finally {
      await orphan.close();
    }
  });

  it('partial results and a rejected image are reported per image', async () => {
    sim.setFaults({ script: [{ kind: 'partial', delivered: 2 }] });
    const partial = await waitForJob(c, (await c.generate({ prompt: 'three views', numImages: 3 }, { idempotencyKey: key() })).jobId);
    expect(partial.status).toBe('completed');
    expect(partial.outputs.map((o) => o.index)).toEqual([0, 1]);
    expect(partial.imageOutcomes.map((o) => o.outcome)).toEqual(['delivered', 'delivered', 'failed']);
    expect(partial.imageOutcomes[2]!.code).toBe('generation_failed');
    expect(partial.billedImages).toBe(2);

    sim.setFaults({ script: [{ kind: 'rejectOne', index: 1 }] });
    const rejected = await waitForJob(c, (await c.generate({ prompt: 'two views', numImages: 2 }, { idempotencyKey: key() })).jobId);
    expect(rejected.imageOutcomes).toEqual([
      { index: 0, outcome: 'delivered' },
      expect.objectContaining({ index: 1, outcome: 'rejected', code: 'content_rejected' }),
    ]);
    expect(rejected.billedImages).toBe(1);
  });

  it('a failed job carries its error, on every image', async () => {
    sim.setFaults({ script: [{ kind: 'failJob', code: 'generation_failed' }] });
    const job = await waitForJob(c, (await c.generate({ prompt: 'doomed', numImages: 2 }, { idempotencyKey: key() })).jobId);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('generation_failed');
    expect(job.imageOutcomes.map((o) => o.outcome)).toEqual(['failed', 'failed']);
    expect(jobFailureError(job).kind).toBe('job_failed');
  });

  it('a stuck job stays running with no outcomes yet', async () => {
    sim.setFaults({ script: [{ kind: 'stuckJob' }] });
    const { jobId } = await c.generate({ prompt: 'forever' }, { idempotencyKey: key() });
    await new Promise((r) => setTimeout(r, 150));
    const job = await c.getJob(jobId);
    expect(job.status).toBe('running');
    expect(job.imageOutcomes).toEqual([]);
  });

  it('an expired output URL is url_expired; corrupt bytes download fine but do not decode; the cap holds', async () => {
    const job = await waitForJob(c, (await c.generate({ prompt: 'three files', numImages: 3 }, { idempotencyKey: key() })).jobId);
    const [a, b, d] = job.outputs;

    sim.setFaults({ script: [{ kind: 'expiredUrl' }] });
    const expired = await providerError(() => c.download(a!.url));
    expect(expired).toMatchObject({ kind: 'url_expired', status: 410, retryable: false, operation: 'download' });
    expect(expired.message).not.toContain(new URL(a!.url).pathname.split('/').pop()!);
    // Expired for good.
    expect((await providerError(() => c.download(a!.url))).kind).toBe('url_expired');

    sim.setFaults({ script: [{ kind: 'corruptImage' }] });
    const corrupt = await c.download(b!.url);
    expect(corrupt.contentType).toMatch(/^image\//);
    expect(corrupt.sizeBytes).toBeGreaterThan(0);
    await expect(sharp(corrupt.bytes).raw().toBuffer()).rejects.toThrow();

    const capped = await providerError(() => c.download(d!.url, { maxBytes: 64 }));
    expect(capped.kind).toBe('invalid_response');
    expect(capped.message).toContain('cap of 64 bytes');
    // The file itself is fine.
    expect((await c.download(d!.url)).sizeBytes).toBeGreaterThan(64);
  });

  it('output URLs expire with time, and downloads never carry the key', async () => {
    const shortLived = await startSimulator({ apiKey: SIM_KEY, latencyMs: { min: 5, max: 10 }, outputScale: 0.05, outputUrlTtlMs: 150 });
    const sc = new ProviderClient({ baseUrl: shortLived.url, apiKey: SIM_KEY });
    const probe = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    });
    try {
      const job = await waitForJob(sc, (await sc.generate({ prompt: 'short-lived' }, { idempotencyKey: key() })).jobId);
      await new Promise((r) => setTimeout(r, 250));
      expect((await providerError(() => sc.download(job.outputs[0]!.url))).kind).toBe('url_expired');
      // The same client, pointed at a foreign host, sends no Authorization header.
      await sc.download(`${probe.url}/out.png`);
      expect(probe.seen[0]!.headers.authorization).toBeUndefined();
    } finally {
      await sc.close();
      await shortLived.close();
    }
  });

  it('402: a submit beyond the remaining credit', async () => {
    const poor = await startSimulator({ apiKey: SIM_KEY, creditUsd: 0.04, latencyMs: { min: 5, max: 10 }, outputScale: 0.05 });
    const pc = new ProviderClient({ baseUrl: poor.url, apiKey: SIM_KEY });
    try {
      const err = await providerError(() => pc.generate({ prompt: 'two please', numImages: 2 }, { idempotencyKey: key() }));
      expect(err).toMatchObject({ kind: 'insufficient_credit', status: 402, retryable: false, code: 'insufficient_credit' });
      const one = await pc.generate({ prompt: 'one is fine' }, { idempotencyKey: key() });
      expect(one.replayed).toBe(false);
    } finally {
      await pc.close();
      await poor.close();
    }
  });

  it('rate limits and server errors on a download are classified too', async () => {
    const job = await waitForJob(c, (await c.generate({ prompt: 'download faults' }, { idempotencyKey: key() })).jobId);
    sim.setFaults({ script: [{ on: 'download', kind: 'rateLimit', retryAfterSeconds: 1 }, { on: 'download', kind: 'serverError', status: 500 }] });
    expect(await providerError(() => c.download(job.outputs[0]!.url))).toMatchObject({ kind: 'rate_limited', retryAfterMs: 1000 });
    expect(await providerError(() => c.download(job.outputs[0]!.url))).toMatchObject({ kind: 'unavailable', status: 500 });
    expect((await c.download(job.outputs[0]!.url)).sizeBytes).toBeGreaterThan(0);
  });
});
