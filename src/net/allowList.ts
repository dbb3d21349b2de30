/**
 * Exceptions to the address guard: `host:port` pairs an outgoing fetch may reach although they are
 * loopback or private (ALLOW_PRIVATE_REFERENCE_HOSTS, the provider's own origin).
 *
 * An entry names a host and a port: `127.0.0.1:8791`, `[::1]:8790`, `packshots.internal:8443`.
 * An entry without a port means the scheme's default port only (80 for http, 443 for https), so
 * allowing a host never opens every service on it. Hosts are compared in canonical form (the URL
 * parser's: `127.1` is `127.0.0.1`, IPv6 compressed and lower-case); a name and the address it
 * resolves to are different entries.
 */

export interface AllowEntry {
  host: string;
  /** Undefined: the default port of the request's scheme. */
  port: number | undefined;
}

export class AllowListError extends Error {
  override readonly name = 'AllowListError';
}

const DEFAULT_PORT: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** The canonical host of a URL host (brackets of an IPv6 literal removed). */
export function canonicalHost(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
}

export function parseAllowEntry(raw: string): AllowEntry {
  const entry = raw.trim();
  if (entry === '' || /[/?#@\s]/.test(entry)) throw new AllowListError(`${JSON.stringify(raw)} is not host or host:port`);
  // A bare IPv6 address has colons of its own: only the bracketed form carries a port.
  const bareV6 = !entry.startsWith('[') && (entry.match(/:/g)?.length ?? 0) > 1;
  let url: URL;
  try {
    url = new URL(`http://${bareV6 ? `[${entry}]` : entry}`);
  } catch {
    throw new AllowListError(`${JSON.stringify(raw)} is not host or host:port`);
  }
  const explicitPort = /\]:\d+$|^[^[\]:]+:\d+$/.test(entry);
  const port = explicitPort ? Number(entry.slice(entry.lastIndexOf(':') + 1)) : undefined;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65_535)) throw new AllowListError(`${JSON.stringify(raw)}: the port must be 1-65535`);
  return { host: canonicalHost(url.hostname), port };
}

export function parseAllowList(entries: readonly string[]): AllowEntry[] {
  return entries.map(parseAllowEntry);
}

/** The entry of an origin (`http://127.0.0.1:8790`): exactly that host and port. */
export function allowEntryForOrigin(origin: string): AllowEntry {
  const url = new URL(origin);
  return { host: canonicalHost(url.hostname), port: Number(url.port || DEFAULT_PORT[url.protocol] || 0) };
}

/** Whether a connection to host:port under this scheme is allowed by one of the entries. */
export function isAllowed(entries: readonly AllowEntry[], protocol: string, host: string, port: string | number | undefined): boolean {
  const h = canonicalHost(host);
  const defaultPort = DEFAULT_PORT[protocol];
  const p = port === undefined || port === '' ? defaultPort : Number(port);
  if (p === undefined) return false;
  return entries.some((e) => e.host === h && (e.port ?? defaultPort) === p);
}
