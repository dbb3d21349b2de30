/**
 * A stand-in for a catalog team's event receiver: a real HTTP server that checks each delivery the way
 * a careful Standard Webhooks consumer does (standardwebhooks.com, spec 1.0.0), stricter where the
 * spec leaves room, records what arrived, and injects the faults receivers have.
 *
 * Its checks are written here, from the spec, on purpose independently of the sender
 * (src/publish/webhook): a shared helper would make a wrong signature look right on both sides.
 *
 *  - POST only, to the receiver's path; OPTIONS answers 204 (the sender's reachability check).
 *  - Content-Type application/json; body at most 1 MB.
 *  - webhook-id, webhook-timestamp, webhook-signature all present (400 otherwise); the id without `.`
 *    or spaces; the timestamp integer seconds.
 *  - The timestamp within `toleranceSeconds` (300) of this server's clock either way, else 401.
 *  - One of the space-separated `v1,<base64>` signatures equals HMAC-SHA256(key, "id.timestamp.body")
 *    over the raw bytes received, compared in constant time, else 401. `whsec_<base64>` secrets are
 *    base64-decoded; others are their UTF-8 bytes.
 *  - The body is a JSON object `{ id, type, occurredAt, data }` whose `id` equals webhook-id (400).
 *  - A webhook-id seen before is answered 200 again (receivers are idempotent) and marked duplicate.
 *
 * `GET /_standin/deliveries` lists what arrived (without bodies) for a person or another process.
 *
 * Faults (one-shot by default, taken in order): any status (5xx, 410, 400...), 429 with Retry-After,
 * a slow answer (the delivery is processed, the answer comes after `delayMs`), a dropped connection
 * before the delivery is looked at or after it was accepted (the sender cannot know it arrived).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceiverFault =
  | { kind: 'status'; status: number; body?: string; retryAfter?: string; times?: number }
  | { kind: 'rate_limit'; retryAfter: string; times?: number }
  | { kind: 'slow'; delayMs: number; times?: number }
  | { kind: 'drop'; afterAccept?: boolean; times?: number };

export interface ReceivedAttempt {
  seq: number;
  receivedAt: Date;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The body exactly as received. */
  raw: string;
  /** What the receiver answered (undefined when the connection was dropped). */
  status: number | undefined;
  accepted: boolean;
  /** True when an accepted delivery's webhook-id had been accepted before. */
  duplicate: boolean;
  reason?: string;
  fault?: ReceiverFault['kind'];
  event?: { id: string; type: string; occurredAt: string; data: Record<string, unknown> };
}

export interface ReceiverRecord {
  /** Every POST, accepted or not, in arrival order. */
  readonly attempts: ReceivedAttempt[];
  /** OPTIONS requests (reachability checks). */
  readonly probes: number;
  /** The accepted deliveries (duplicates included). */
  accepted(): ReceivedAttempt[];
  /** The distinct event ids accepted. */
  eventIds(): string[];
}

export interface WebhookReceiver {
  url: string;
  port: number;
  record: ReceiverRecord;
  setFaults(faults: ReceiverFault[]): void;
  close(): Promise<void>;
}

export interface WebhookReceiverOptions {
  port?: number;
  /** The secret(s) this receiver verifies with (several during a rotation). */
  secret: string | string[];
  faults?: ReceiverFault[];
  path?: string;
  toleranceSeconds?: number;
  now?: () => number;
}

const MAX_BODY = 1024 * 1024;
/** `GET` here lists what the receiver got (stand-in only; not part of any receiver's contract). */
export const RECORD_PATH = '/_standin/deliveries';
const ID_PATTERN = /^[A-Za-z0-9_-]{1,256}$/;

function keyOf(secret: string): Buffer {
  if (secret.startsWith('whsec_')) {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    if (key.length === 0) throw new Error('webhook receiver: the whsec_ secret decodes to nothing');
    return key;
  }
  if (secret === '') throw new Error('webhook receiver: the secret is empty');
  return Buffer.from(secret, 'utf8');
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  if (Array.isArray(v)) throw new Refusal(400, `${name} sent more than once`);
  return v;
}

