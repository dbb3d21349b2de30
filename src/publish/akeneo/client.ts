/**
 * The few Akeneo REST calls a publication needs, with the OAuth2 token kept fresh. Every failure is a
 * PublishError whose code says what the publish step should do with it; secrets never appear in a
 * message (the token request's body and the Basic header are built here and never echoed).
 */
import { PublishError } from '../destination';

export interface AkeneoCredentials {
  clientId: string;
  secret: string;
  username: string;
  password: string;
  /** The variable names, for messages that tell the operator what to fix. */
  variables: string;
}

export interface AkeneoClientOptions {
  baseUrl: string;
  credentials: AkeneoCredentials;
  fetch: typeof fetch;
  now: () => number;
  timeoutMs: number;
}

/** One value of an asset attribute, in Akeneo's standard format. */
export interface AssetValue {
  locale: string | null;
  channel: string | null;
  data: unknown;
}

export interface AkeneoAsset {
  code: string;
  values: Record<string, AssetValue[]>;
}

export interface AssetAttribute {
  code: string;
  type: string;
  value_per_locale?: boolean;
  value_per_channel?: boolean;
  allowed_extensions?: string[];
}

interface Token {
  access: string;
  refresh?: string;
  /** When to stop using it: a margin before the server's expiry, so a call never carries a dying token. */
  renewAt: number;
}

/**
 * Akeneo allows 4 concurrent API calls per connection (api.akeneo.com, REST API limitations); more
 * are answered 429. Every publication through one destination shares these slots.
 */
const MAX_CONCURRENT_CALLS = 4;

type RequestBody = NonNullable<RequestInit['body']>;

/** Largest error body read back (Akeneo's are small JSON; a proxy's HTML page need not be kept whole). */
const MAX_ERROR_BODY = 16 * 1024;

