/**
 * Bounded fetching of the images a PIM points at. One unreachable host must not stall a catalog:
 * each source gets a few tries spread over a short window (counted by the caller's attempt number,
 * so the retries are the step's own and nothing loops forever), deterministic causes end at once,
 * and a host found unreachable is remembered for a minute so every other product that points at it
 * fails at once with the same reason instead of spending the whole window again.
 */
import { SourceFetchError, type FetchedImage } from './guardedFetch';

export interface SourceFetchPolicy {
  /** Tries per source, the first included. */
  attempts: number;
  /** The tries are spread over about this long, from the first. */
  windowMs: number;
  /** How long a host stays known as unreachable after a connection-level failure. */
  hostDownMs: number;
}

export const DEFAULT_SOURCE_FETCH_POLICY: SourceFetchPolicy = { attempts: 4, windowMs: 120_000, hostDownMs: 60_000 };

/** Where the caller is in its own retries. */
export interface SourceAttempt {
  /** 1 for the first try. */
  attempt: number;
  /** When the first try was scheduled (epoch ms); undefined when unknown. */
  firstAttemptAtMs?: number;
  /** No retry will follow whatever happens (a dry run): every failure is final. */
  final?: boolean;
}

/**
 * Why a source could not be fetched, and whether the caller should try again (after `retryDelayMs`)
 * or give up now. `reason` is short and the same for every URL that met it: `ENOTFOUND cdn.example.com`.
 */
export class SourceUnavailableError extends Error {
  override readonly name = 'SourceUnavailableError';
  constructor(
    /** Short and the same for every URL that met it. */
    readonly reason: string,
    /** Another try may succeed: undefined means give up (bad data, a down host, tries used up). */
    readonly retryDelayMs: number | undefined,
    /** The data itself is wrong (404, not an image, a blocked address): no later run will fix it either. */
    readonly badData: boolean,
  ) {
    super(reason);
  }
}

/** Connection-level codes: the host, not the URL, is the problem. */
const HOST_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);
/** Codes that one quick retry rules out as a blip; more tries would only burn the window. */
const DETERMINISTIC_CODES = new Set(['ENOTFOUND']);
const QUICK_RETRY_MS = 1_000;

function hostOf(url: string): string {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return '';
  }
}

/** The errno-like code in a network error's message (`… failed: ENOTFOUND`), if any. */
function codeIn(message: string): string | undefined {
  // The code follows "failed: "; a URL earlier in the message may hold capitals of its own.
  return /failed: (E[A-Z_]{2,}|UND_ERR_[A-Z_]+)\b/.exec(message)?.[1];
}

interface Classified {
  cause: string;
  /** Whether another try could succeed. */
  transient: boolean;
  /** Whether the host as a whole is unreachable. */
  hostDown: boolean;
  /** Tries it is worth at most. */
  maxAttempts?: number;
}

function classify(err: unknown, host: string): Classified {
  if (err instanceof SourceFetchError) {
    if (err.reason === 'network') {
      const code = codeIn(err.message);
      if (code) {
        return { cause: `${code} ${host}`, transient: true, hostDown: HOST_CODES.has(code), maxAttempts: DETERMINISTIC_CODES.has(code) ? 2 : undefined };
      }
      return { cause: err.message, transient: true, hostDown: false };
    }
    if (err.reason === 'timeout') return { cause: `timed out (${host})`, transient: true, hostDown: false };
    if (err.reason === 'http_status') {
      const status = /HTTP (\d{3})/.exec(err.message)?.[1];
      return { cause: status ? `HTTP ${status}` : err.message, transient: err.retryable, hostDown: false };
    }
    return { cause: err.message, transient: err.retryable, hostDown: false };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { cause: message, transient: true, hostDown: false };
}

export interface SourceFetcher {
  fetch(url: string, at: SourceAttempt): Promise<FetchedImage>;
  /** Hosts currently known as unreachable, with their cause (for logs and tests). */
  downHosts(): Array<{ host: string; cause: string; untilMs: number }>;
}

/**
 * Wraps a raw fetch with the policy. Every failure is a SourceUnavailableError saying whether to
 * retry. The negative cache is per process: each worker learns a host is down on its own.
 */
export function createSourceFetcher(
  rawFetch: (url: string) => Promise<FetchedImage>,
  policy: () => SourceFetchPolicy,
  now: () => number = Date.now,
): SourceFetcher {
  const down = new Map<string, { cause: string; untilMs: number }>();

  /** The delay before try `next`: spread geometrically (1:2:4…) so the last try lands near the window's end. */
  function delayBefore(next: number, p: SourceFetchPolicy): number {
    const gaps = Math.max(1, p.attempts - 1);
    const unit = p.windowMs / (2 ** gaps - 1);
    return Math.max(QUICK_RETRY_MS, Math.round(unit * 2 ** (next - 2)));
  }

  return {
    async fetch(url, at) {
      const p = policy();
      const host = hostOf(url);
      const known = down.get(host);
      if (known && known.untilMs <= now()) down.delete(host);
      // A first try meets a known-down host's cause at once; a retry looks again, or no retry could ever succeed.
      if (known && known.untilMs > now() && (at.attempt <= 1 || at.final)) {
        throw new SourceUnavailableError(known.cause, undefined, false);
      }
      try {
        const fetched = await rawFetch(url);
        down.delete(host);
        return fetched;
      } catch (err) {
        const c = classify(err, host);
        if (c.hostDown && host) down.set(host, { cause: c.cause, untilMs: now() + p.hostDownMs });
        if (!c.transient) throw new SourceUnavailableError(c.cause, undefined, true);
        const maxAttempts = Math.min(p.attempts, c.maxAttempts ?? p.attempts);
        const next = at.attempt + 1;
        if (at.final || next > maxAttempts) throw new SourceUnavailableError(c.cause, undefined, false);
        const delay = c.maxAttempts !== undefined ? QUICK_RETRY_MS : delayBefore(next, p);
        const elapsed = at.firstAttemptAtMs !== undefined ? Math.max(0, now() - at.firstAttemptAtMs) : 0;
        if (elapsed + delay > p.windowMs * 1.1) throw new SourceUnavailableError(c.cause, undefined, false);
        throw new SourceUnavailableError(c.cause, delay, false);
      }
    },
    downHosts() {
      const t = now();
      return [...down.entries()].filter(([, v]) => v.untilMs > t).map(([host, v]) => ({ host, ...v }));
    },
  };
}
