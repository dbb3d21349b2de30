/**
 * Service authentication for everything except the webhooks (signed instead) and /healthz (open, for
 * load balancers): `Authorization: Bearer <SERVICE_TOKEN>`, compared in constant time.
 *
 * With no SERVICE_TOKEN the service refuses to start unless it listens on a loopback address only;
 * then it allows unauthenticated calls (a developer's machine) and logs a warning.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export class ServiceAuthConfigError extends Error {
  override readonly name = 'ServiceAuthConfigError';
}

export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/** Throws when the combination is unsafe: no token on an address other machines can reach. */
export function assertAuthConfig(o: { serviceToken: string | undefined; host: string }): 'token' | 'open-loopback' {
  if (o.serviceToken) return 'token';
  if (isLoopbackHost(o.host)) return 'open-loopback';
  throw new ServiceAuthConfigError(
    `SERVICE_TOKEN is not set and HTTP_HOST=${o.host} is reachable from other machines: set SERVICE_TOKEN (at least 16 characters), or bind HTTP_HOST to 127.0.0.1`,
  );
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Hashing both sides gives equal-length buffers whatever the lengths, so timingSafeEqual applies. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  if (!authorization) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m) return false;
  return timingSafeEqual(sha256(m[1]!), sha256(token));
}