export class AkeneoClient {
  private token?: Token;
  private pendingToken?: Promise<Token>;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: AkeneoClientOptions) {}

  /** GET the asset family; `undefined` when the PIM does not have it (or the user may not see it). */
  async getAssetFamily(family: string, signal?: AbortSignal): Promise<Record<string, unknown> | undefined> {
    const res = await this.call('read asset family', { method: 'GET', path: `/api/rest/v1/asset-families/${encodeURIComponent(family)}`, signal, allow: [404] });
    if (res.status === 404) return undefined;
    return (await readJson(res, 'read asset family')) as Record<string, unknown>;
  }

  async getAssetAttribute(family: string, attribute: string, signal?: AbortSignal): Promise<AssetAttribute | undefined> {
    const res = await this.call('read asset attribute', {
      method: 'GET',
      path: `/api/rest/v1/asset-families/${encodeURIComponent(family)}/attributes/${encodeURIComponent(attribute)}`,
      signal,
      allow: [404],
    });
    if (res.status === 404) return undefined;
    return (await readJson(res, 'read asset attribute')) as AssetAttribute;
  }

  /** GET one asset; `undefined` on 404 (not created yet). */
  async getAsset(family: string, code: string, signal?: AbortSignal): Promise<AkeneoAsset | undefined> {
    const res = await this.call('read asset', { method: 'GET', path: assetPath(family, code), signal, allow: [404] });
    if (res.status === 404) return undefined;
    const body = (await readJson(res, 'read asset')) as Partial<AkeneoAsset>;
    return { code: typeof body.code === 'string' ? body.code : code, values: isRecord(body.values) ? body.values : {} };
  }

  /** Uploads one file as an asset media file and returns the code Akeneo gives it. */
  async uploadMediaFile(bytes: Buffer, filename: string, contentType: string, signal?: AbortSignal): Promise<{ code: string; location?: string }> {
    const res = await this.call('upload asset media file', {
      method: 'POST',
      path: '/api/rest/v1/asset-media-files',
      // A fresh body per attempt: a FormData can be sent more than once, but building it per call keeps that obvious.
      body: () => {
        const form = new FormData();
        form.append('file', new Blob([new Uint8Array(bytes)], { type: contentType }), filename);
        return form;
      },
      signal,
      timeoutMs: this.options.timeoutMs * 4,
      expect: [201],
    });
    const code = res.headers.get('asset-media-file-code');
    await res.arrayBuffer().catch(() => undefined);
    if (!code) {
      // Accepted but unnamed: nothing can reference it, so the next attempt uploads again (and the orphan costs nothing).
      throw new PublishError('Akeneo accepted the media file upload but sent no Asset-Media-File-Code header', 'unavailable', true);
    }
    return { code, location: res.headers.get('location') ?? undefined };
  }

  /** Creates or updates an asset; 201 created, 204 updated. */
  async patchAsset(family: string, asset: AkeneoAsset, signal?: AbortSignal): Promise<201 | 204> {
    const res = await this.call('write asset', {
      method: 'PATCH',
      path: assetPath(family, asset.code),
      body: () => JSON.stringify(asset),
      contentType: 'application/json',
      signal,
      expect: [201, 204],
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.status as 201 | 204;
  }

  /** A token now (fetching or refreshing it first where needed). Exposed for `test()`. */
  async accessToken(signal?: AbortSignal): Promise<string> {
    return (await this.currentToken(signal)).access;
  }

  private async currentToken(signal?: AbortSignal, stale?: Token): Promise<Token> {
    const held = this.token;
    if (held && held !== stale && this.options.now() < held.renewAt) return held;
    // Concurrent publications share one token request, so it runs under its own time limit rather
    // than one caller's cancellation; a cancelled caller stops waiting for it.
    this.pendingToken ??= this.obtainToken(held).finally(() => {
      this.pendingToken = undefined;
    });
    return signal ? abortable(this.pendingToken, signal) : this.pendingToken;
  }

  private async obtainToken(previous: Token | undefined): Promise<Token> {
    if (previous?.refresh) {
      try {
        this.token = await this.requestToken({ grant_type: 'refresh_token', refresh_token: previous.refresh });
        return this.token;
      } catch (err) {
        // A refused refresh token (expired, already used) is not fatal: the password grant starts over.
        if (!(err instanceof PublishError) || err.code !== 'bad_credentials') throw err;
      }
    }
    this.token = await this.requestToken({ grant_type: 'password', username: this.options.credentials.username, password: this.options.credentials.password });
    return this.token;
  }

  private async requestToken(grant: Record<string, string>): Promise<Token> {
    const { clientId, secret, variables } = this.options.credentials;
    const started = this.options.now();
    const res = await this.send('request a token', {
      method: 'POST',
      url: `${this.options.baseUrl}/api/oauth/v1/token`,
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`, 'utf8').toString('base64')}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify(grant),
      timeoutMs: this.options.timeoutMs,
    });
    if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408) {
      const detail = await errorDetail(res);
      throw new PublishError(
        `Akeneo refused the ${grant.grant_type === 'refresh_token' ? 'token refresh' : 'credentials'} (HTTP ${res.status}${detail ? `: ${detail}` : ''}); check ${variables}`,
        'bad_credentials',
        false,
      );
    }
    if (res.status !== 200) throw await httpFailure('request a token', res);
    const body = (await readJson(res, 'request a token')) as { access_token?: unknown; expires_in?: unknown; refresh_token?: unknown };
    if (typeof body.access_token !== 'string' || body.access_token === '') {
      throw new PublishError('Akeneo answered the token request without an access_token', 'unavailable', true);
    }
    const ttlMs = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 3_600_000;
    // Renew at 90% of the lifetime, and at least a minute early for long-lived tokens.
    const margin = Math.min(60_000, ttlMs / 10);
    return {
      access: body.access_token,
      refresh: typeof body.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : undefined,
      renewAt: started + ttlMs - margin,
    };
  }

  /**
   * One authenticated call. A 401 means the token died early (revoked, expired by a clock we do not
   * share): a fresh token and one more try; a second 401 is a credentials problem.
   */
  private async call(
    operation: string,
    req: {
      method: string;
      path: string;
      body?: () => RequestBody;
      contentType?: string;
      signal?: AbortSignal;
      timeoutMs?: number;
      expect?: number[];
      allow?: number[];
    },
  ): Promise<Response> {
    const expected = req.expect ?? [200];
    let token = await this.currentToken(req.signal);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { authorization: `Bearer ${token.access}`, accept: 'application/json' };
      if (req.contentType) headers['content-type'] = req.contentType;
      const res = await this.send(operation, {
        method: req.method,
        url: `${this.options.baseUrl}${req.path}`,
        headers,
        body: req.body?.(),
        signal: req.signal,
        timeoutMs: req.timeoutMs ?? this.options.timeoutMs,
      });
      if (res.status === 401 && attempt === 0) {
        await res.arrayBuffer().catch(() => undefined);
        token = await this.currentToken(req.signal, token);
        continue;
      }
      if (expected.includes(res.status) || req.allow?.includes(res.status)) return res;
      if (res.status === 401) {
        const detail = await errorDetail(res);
        throw new PublishError(`Akeneo refused a fresh token to ${operation} (HTTP 401${detail ? `: ${detail}` : ''}); check ${this.options.credentials.variables}`, 'bad_credentials', false);
      }
      throw await httpFailure(operation, res);
    }
  }

  /** fetch with a time limit; transport failures become retryable `network` errors. */
  private async send(
    operation: string,
    req: { method: string; url: string; headers: Record<string, string>; body?: RequestBody; signal?: AbortSignal; timeoutMs: number },
  ): Promise<Response> {
    await this.acquire();
    const timeout = AbortSignal.timeout(req.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    try {
      return await this.options.fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal, redirect: 'error' });
    } catch (err) {
      // The caller's own cancellation is not a destination failure: let it through untouched.
      if (req.signal?.aborted) throw err;
      if (timeout.aborted) {
        throw new PublishError(`Akeneo did not answer the request to ${operation} within ${req.timeoutMs} ms`, 'network', true);
      }
      const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw new PublishError(`could not reach Akeneo to ${operation}: ${cause}`, 'network', true);
    } finally {
      this.release();
    }
  }

  private async acquire(): Promise<void> {
    if (this.active < MAX_CONCURRENT_CALLS) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot to the next waiting call, or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** The promise, or the signal's reason as soon as it aborts (the promise itself runs on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function assetPath(family: string, code: string): string {
  return `/api/rest/v1/asset-families/${encodeURIComponent(family)}/assets/${encodeURIComponent(code)}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readJson(res: Response, operation: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new PublishError(`Akeneo answered the request to ${operation} with HTTP ${res.status} but a body that is not JSON`, 'unavailable', true);
  }
}

/** `message` and each `errors[]` entry (property, attribute, locale) of an Akeneo error body, as one line. */
async function errorDetail(res: Response): Promise<string> {
  let text: string;
  try {
    text = (await res.text()).slice(0, MAX_ERROR_BODY);
  } catch {
    return '';
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text.trim().split('\n')[0]?.slice(0, 200) ?? '';
  }
  if (!isRecord(body)) return '';
  const parts: string[] = [];
  if (typeof body.message === 'string') parts.push(body.message);
  else if (typeof body.error_description === 'string') parts.push(body.error_description);
  if (Array.isArray(body.errors)) {
    for (const e of body.errors.slice(0, 10)) {
      if (!isRecord(e)) continue;
      const where = [
        typeof e.property === 'string' ? `property "${e.property}"` : undefined,
        typeof e.attribute === 'string' ? `attribute "${e.attribute}"` : undefined,
        typeof e.locale === 'string' ? `locale ${e.locale}` : undefined,
      ].filter(Boolean);
      parts.push(`${where.length ? `${where.join(', ')}: ` : ''}${typeof e.message === 'string' ? e.message : 'invalid'}`);
    }
  }
  return parts.join('; ');
}

/** Seconds or an HTTP date, as milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

async function httpFailure(operation: string, res: Response): Promise<PublishError> {
  const detail = await errorDetail(res);
  const what = `Akeneo answered HTTP ${res.status} to ${operation}${detail ? `: ${detail}` : ''}`;
  const after = retryAfterMs(res.headers.get('retry-after'));
  if (res.status === 429) return new PublishError(what, 'rate_limited', true, after);
  if (res.status >= 500 || res.status === 408) return new PublishError(what, 'unavailable', true, after);
  if (res.status === 401 || res.status === 403) {
    return new PublishError(`${what} (the API user needs the asset manager's "edit assets" permission on the family)`, 'bad_credentials', false);
  }
  if (res.status === 404) return new PublishError(what, 'not_found', false);
  return new PublishError(what, 'rejected', false);
}
