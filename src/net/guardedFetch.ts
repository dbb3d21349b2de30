/**
 * Fetches an image the PIM points at (a packshot, a scene reference) as untrusted input:
 * http(s) only; loopback, private, link-local and other special ranges (addresses.ts) refused
 * unless the host and port are allowed by configuration (allowList.ts); every redirect hop re-checked
 * against the same rules; a byte cap and a deadline on every fetch. The address check runs where the
 * connection is opened, on the address resolved for it, so a name cannot resolve to a public address
 * for the check and a private one for the connection.
 */
import dns from 'node:dns';
import net from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import { isBlockedAddress } from './addresses';
import { isAllowed, parseAllowList, type AllowEntry } from './allowList';

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
  /**
   * `host` or `host:port` entries allowed although they are non-public (see allowList.ts: an entry
   * without a port is the scheme's default port only). Every redirect hop is held to the same list.
   */
  allowHosts?: string[];
  maxBytes?: number;
  timeoutMs?: number;
  maxRedirects?: number;
}

export { isBlockedAddress } from './addresses';

function blockedError(host: string, address: string): Error {
  return Object.assign(new Error(`${host} resolves to ${address}, a non-public address`), { code: 'EBLOCKED' });
}

/** A DNS lookup that refuses a name when any address it resolves to is non-public (no mixed answers). */
const refusingLookup: net.LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 4);
    const bad = addresses.find((a) => isBlockedAddress(a.address));
    if (bad) return callback(blockedError(hostname, bad.address), '', 4);
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
    const first = addresses[0]!;
    return callback(null, first.address, first.family);
  });
};

/**
 * The connector behind every guarded dispatcher. It decides per connection, from the host and port
 * the connection is for (so a redirect hop, a pooled connection or a rebinding name are all checked
 * where the socket is opened): an allowed host:port connects as is; anything else connects only to
 * public addresses, checked on the address actually resolved for this connection.
 */
function guardedConnector(allow: readonly AllowEntry[], timeoutMs: number): buildConnector.connector {
  const open = buildConnector({ timeout: timeoutMs });
  const guarded = buildConnector({ timeout: timeoutMs, lookup: refusingLookup });
  return (opts, callback) => {
    if (isAllowed(allow, opts.protocol, opts.hostname, opts.port)) return open(opts, callback);
    // Literal addresses skip the DNS lookup, so they are checked here.
    if (net.isIP(opts.hostname) && isBlockedAddress(opts.hostname)) return callback(blockedError(opts.hostname, opts.hostname), null);
    return guarded(opts, callback);
  };
}

export interface GuardedDispatcherOptions {
  connectTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

/** An undici dispatcher that never connects to a non-public address unless `allow` names its host:port. */
export function createGuardedDispatcher(allow: readonly AllowEntry[], o: GuardedDispatcherOptions = {}): Agent {
  return new Agent({ connect: guardedConnector(allow, o.connectTimeoutMs ?? 10_000), keepAliveTimeout: o.keepAliveTimeoutMs ?? 10_000 });
}

const agents = new Map<string, Agent>();
function agentFor(allow: readonly AllowEntry[]): Agent {
  const key = allow.map((e) => `${e.host}|${e.port ?? ''}`).sort().join(',');
  let agent = agents.get(key);
  if (!agent) {
    agent = createGuardedDispatcher(allow);
    agents.set(key, agent);
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
  const allow = parseAllowList(options.allowHosts ?? []);
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
    const allowed = isAllowed(allow, parsed.protocol, host, parsed.port);
    if (net.isIP(host) && isBlockedAddress(host) && !allowed) {
      throw new SourceFetchError('blocked_address', `${parsed.host} is a non-public address; allow it (host:port) with ALLOW_PRIVATE_REFERENCE_HOSTS`, false);
    }
    let res;
    try {
      res = await request(parsed, { method: 'GET', dispatcher: agentFor(allow), signal: deadline, headers: { accept: 'image/*' } });
    } catch (err) {
      if (deadline.aborted) throw new SourceFetchError('timeout', `fetching ${parsed.origin}${parsed.pathname} took longer than ${timeoutMs} ms`, true);
      const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'EBLOCKED' || /non-public address/.test(String((err as Error).message))) {
        throw new SourceFetchError('blocked_address', `${parsed.host} is or resolves to a non-public address; allow it (host:port) with ALLOW_PRIVATE_REFERENCE_HOSTS`, false);
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