export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const keys = (Array.isArray(options.secret) ? options.secret : [options.secret]).map(keyOf);
  const path = options.path ?? '/events';
  const tolerance = options.toleranceSeconds ?? 300;
  const now = options.now ?? Date.now;
  let faults: Array<ReceiverFault & { left: number }> = [];
  const setFaults = (list: ReceiverFault[]) => {
    faults = list.map((f) => ({ ...f, left: f.times ?? 1 }));
  };
  setFaults(options.faults ?? []);
  const attempts: ReceivedAttempt[] = [];
  const seen = new Set<string>();
  let probes = 0;
  const timers = new Set<NodeJS.Timeout>();

  function takeFault(): ReceiverFault | undefined {
    const f = faults.find((x) => x.left > 0);
    if (f) f.left -= 1;
    return f;
  }

  /** Checks one delivery; returns the event or throws a Refusal. */
  function verify(req: http.IncomingMessage, raw: Buffer): NonNullable<ReceivedAttempt['event']> {
    const type = header(req, 'content-type');
    if (!type || !/^application\/json\s*(;|$)/i.test(type)) throw new Refusal(415, 'content-type must be application/json');
    const id = header(req, 'webhook-id');
    const ts = header(req, 'webhook-timestamp');
    const sig = header(req, 'webhook-signature');
    if (!id) throw new Refusal(400, 'webhook-id header missing');
    if (!ts) throw new Refusal(400, 'webhook-timestamp header missing');
    if (!sig) throw new Refusal(400, 'webhook-signature header missing');
    if (!ID_PATTERN.test(id)) throw new Refusal(400, 'webhook-id must be letters, digits, _ or - (no dots)');
    if (!/^\d{1,12}$/.test(ts)) throw new Refusal(400, 'webhook-timestamp must be integer unix seconds');
    const skew = Math.abs(now() / 1000 - Number(ts));
    if (skew > tolerance) throw new Refusal(401, `webhook-timestamp is ${Math.round(skew)} s away from this receiver's clock (tolerance ${tolerance} s)`);

    const signed = Buffer.concat([Buffer.from(`${id}.${ts}.`, 'utf8'), raw]);
    const expected = keys.map((k) => createHmac('sha256', k).update(signed).digest());
    let matched = false;
    for (const entry of sig.split(' ')) {
      const comma = entry.indexOf(',');
      if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
      const given = Buffer.from(entry.slice(comma + 1), 'base64');
      for (const e of expected) if (given.length === e.length && timingSafeEqual(given, e)) matched = true;
    }
    if (!matched) throw new Refusal(401, 'no v1 signature matches');

    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new Refusal(400, 'the body is not JSON');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Refusal(400, 'the body must be a JSON object');
    const b = body as Record<string, unknown>;
    if (b.id !== id) throw new Refusal(400, 'body id must equal webhook-id');
    if (typeof b.type !== 'string' || !/^[a-z0-9_]+(\.[a-z0-9_]+)+$/.test(b.type)) throw new Refusal(400, 'body type must be a dotted event type');
    if (typeof b.occurredAt !== 'string' || Number.isNaN(Date.parse(b.occurredAt))) throw new Refusal(400, 'body occurredAt must be an ISO date-time');
    if (b.data === null || typeof b.data !== 'object' || Array.isArray(b.data)) throw new Refusal(400, 'body data must be an object');
    return { id, type: b.type, occurredAt: b.occurredAt, data: b.data as Record<string, unknown> };
  }

  function answer(res: http.ServerResponse, attempt: ReceivedAttempt, status: number, body: unknown, extra: Record<string, string> = {}) {
    attempt.status = status;
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', 'x-standin': 'webhook-receiver', ...extra });
    res.end(JSON.stringify(body));
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) {
    const url = new URL(req.url ?? '/', 'http://receiver.invalid');
    const attempt: ReceivedAttempt = {
      seq: attempts.length + 1,
      receivedAt: new Date(now()),
      method: req.method ?? '',
      path: url.pathname,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
      raw: raw.toString('utf8'),
      status: undefined,
      accepted: false,
      duplicate: false,
    };
    attempts.push(attempt);

    const fault = takeFault();
    if (fault) attempt.fault = fault.kind;
    if (fault?.kind === 'drop' && !fault.afterAccept) {
      attempt.reason = 'connection dropped (fault)';
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      attempt.reason = `fault ${fault.status}`;
      return answer(res, attempt, fault.status, { error: fault.body ?? `injected ${fault.status}` }, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
    }
    if (fault?.kind === 'rate_limit') {
      attempt.reason = 'fault 429';
      return answer(res, attempt, 429, { error: 'too many requests' }, { 'retry-after': fault.retryAfter });
    }
    if (fault?.kind === 'slow') {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, fault.delayMs);
        timers.add(t);
      });
    }

    let event: NonNullable<ReceivedAttempt['event']>;
    try {
      event = verify(req, raw);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      attempt.reason = err.message;
      return answer(res, attempt, err.status, { error: err.message });
    }
    attempt.accepted = true;
    attempt.event = event;
    attempt.duplicate = seen.has(event.id);
    seen.add(event.id);
    if (fault?.kind === 'drop') {
      attempt.reason = 'accepted, then the connection dropped (fault)';
      req.socket.destroy();
      return;
    }
    return answer(res, attempt, 200, { received: true, duplicate: attempt.duplicate });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver.invalid');
    if (url.pathname === RECORD_PATH && req.method === 'GET') {
      // What arrived, for a person or a test in another process (the local stack's receiver).
      req.resume();
      const view = attempts.map(({ raw: _raw, ...a }) => a);
      res.writeHead(200, { 'content-type': 'application/json', 'x-standin': 'webhook-receiver' }).end(JSON.stringify({ probes, attempts: view, eventIds: [...seen] }));
      return;
    }
    if (url.pathname !== path) {
      req.resume();
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'no such path' }));
      return;
    }
    if (req.method === 'OPTIONS') {
      probes += 1;
      req.resume();
      res.writeHead(204, { allow: 'POST, OPTIONS' }).end();
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      res.writeHead(405, { allow: 'POST, OPTIONS', 'content-type': 'application/json' }).end(JSON.stringify({ error: 'POST only' }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      if (tooBig) {
        res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'body over 1 MB' }));
        return;
      }
      handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) res.writeHead(500).end(String(err));
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    record: {
      attempts,
      get probes() {
        return probes;
      },
      accepted: () => attempts.filter((a) => a.accepted),
      eventIds: () => [...new Set(attempts.filter((a) => a.accepted).map((a) => a.event!.id))],
    },
    setFaults,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
