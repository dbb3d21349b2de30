/**
 * The image URLs the worker fetches (PIM packshots, scene and style references) are attacker-chosen.
 * guardedFetch must fetch only http(s); refuse loopback, link-local, private and other special ranges
 * in every notation unless the host is explicitly allowed; re-check every redirect; and cap size and
 * time. The test servers run on 127.0.0.1, which the allowed cases allow by name, so a redirect to the
 * same server under another name (localhost, [::1], 2130706433...) must still be refused, and the
 * server must never see the refused request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSlotAttempts } from '../../src/db/repositories/assets';
import { makeTestImage } from '../../src/dev/testImages';
import { guardedFetch, isBlockedAddress, SourceFetchError, type FetchRefusal, type GuardedFetchOptions } from '../../src/net/guardedFetch';
import { FailureType } from '../../src/shared/failures';
import type { ProductWorkflowResult } from '../../src/temporal/workflows';
import { sampleAttributes, startTestStack, type TestStack } from '../helpers/stack';
import { recordFigures, type Figure } from './figures';

const RUNS = Number(process.env.RELIABILITY_RUNS ?? 1_000);

interface TrapServer {
  port: number;
  origin: string;
  /** Every path requested, in order. */
  seen: string[];
  close(): Promise<void>;
}

async function startTrapServer(): Promise<TrapServer> {
  const jpeg = await makeTestImage({ width: 64, height: 64, format: 'jpeg', seed: 3, text: 'ok' });
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(url.pathname);
    switch (url.pathname) {
      case '/redirect':
        res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/' }).end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/big':
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(50 * 1024 * 1024) });
        res.write(Buffer.alloc(1024));
        return; // never finishes: the declared length alone must be refused
      case '/endless':
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        {
          const chunk = Buffer.alloc(64 * 1024, 0xff);
          const pump = () => {
            while (res.write(chunk)) {
              if (res.destroyed) return;
            }
            res.once('drain', pump);
          };
          pump();
        }
        return;
      case '/silent':
        return; // accepts the connection, never answers
      case '/trickle': {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(Buffer.from([0xff]))), 50);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case '/text':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>metadata</html>');
        return;
      default:
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(jpeg.length) }).end(jpeg);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function refusal(url: string, options: GuardedFetchOptions = {}): Promise<FetchRefusal | 'fetched'> {
  try {
    await guardedFetch(url, { timeoutMs: 5_000, ...options });
    return 'fetched';
  } catch (err) {
    if (err instanceof SourceFetchError) return err.reason;
    throw err;
  }
}

