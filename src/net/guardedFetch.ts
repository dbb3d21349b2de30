/**
 * Fetches an image the PIM points at (a packshot, a scene reference) as untrusted input:
 * http(s) only; loopback, private, link-local and other special ranges refused unless the host is
 * allowed by configuration; every redirect re-checked; a byte cap and a deadline on every fetch.
 * The address check runs inside the connection's DNS lookup, so a name cannot resolve to a public
 * address for the check and a private one for the connection.
 */
import dns from 'node:dns';
import net from 'node:net';
import { Agent, request } from 'undici';

export type FetchRefusal = 'scheme' | 'blocked_address' | 'too_large' | 'timeout' | 'http_status' | 'not_an_image' | 'network' | 'too_many_redirects';

export class SourceFetchError extends Error {
  override readonly name = 'SourceFetchError';
  constructor(
    readonly reason: FetchRefusal,
    message: string,
    /** Whether another attempt could succeed (a 5xx, a timeout, a network fault). */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface GuardedFetchOptions {
  /** Hosts (names or literal addresses) allowed even though they resolve to non-public addresses. */
  allowHosts?: string[];
  maxBytes?: number;
  timeoutMs?: number;
  maxRedirects?: number;
}

const BLOCKED_V4: Array<[string, number]> = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
];
const blockList = new net.BlockList();
for (const [addr, prefix] of BLOCKED_V4) blockList.addSubnet(addr, prefix, 'ipv4');
for (const [addr, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b::', 96]] as const) {
  blockList.addSubnet(addr, prefix, 'ipv6');
}

export function isBlockedAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return true;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return blockList.check(mapped[1], 'ipv4');
    return blockList.check(address, 'ipv6');
  }
  return blockList.check(address, 'ipv4');
}

function guardedLookup(allowed: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses;
      const bad = list.find((a) => isBlockedAddress(a.address));
      if (bad && !allowed) {
        const e = Object.assign(new Error(`${hostname} resolves to ${bad.address}, a non-public address`), { code: 'EBLOCKED' });
        return callback(e, '', 4);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      const first = list[0]!;
      return callback(null, first.address, first.family);
    });
  };
}

const agents = new Map<boolean, Agent>();
function agentFor(allowed: boolean): Agent {
  let agent = agents.get(allowed);
  if (!agent) {
    agent = new Agent({ connect: { lookup: guardedLookup(allowed), timeout: 10_000 }, keepAliveTimeout: 10_000 });
    agents.set(allowed, agent);
  }
  return agent;
}

export interface FetchedImage {
  bytes: Buffer;
  contentType: string;
  finalUrl: string;
}

export async function guardedFetch(rawUrl: string, options: GuardedFetchOptions = {}): Promise<FetchedImage> {
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxRedirects = options.maxRedirects ?? 3;
  const allowHosts = new Set((options.allowHosts ?? []).map((h) => h.toLowerCase()));
  const deadline = AbortSignal.timeout(timeoutMs);
  let url = rawUrl;
  for (let hop = 0; hop <= maxRedirects; hop++) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new SourceFetchError('scheme', `${JSON.stringify(url)} is not a URL`, false);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new SourceFetchError('scheme', `${parsed.protocol} URLs are not fetched; use http(s)`, false);
    }
    const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const allowed = allowHosts.has(host);
    if (net.isIP(host) && isBlockedAddress(host) && !allowed) {
      throw new SourceFetchError('blocked_address', `${host} is a non-public address; allow it with ALLOW_PRIVATE_REFERENCE_HOSTS`, false);
    }
    let res;
    try {
      res = await request(parsed, { method: 'GET', dispatcher: agentFor(allowed), signal: deadline, headers: { accept: 'image/*' } });
    } catch (err) {
      if (deadline.aborted) throw new SourceFetchError('timeout', `fetching ${parsed.origin}${parsed.pathname} took longer than ${timeoutMs} ms`, true);
      const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'EBLOCKED' || /non-public address/.test(String((err as Error).message))) {
        throw new SourceFetchError('blocked_address', `${host} resolves to a non-public address; allow it with ALLOW_PRIVATE_REFERENCE_HOSTS`, false);
      }
      throw new SourceFetchError('network', `fetching ${parsed.origin}${parsed.pathname} failed: ${code ?? (err as Error).message}`, true);
    }
    if ([301, 302, 303, 307, 308].includes(res.statusCode)) {
      await res.body.dump();
      const location = res.headers.location;
      if (typeof location !== 'string') throw new SourceFetchError('http_status', `redirect without a Location from ${parsed.origin}`, false);
      url = new URL(location, parsed).toString();
      continue;
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new SourceFetchError('http_status', `${parsed.origin}${parsed.pathname} answered HTTP ${res.statusCode}`, res.statusCode >= 500 || res.statusCode === 429);
    }
    const contentType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!contentType.startsWith('image/')) {
      await res.body.dump();
      throw new SourceFetchError('not_an_image', `${parsed.origin}${parsed.pathname} is ${contentType || 'of no content type'}, not an image`, false);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      await res.body.dump();
      throw new SourceFetchError('too_large', `${parsed.origin}${parsed.pathname} is ${declared} bytes; the limit is ${maxBytes}`, false);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res.body) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) {
          res.body.destroy();
          throw new SourceFetchError('too_large', `${parsed.origin}${parsed.pathname} exceeds the limit of ${maxBytes} bytes`, false);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof SourceFetchError) throw err;
      if (deadline.aborted) throw new SourceFetchError('timeout', `fetching ${parsed.origin}${parsed.pathname} took longer than ${timeoutMs} ms`, true);
      throw new SourceFetchError('network', `reading ${parsed.origin}${parsed.pathname} failed: ${(err as Error).message}`, true);
    }
    return { bytes: Buffer.concat(chunks), contentType, finalUrl: parsed.toString() };
  }
  throw new SourceFetchError('too_many_redirects', `more than ${maxRedirects} redirects from ${rawUrl}`, false);
}