describe('the guarded fetcher of source and reference images', () => {
  let trap: TrapServer;
  const figures: Figure[] = [];

  beforeAll(async () => {
    trap = await startTrapServer();
  });
  afterAll(async () => {
    await trap?.close();
    if (figures.length) recordFigures('ssrf', figures);
  });

  it('fetches only http(s)', { timeout: 20_000 }, async () => {
    const urls = ['file:///etc/passwd', 'ftp://127.0.0.1/x.jpg', 'data:image/png;base64,iVBORw0KGgo=', 'javascript:alert(1)', 'gopher://127.0.0.1:70/_x', 'ws://127.0.0.1/x', 'not a url', '//127.0.0.1/x.jpg'];
    for (const url of urls) expect([url, await refusal(url, { allowHosts: [`127.0.0.1:${trap.port}`] })]).toEqual([url, 'scheme']);
    expect(trap.seen).toEqual([]);
    figures.push({ fault: 'SSRF: non-http(s) URLs (file, ftp, data, javascript, gopher, ws, relative)', tried: `${urls.length} URLs`, lost: '0 fetched' });
  });

  it('refuses loopback, link-local and private addresses in every notation, before any connection', { timeout: 30_000 }, async () => {
    const p = trap.port;
    const urls = [
      `http://127.0.0.1:${p}/a.jpg`,
      `http://localhost:${p}/a.jpg`,
      `http://LOCALHOST.:${p}/a.jpg`,
      `http://127.1:${p}/a.jpg`,
      `http://2130706433:${p}/a.jpg`,
      `http://0x7f000001:${p}/a.jpg`,
      `http://0177.0.0.1:${p}/a.jpg`,
      `http://0:${p}/a.jpg`,
      `http://0.0.0.0:${p}/a.jpg`,
      `http://[::1]:${p}/a.jpg`,
      `http://[::ffff:127.0.0.1]:${p}/a.jpg`,
      `http://[::ffff:7f00:1]:${p}/a.jpg`,
      `http://[0:0:0:0:0:ffff:127.0.0.1]:${p}/a.jpg`,
      `http://[64:ff9b::127.0.0.1]:${p}/a.jpg`,
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://[fe80::1]/a.jpg',
      'http://10.0.0.1/a.jpg',
      'http://172.16.5.4/a.jpg',
      'http://192.168.0.1/a.jpg',
      'http://100.64.0.1/a.jpg',
      'http://198.18.0.1/a.jpg',
      'http://224.0.0.1/a.jpg',
      'http://255.255.255.255/a.jpg',
      `http://user:pass@127.0.0.1:${p}/a.jpg`,
    ];
    for (const url of urls) {
      // A name that does not resolve here (localhost. on a machine without a resolver) is refused too, as a network error.
      const expected = url.includes('LOCALHOST.') ? ['blocked_address', 'network'] : ['blocked_address'];
      expect([url, expected.includes(await refusal(url))]).toEqual([url, true]);
    }
    // Allowing 127.0.0.1 allows that address (in any notation: the URL parser canonicalises 127.1,
    // 2130706433, 0x7f000001...), not another name or address of the same machine.
    const otherNames = [`http://localhost:${p}/a.jpg`, `http://[::1]:${p}/a.jpg`, `http://[::ffff:127.0.0.1]:${p}/a.jpg`, `http://[::ffff:7f00:1]:${p}/a.jpg`, `http://[0:0:0:0:0:ffff:127.0.0.1]:${p}/a.jpg`, `http://[64:ff9b::127.0.0.1]:${p}/a.jpg`, `http://127.0.0.2:${p}/a.jpg`, `http://0.0.0.0:${p}/a.jpg`];
    for (const url of otherNames) expect([url, await refusal(url, { allowHosts: [`127.0.0.1:${p}`] })]).toEqual([url, 'blocked_address']);
    expect(trap.seen).toEqual([]);
    for (const url of [`http://127.1:${p}/same.jpg`, `http://2130706433:${p}/same.jpg`, `http://0x7f000001:${p}/same.jpg`]) {
      expect([url, await refusal(url, { allowHosts: [`127.0.0.1:${p}`] })]).toEqual([url, 'fetched']);
    }
    trap.seen.length = 0;
    expect(trap.seen).toEqual([]);
    figures.push({
      fault: 'SSRF: loopback, link-local (cloud metadata), private, CGNAT, multicast addresses in decimal, hex, octal, short, IPv6 and IPv4-mapped notations, and names resolving to them',
      tried: `${urls.length + 8} URLs (8 of them other names of the machine, with 127.0.0.1 allowed)`,
      lost: '0 requests reached the server',
    });
  });

  it('classifies any address in a non-public range as blocked, and public ones as not, whatever the notation', { timeout: 60_000 }, async () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const blockedV4 = fc.oneof(
      fc.tuple(fc.constant(127), octet, octet, octet),
      fc.tuple(fc.constant(10), octet, octet, octet),
      fc.tuple(fc.constant(169), fc.constant(254), octet, octet),
      fc.tuple(fc.constant(172), fc.integer({ min: 16, max: 31 }), octet, octet),
      fc.tuple(fc.constant(192), fc.constant(168), octet, octet),
      fc.tuple(fc.constant(100), fc.integer({ min: 64, max: 127 }), octet, octet),
      fc.tuple(fc.constant(0), octet, octet, octet),
      fc.tuple(fc.integer({ min: 224, max: 255 }), octet, octet, octet),
    );
    const notations = (o: number[]) => {
      const n = ((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!;
      const hex = (x: number) => `0x${x.toString(16)}`;
      return [o.join('.'), String(n), hex(n), o.map(hex).join('.'), o.map((x) => `0${x.toString(8)}`).join('.'), `${o[0]}.${(o[1]! << 16) + (o[2]! << 8) + o[3]!}`, `[::ffff:${o.join('.')}]`];
    };
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(blockedV4, fc.nat(6), async (o, which) => {
        const host = notations(o)[which]!;
        // The URL parser turns every notation into the canonical address, and that is blocked...
        const parsed = new URL(`http://${host}:${trap.port}/p.jpg`).hostname.replace(/^\[|\]$/g, '');
        expect([host, isBlockedAddress(parsed)]).toEqual([host, true]);
        // ...so the fetcher refuses it before connecting (the 127/8 ones would otherwise reach the trap).
        expect([host, await refusal(`http://${host}:${trap.port}/p.jpg`)]).toEqual([host, 'blocked_address']);
        checked += 1;
      }),
      { numRuns: RUNS, seed: 99 },
    );
    // Public addresses are not blocked (checked offline: nothing is fetched from the internet).
    const publicV4 = fc
      .tuple(fc.integer({ min: 1, max: 223 }), octet, octet, fc.integer({ min: 1, max: 254 }))
      .filter(([a, b, c]) => ![0, 10, 127].includes(a) && !(a === 169 && b === 254) && !(a === 172 && b >= 16 && b <= 31) && !(a === 192 && b === 168) && !(a === 100 && b >= 64 && b <= 127) && !(a === 192 && b === 0 && c === 0) && !(a === 192 && b === 0 && c === 2) && !(a === 198 && (b === 18 || b === 19)) && !(a === 198 && b === 51 && c === 100) && !(a === 203 && b === 0 && c === 113));
    fc.assert(
      fc.property(publicV4, (o) => {
        expect([o.join('.'), isBlockedAddress(o.join('.'))]).toEqual([o.join('.'), false]);
      }),
      { numRuns: RUNS, seed: 100 },
    );
    expect(trap.seen).toEqual([]);
    figures.push({
      fault: 'SSRF: random non-public IPv4 addresses in 7 notations (dotted, decimal, hex, per-octet hex and octal, short, IPv4-mapped IPv6); random public ones',
      tried: `${checked} fetches of non-public addresses, ${RUNS} public addresses classified`,
      lost: '0 requests reached the server; 0 public addresses blocked',
    });
  });

  it('re-checks every redirect: a redirect from an allowed host to another name of the machine is refused', { timeout: 30_000 }, async () => {
    const allow = { allowHosts: [`127.0.0.1:${trap.port}`] };
    const p = trap.port;
    const via = (to: string, status = 302) => `${trap.origin}/redirect?status=${status}&to=${encodeURIComponent(to)}`;
    expect(await refusal(`${trap.origin}/direct.jpg`, allow)).toBe('fetched');
    expect(await refusal(via('/relative.jpg'), allow)).toBe('fetched');
    expect(await refusal(via(`${trap.origin}/absolute.jpg`, 301), allow)).toBe('fetched');
    const refused: Array<[string, FetchRefusal]> = [
      [via(`http://localhost:${p}/trap-localhost.jpg`), 'blocked_address'],
      [via(`http://[::1]:${p}/trap-v6.jpg`, 307), 'blocked_address'],
      [via(`http://2130706434:${p}/trap-decimal.jpg`, 308), 'blocked_address'],
      [via(`http://127.0.0.2:${p}/trap-other.jpg`), 'blocked_address'],
      [via('http://169.254.169.254/latest/meta-data/', 303), 'blocked_address'],
      [via('http://10.1.2.3/internal.jpg'), 'blocked_address'],
      [via('file:///etc/passwd'), 'scheme'],
      [via(via(via(`http://localhost:${p}/trap-deep.jpg`))), 'blocked_address'],
      [`${trap.origin}/loop`, 'too_many_redirects'],
    ];
    for (const [url, reason] of refused) expect([url, await refusal(url, allow)]).toEqual([url, reason]);
    expect(trap.seen.filter((s) => s.startsWith('/trap'))).toEqual([]);
    expect(trap.seen.filter((s) => s === '/loop').length).toBe(4); // the first request and 3 redirects, then it stops
    trap.seen.length = 0;
    figures.push({
      fault: 'SSRF: redirects from an allowed host to localhost, [::1], decimal IPs, other loopback addresses, cloud metadata, private ranges, file:, chains, loops',
      tried: `${refused.length} redirecting URLs (+3 allowed ones fetched)`,
      lost: '0 redirect targets requested',
    });
  });

  it('allows by host AND port: an allowed 127.0.0.1:A opens neither 127.0.0.1:B nor a redirect there', { timeout: 30_000 }, async () => {
    const other = await startTrapServer();
    try {
      const allowA = { allowHosts: [`127.0.0.1:${trap.port}`] };
      expect(await refusal(`${trap.origin}/a.jpg`, allowA)).toBe('fetched');
      expect(await refusal(`${other.origin}/b.jpg`, allowA)).toBe('blocked_address');
      // A redirect from the allowed origin to another port of the same host leaves the allowed set.
      const hop = `${trap.origin}/redirect?to=${encodeURIComponent(`${other.origin}/trap-port.jpg`)}`;
      expect(await refusal(hop, allowA)).toBe('blocked_address');
      // An entry without a port means the scheme's default port only (80 for http), never any port.
      expect(await refusal(`${trap.origin}/a.jpg`, { allowHosts: ['127.0.0.1'] })).toBe('blocked_address');
      // Both allowed: the same redirect is followed.
      expect(await refusal(hop.replace('trap-port', 'ok-port'), { allowHosts: [`127.0.0.1:${trap.port}`, `127.0.0.1:${other.port}`] })).toBe('fetched');
      expect(other.seen).toEqual(['/ok-port.jpg']);
      // A name allowed is that name, not the address it resolves to, and vice versa.
      expect(await refusal(`http://localhost:${trap.port}/n.jpg`, allowA)).toBe('blocked_address');
      trap.seen.length = 0;
      figures.push({
        fault: 'SSRF: the allow-list by host and port (another port of an allowed host, a redirect to it, an entry without a port, a name for an allowed address)',
        tried: '5 URLs',
        lost: '0 requests reached a port that was not allowed',
      });
    } finally {
      await other.close();
    }
  });

  it('refuses the remaining IPv6 forms that reach IPv4 or local space, judges NAT64 and 6to4 by the IPv4 inside', { timeout: 30_000 }, async () => {
    const p = trap.port;
    const blocked = [
      '::7f00:1', // IPv4-compatible 127.0.0.1
      '::127.0.0.1',
      '::ffff:0:7f00:1', // IPv4-translated 127.0.0.1
      '::ffff:0:808:808', // IPv4-translated, even of a public address (not routable traffic)
      '64:ff9b:1::7f00:1', // local-use NAT64
      '64:ff9b:1:ffff::808:808',
      '64:ff9b::7f00:1', // well-known NAT64 of a loopback address
      '64:ff9b::a00:1',
      '64:ff9b::a9fe:a9fe', // NAT64 of the cloud metadata address
      '2002:7f00:1::1', // 6to4 of 127.0.0.1
      '2002:a9fe:a9fe::', // 6to4 of 169.254.169.254
      '2001::1', // Teredo
      '2001:db8::1',
      '100::1',
      'fec0::1',
      'ff02::1',
      '::',
      '0:0:0:0:0:ffff:7f00:1',
    ];
    for (const a of blocked) {
      expect([a, isBlockedAddress(a)]).toEqual([a, true]);
      expect([a, await refusal(`http://[${a}]:${p}/v6.jpg`, { allowHosts: [`127.0.0.1:${p}`] })]).toEqual([a, 'blocked_address']);
    }
    const publicOnes = ['64:ff9b::808:808', '64:ff9b::8.8.8.8', '::ffff:8.8.8.8', '2002:808:808::1', '2001:4860:4860::8888', '2606:4700:4700::1111'];
    for (const a of publicOnes) expect([a, isBlockedAddress(a)]).toEqual([a, false]);
    expect(trap.seen).toEqual([]);
    figures.push({
      fault: 'SSRF: IPv4-compatible (::7f00:1), IPv4-translated (::ffff:0:7f00:1), local-use NAT64 (64:ff9b:1::/48), NAT64 and 6to4 of private IPv4, Teredo, site-local, discard',
      tried: `${blocked.length} addresses fetched, ${publicOnes.length} public NAT64/6to4/mapped addresses classified`,
      lost: '0 requests reached the server; 0 public addresses blocked',
    });
  });

  it('caps size and time', { timeout: 30_000 }, async () => {
    const allow = { allowHosts: [`127.0.0.1:${trap.port}`] };
    expect(await refusal(`${trap.origin}/big`, allow)).toBe('too_large');
    expect(await refusal(`${trap.origin}/endless`, { ...allow, maxBytes: 1024 * 1024 })).toBe('too_large');
    expect(await refusal(`${trap.origin}/small.jpg`, { ...allow, maxBytes: 100 })).toBe('too_large');
    let t0 = Date.now();
    expect(await refusal(`${trap.origin}/silent`, { ...allow, timeoutMs: 700 })).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(5_000);
    t0 = Date.now();
    expect(await refusal(`${trap.origin}/trickle`, { ...allow, timeoutMs: 700 })).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await refusal(`${trap.origin}/text`, allow)).toBe('not_an_image');
    figures.push({ fault: 'SSRF: oversized (declared, endless, over the cap), silent and trickling servers, non-images', tried: '6 URLs', lost: '0 (each refused with its reason within the caps)' });
  });

  describe('in the worker (the prepare step of a product plan)', () => {
    let stack: TestStack;
    beforeAll(async () => {
      stack = await startTestStack();
    }, 120_000);
    afterAll(async () => {
      await stack?.close();
    });

    it('fails the slot that points at a blocked URL, at once and with the reason, and never fetches it', { timeout: 60_000 }, async () => {
      const cases = {
        'SSRF-META': 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
        'SSRF-REDIRECT': `${trap.origin}/redirect?to=${encodeURIComponent(`http://localhost:${trap.port}/trap-worker.jpg`)}`,
        'SSRF-FILE': 'file:///etc/passwd',
      };
      for (const [sku, url] of Object.entries(cases)) {
        await stack.addProducts('rel-ssrf', [{ sku, attributes: sampleAttributes(stack, sku, { packshotUrl: url }) }]);
        const { workflowId } = await stack.trigger({ catalogId: 'rel-ssrf', sku, trigger: 'manual', slots: ['label'] });
        const err = await stack.client.workflow.getHandle<() => Promise<ProductWorkflowResult>>(workflowId).result().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(err, sku).toBeDefined();
        const [attempt] = await getSlotAttempts(stack.database.db, 'rel-ssrf', sku);
        expect(attempt).toMatchObject({ slot: 'label', outcome: 'failed', error_type: FailureType.invalidProductData });
        expect(attempt!.error_message).toMatch(sku === 'SSRF-FILE' ? /URLs are not fetched/ : /non-public address/);
        // Not retried: the prepare activity ran once.
        const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
        expect((history.events ?? []).filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)).toEqual([]);
      }
      expect(trap.seen.filter((s) => s.startsWith('/trap'))).toEqual([]);
      expect(stack.simulator.ledger().submissions).toBe(0);
      figures.push({ fault: 'SSRF through the worker: packshot URLs at cloud metadata, redirecting to localhost, file:', tried: '3 product plans', lost: '0 fetched, 0 paid; each slot failed at once as InvalidProductData with the reason' });
    });
  });
});
