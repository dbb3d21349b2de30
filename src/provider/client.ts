/**
 * The production client of the ImaRouter Seedream 4.5 API (and of the local simulator, which speaks
 * the same contract). It submits jobs, reads them, and downloads their outputs; it never retries on
 * its own: every failure is a classified ProviderError, and the caller (a Temporal activity) decides,
 * because only the caller knows whether a retry keeps the same idempotency key.
 */
import { inspect } from 'node:util';
import { Agent, request, type Dispatcher } from 'undici';
import type { z } from 'zod';
import { createGuardedDispatcher } from '../net/guardedFetch';
import { allowEntryForOrigin, parseAllowList } from '../net/allowList';
import {
  BALANCE_PATH,
  DEFAULT_MODEL,
  IDEMPOTENCY_HEADER,
  PRICE_PER_IMAGE_USD,
  REPLAYED_HEADER,
  balanceAnswerSchema,
  paths,
  readErrorAnswer,
  readProviderAnswer,
  requestSchemas,
  routeFor,
  tasksBody,
  type AnswerOutput,
  type AnswerShape,
  type ApiStyle,
  type ComposeRequest,
  type EditRequest,
  type GenerateRequest,
  type Operation,
  type ReadStatus,
  type SubmitBody,
} from './contract';
import {
  ProviderError,
  kindFromHttp,
  parseRetryAfter,
  redactSecrets,
  type ProviderErrorKind,
  type ProviderOperation,
  type SentState,
} from './errors';

export interface SeedreamTimeouts {
  /** TCP (and TLS) connection establishment. */
  connectMs: number;
  /** Whole submit / getJob call, from dispatch to the last byte of the answer. */
  requestMs: number;
  /** Whole output download, redirects included. */
  downloadMs: number;
}

export const DEFAULT_TIMEOUTS: SeedreamTimeouts = { connectMs: 10_000, requestMs: 30_000, downloadMs: 120_000 };
/** A 4096x4096 PNG of real photographic content stays well below this. */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024;
/** API answers are small JSON documents; anything larger is not the contract. */
const MAX_JSON_BYTES = 1024 * 1024;
/** Error bodies are only read for their code and message. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_REDIRECTS = 5;
const MAX_IDEMPOTENCY_KEY_CHARS = 255;
const DEFAULT_USER_AGENT = 'catalog-assets/0.1.0 (seedream-client)';

export interface ProviderClientOptions {
  baseUrl: string;
  apiKey: string;
  model?: string;
  timeouts?: Partial<SeedreamTimeouts>;
  maxDownloadBytes?: number;
  userAgent?: string;
  /** A caller-owned dispatcher (not closed by close()); by default the client owns one keep-alive Agent. */
  dispatcher?: Dispatcher;
  /** Which route family to speak (IMAROUTER_API_STYLE); `seed`, the vendor page's, by default. */
  apiStyle?: ApiStyle;
  /**
   * Output downloads (every redirect hop) through the address guard of src/net: public addresses
   * only, plus these `host:port` entries and the base URL's own host:port (a local simulator).
   */
  downloadGuard?: { allowHosts: readonly string[] };
}

export interface SubmitOptions {
  /** Required: the same key for every attempt of the same step, so a retried submit is not paid twice. */
  idempotencyKey: string;
  signal?: AbortSignal;
}

export interface SubmitResult {
  jobId: string;
  /** `unknown` when the answer's status word is not one the contract maps (see rawStatus). */
  status: ReadStatus;
  /** True only when the provider says the key was seen before (`Idempotent-Replayed: true`). */
  replayed: boolean;
  rawStatus?: string;
  /** Which documented answer shape was recognised. */
  shape?: AnswerShape;
  /** The answer as received (for `provider check`; never logged by the client). */
  raw?: Record<string, unknown>;
}

export interface BalanceResult {
  balanceUsd?: number;
  usedAmountUsd?: number;
  raw: Record<string, unknown>;
}

/** A delivered output as the contract's answer reader reads it, whatever shape the answer came in. */
export type JobOutput = AnswerOutput;

export type ImageOutcomeKind = 'delivered' | 'rejected' | 'failed' | 'missing';

export interface ImageOutcome {
  index: number;
  outcome: ImageOutcomeKind;
  code?: string;
  message?: string;
}

export interface ParsedJob {
  jobId: string;
  /** `unknown` (not terminal) when the status word is not one the contract maps; see rawStatus. */
  status: ReadStatus;
  /** The status word exactly as the provider sent it. */
  rawStatus: string;
  numImages?: number;
  /** Delivered outputs, by index. */
  outputs: JobOutput[];
  /**
   * One entry per requested image once the job is terminal (completed or failed), so a job that
   * delivered fewer images than requested shows which ones and why; empty while queued or running.
   */
  imageOutcomes: ImageOutcome[];
  error?: { code: string; message: string };
  billedImages?: number;
  /** Computed: billed images (or, when not reported, delivered ones) at the contract price; terminal jobs only. */
  costUsd?: number;
  /** What the provider reported it charged (`amount_usd`), kept beside the computed cost. */
  providerCostUsd?: number;
  shape: AnswerShape;
  /** The job document as received, unknown (additive) fields included. */
  raw: Record<string, unknown>;
}

export interface DownloadOptions {
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface DownloadResult {
  bytes: Buffer;
  /** The media type, lower-cased, parameters removed (`image/png`). */
  contentType: string;
  sizeBytes: number;
}

/** How far one HTTP exchange got: decides `sent` when it fails. */
interface Phase {
  /** The connection was up and the request was being written. */
  started: boolean;
  /** The status line and headers arrived. */
  responded: boolean;
  /** Their HTTP status. */
  status?: number;
}

/** Abort reason used for the client's own per-call deadline (told apart from the caller's abort). */
class DeadlineExceeded extends Error {
  constructor(readonly ms: number) {
    super(`deadline of ${ms} ms exceeded`);
  }
}

interface Scope {
  signal: AbortSignal;
  phase: Phase;
  timeoutMs: number;
  deadlineFired: () => boolean;
  callerSignal?: AbortSignal;
  dispose: () => void;
}

type ResponseData = Dispatcher.ResponseData;

export class ProviderClient {
  readonly baseUrl: string;
  readonly model: string;
  readonly timeouts: SeedreamTimeouts;
  readonly maxDownloadBytes: number;
  readonly userAgent: string;
  readonly apiStyle: ApiStyle;
  // A private field: invisible to JSON.stringify, util.inspect and structured clone.
  readonly #apiKey: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #downloadDispatcher: Agent | undefined;

  constructor(options: ProviderClientOptions) {
    const { baseUrl, apiKey } = options;
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch {
      throw new TypeError('ProviderClient: baseUrl must be an absolute http(s) URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`ProviderClient: baseUrl scheme ${parsed.protocol} is not http(s)`);
    }
    if (typeof apiKey !== 'string' || apiKey.trim() === '') throw new TypeError('ProviderClient: apiKey is required');
    if (/[\r\n]/.test(apiKey)) throw new TypeError('ProviderClient: apiKey contains a line break');
    // Keep any path prefix of the base URL (a gateway mount), without a trailing slash.
    this.baseUrl = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
    this.#apiKey = apiKey;
    this.model = options.model ?? DEFAULT_MODEL;
    this.apiStyle = options.apiStyle ?? 'seed';
    if (this.apiStyle !== 'seed' && this.apiStyle !== 'tasks') throw new TypeError('ProviderClient: apiStyle must be seed or tasks');
    // Undefined entries (an unset config value) keep the default rather than erasing it.
    const given = Object.fromEntries(Object.entries(options.timeouts ?? {}).filter(([, v]) => v !== undefined));
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...given };
    for (const [name, ms] of Object.entries(this.timeouts)) {
      if (!Number.isFinite(ms) || ms <= 0) throw new TypeError(`ProviderClient: timeouts.${name} must be a positive number`);
    }
    this.maxDownloadBytes = options.maxDownloadBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    if (options.dispatcher) {
      this.#dispatcher = options.dispatcher;
      this.#ownsDispatcher = false;
    } else {
      this.#dispatcher = new Agent({
        connect: { timeout: this.timeouts.connectMs },
        headersTimeout: this.timeouts.requestMs,
        bodyTimeout: this.timeouts.requestMs,
        keepAliveTimeout: 4_000,
        keepAliveMaxTimeout: 60_000,
      });
      this.#ownsDispatcher = true;
    }
    this.#downloadDispatcher = options.downloadGuard
      ? createGuardedDispatcher([...parseAllowList(options.downloadGuard.allowHosts), allowEntryForOrigin(parsed.origin)], { connectTimeoutMs: this.timeouts.connectMs })
      : undefined;
  }

  generate(req: GenerateRequest, opts: SubmitOptions): Promise<SubmitResult> {
    return this.submit('generate', req, opts);
  }

  edit(req: EditRequest, opts: SubmitOptions): Promise<SubmitResult> {
    return this.submit('edit', req, opts);
  }

  compose(req: ComposeRequest, opts: SubmitOptions): Promise<SubmitResult> {
    return this.submit('compose', req, opts);
  }

  async getJob(jobId: string, opts: { signal?: AbortSignal } = {}): Promise<ParsedJob> {
    if (typeof jobId !== 'string' || jobId.trim() === '') {
      throw new ProviderError({ kind: 'invalid_request', operation: 'getJob', sent: 'no', field: 'jobId', message: 'getJob: jobId must be a non-empty string' });
    }
    const path = routeFor(this.apiStyle, this.model).job(jobId);
    const endpoint = `GET ${path}`;
    const scope = this.scope(this.timeouts.requestMs, opts.signal);
    try {
      const res = await this.exchange(scope, {
        url: this.baseUrl + path,
        method: 'GET',
        headers: this.apiHeaders(),
        timeoutMs: this.timeouts.requestMs,
      });
      if (res.statusCode !== 200) throw await this.httpError('getJob', endpoint, res);
      const body = await this.readJson('getJob', endpoint, res);
      if (!isDocument(body)) throw this.invalidResponse('getJob', endpoint, res.statusCode, `${endpoint} answered ${res.statusCode} with JSON that is not an object`);
      return toParsedJob(body, jobId);
    } catch (err) {
      throw this.mapFailure(err, scope, 'getJob', endpoint);
    } finally {
      scope.dispose();
    }
  }

  /**
   * Downloads an output URL with a byte cap. The API key is never sent: output URLs are capability
   * URLs, often on another host (a CDN or object store).
   */
  async download(url: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
    const maxBytes = opts.maxBytes ?? this.maxDownloadBytes;
    let current = parseDownloadUrl(url);
    const scope = this.scope(this.timeouts.downloadMs, opts.signal);
    let endpoint = `GET ${describeUrl(current)}`;
    try {
      for (let hop = 0; ; hop++) {
        endpoint = `GET ${describeUrl(current)}`;
        scope.phase.started = false;
        scope.phase.responded = false;
        const res = await this.exchange(scope, {
          url: current.href,
          method: 'GET',
          headers: { 'user-agent': this.userAgent, accept: 'image/*' },
          timeoutMs: this.timeouts.downloadMs,
          dispatcher: this.#downloadDispatcher,
        });
        const status = res.statusCode;
        if (status >= 300 && status < 400 && status !== 304) {
          const location = headerValue(res.headers['location']);
          discard(res);
          if (!location) throw this.invalidResponse('download', endpoint, status, `${endpoint} answered ${status} without a Location`);
          if (hop >= MAX_REDIRECTS) throw this.invalidResponse('download', endpoint, status, `${endpoint}: more than ${MAX_REDIRECTS} redirects`);
          current = parseDownloadUrl(new URL(location, current).href);
          continue;
        }
        if (status !== 200) throw await this.downloadHttpError(endpoint, res);
        const contentType = mediaType(headerValue(res.headers['content-type']));
        if (!contentType.startsWith('image/')) {
          discard(res);
          throw this.invalidResponse('download', endpoint, status, `${endpoint} answered content type "${contentType || '(none)'}", not an image`);
        }
        const bytes = await this.readCapped('download', endpoint, res, maxBytes, 'download');
        if (bytes.length === 0) throw this.invalidResponse('download', endpoint, status, `${endpoint} answered an empty body`);
        return { bytes, contentType, sizeBytes: bytes.length };
      }
    } catch (err) {
      // The guard refused the connection: an output URL at a non-public address breaks the contract.
      if (errorCode(err) === 'EBLOCKED') {
        throw new ProviderError({ kind: 'invalid_response', operation: 'download', sent: 'no', endpoint, message: `download refused: ${endpoint} is a non-public address, not the provider's own` });
      }
      throw this.mapFailure(err, scope, 'download', endpoint);
    } finally {
      scope.dispose();
    }
  }

  /**
   * The cheapest authenticated call: ImaRouter's balance endpoint (both styles; it is the router's
   * own, not the model's). Costs nothing; proves the key and the base URL.
   */
  async balance(opts: { signal?: AbortSignal } = {}): Promise<BalanceResult> {
    const endpoint = `GET ${BALANCE_PATH}`;
    const scope = this.scope(this.timeouts.requestMs, opts.signal);
    try {
      const res = await this.exchange(scope, { url: this.baseUrl + BALANCE_PATH, method: 'GET', headers: this.apiHeaders(), timeoutMs: this.timeouts.requestMs });
      if (res.statusCode !== 200) throw await this.httpError('balance', endpoint, res);
      const body = await this.readJson('balance', endpoint, res);
      const parsed = balanceAnswerSchema.safeParse(body);
      if (!parsed.success) throw this.shapeError('balance', endpoint, res.statusCode, parsed.error);
      const num = (v: unknown) => (v === undefined || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v));
      const balanceUsd = num(parsed.data.data.balance_usd);
      const usedAmountUsd = num(parsed.data.data.used_amount_usd);
      return { ...(balanceUsd !== undefined ? { balanceUsd } : {}), ...(usedAmountUsd !== undefined ? { usedAmountUsd } : {}), raw: parsed.data };
    } catch (err) {
      throw this.mapFailure(err, scope, 'balance', endpoint);
    } finally {
      scope.dispose();
    }
  }

  /** Closes the keep-alive connections (only when the client owns its dispatcher). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
    await this.#downloadDispatcher?.close();
  }

  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl, model: this.model, apiStyle: this.apiStyle, apiKey: '[REDACTED]', timeouts: this.timeouts };
  }

  toString(): string {
    return `ProviderClient(${this.baseUrl}, model ${this.model})`;
  }

  [inspect.custom](): string {
    return `ProviderClient ${inspect(this.toJSON())}`;
  }

  // --- internals ---

  private async submit(operation: Operation, req: unknown, opts: SubmitOptions): Promise<SubmitResult> {
    const path = routeFor(this.apiStyle, this.model).submit(operation);
    const endpoint = `POST ${path}`;
    const idempotencyKey = checkIdempotencyKey(operation, opts?.idempotencyKey);
    const validated = this.validateBody(operation, req);
    const body = this.apiStyle === 'tasks' ? tasksBody(operation, this.model, validated as SubmitBody) : validated;
    const scope = this.scope(this.timeouts.requestMs, opts.signal);
    try {
      const res = await this.exchange(scope, {
        url: this.baseUrl + path,
        method: 'POST',
        headers: { ...this.apiHeaders(), 'content-type': 'application/json', [IDEMPOTENCY_HEADER.toLowerCase()]: idempotencyKey },
        body: JSON.stringify(body),
        timeoutMs: this.timeouts.requestMs,
      });
      if (res.statusCode < 200 || res.statusCode >= 300) throw await this.httpError(operation, endpoint, res);
      const json = await this.readJson(operation, endpoint, res);
      const answer = readProviderAnswer(json);
      if (!answer?.jobId) {
        throw this.invalidResponse(operation, endpoint, res.statusCode, `${endpoint} answered ${res.statusCode} without a recognisable job id: ${snippet(Buffer.from(JSON.stringify(json) ?? ''))}`);
      }
      return {
        jobId: answer.jobId,
        status: answer.status,
        replayed: headerValue(res.headers[REPLAYED_HEADER.toLowerCase()])?.trim().toLowerCase() === 'true',
        rawStatus: answer.rawStatus,
        shape: answer.shape,
        raw: json as Record<string, unknown>,
      };
    } catch (err) {
      throw ambiguousIfAccepted(this.mapFailure(err, scope, operation, endpoint), scope.phase);
    } finally {
      scope.dispose();
    }
  }

  /**
   * Validates a submit body before anything is sent (a bad request costs no money). Protected so a
   * contract test can subclass it away and see the provider's own 400.
   */
  protected validateBody(operation: Operation, req: unknown): unknown {
    return validateRequest(operation, req);
  }

  private apiHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.#apiKey}`, accept: 'application/json', 'user-agent': this.userAgent };
  }

  /** One deadline and one phase record per call; the caller's signal is chained in. */
  private scope(timeoutMs: number, callerSignal?: AbortSignal): Scope {
    const controller = new AbortController();
    let fired = false;
    const timer = setTimeout(() => {
      fired = true;
      controller.abort(new DeadlineExceeded(timeoutMs));
    }, timeoutMs);
    const onAbort = () => controller.abort(callerSignal?.reason);
    if (callerSignal) {
      if (callerSignal.aborted) onAbort();
      else callerSignal.addEventListener('abort', onAbort, { once: true });
    }
    return {
      signal: controller.signal,
      phase: { started: false, responded: false },
      timeoutMs,
      deadlineFired: () => fired,
      ...(callerSignal ? { callerSignal } : {}),
      dispose: () => {
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onAbort);
      },
    };
  }

  private async exchange(
    scope: Scope,
    spec: { url: string; method: 'GET' | 'POST'; headers: Record<string, string>; body?: string; timeoutMs: number; dispatcher?: Dispatcher | undefined },
  ): Promise<ResponseData> {
    if (scope.callerSignal?.aborted) throw scope.callerSignal.reason;
    // A per-call view of the shared dispatcher that records how far this exchange got.
    const dispatcher = (spec.dispatcher ?? this.#dispatcher).compose(trackPhase(scope.phase));
    const pending = request(spec.url, {
      dispatcher,
      method: spec.method,
      headers: spec.headers,
      ...(spec.body !== undefined ? { body: spec.body } : {}),
      signal: scope.signal,
      headersTimeout: spec.timeoutMs,
      bodyTimeout: spec.timeoutMs,
    });
    // undici only honours an abort once a connection is up; a request still waiting for one (slow
    // connect, saturated pool) would outlive its deadline. Race the signal so every call ends on time;
    // the abandoned request is then refused by undici before it is written.
    // Rejection reasons are passed on as they are (the caller's abort reason included, as fetch does).
    /* eslint-disable @typescript-eslint/prefer-promise-reject-errors */
    return new Promise<ResponseData>((resolve, reject) => {
      const onAbort = () => reject(scope.signal.reason);
      if (scope.signal.aborted) onAbort();
      else scope.signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (res) => {
          scope.signal.removeEventListener('abort', onAbort);
          if (scope.signal.aborted) discard(res);
          else resolve(res);
        },
        (err: unknown) => {
          scope.signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
    /* eslint-enable @typescript-eslint/prefer-promise-reject-errors */
  }

  /** Reads a body up to a cap; exceeding it aborts the transfer. */
  private async readCapped(
    operation: ProviderOperation,
    endpoint: string,
    res: ResponseData,
    maxBytes: number,
    what: string,
  ): Promise<Buffer> {
    const declared = Number(headerValue(res.headers['content-length']));
    if (Number.isFinite(declared) && declared > maxBytes) {
      discard(res);
      throw this.invalidResponse(operation, endpoint, res.statusCode, `${endpoint}: ${what} of ${declared} bytes exceeds the cap of ${maxBytes} bytes`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      total += buf.length;
      if (total > maxBytes) {
        discard(res);
        throw this.invalidResponse(operation, endpoint, res.statusCode, `${endpoint}: ${what} exceeds the cap of ${maxBytes} bytes`);
      }
      chunks.push(buf);
    }
    return Buffer.concat(chunks, total);
  }

  private async readJson(operation: ProviderOperation, endpoint: string, res: ResponseData): Promise<unknown> {
    const bytes = await this.readCapped(operation, endpoint, res, MAX_JSON_BYTES, 'response');
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch {
      throw this.invalidResponse(operation, endpoint, res.statusCode, `${endpoint} answered ${res.statusCode} with a body that is not JSON: ${snippet(bytes)}`);
    }
  }

  /** Reads what an error answer says; never fails (a broken error body still yields the status). */
  private async readErrorBody(operation: ProviderOperation, endpoint: string, res: ResponseData) {
    let text = '';
    try {
      text = (await this.readCapped(operation, endpoint, res, MAX_ERROR_BODY_BYTES, 'error body')).toString('utf8');
    } catch {
      discard(res);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const error = readErrorAnswer(json);
    return { text, error };
  }

  private async httpError(operation: ProviderOperation, endpoint: string, res: ResponseData): Promise<ProviderError> {
    const status = res.statusCode;
    const { text, error } = await this.readErrorBody(operation, endpoint, res);
    const kind = kindFromHttp(status, error?.code);
    return this.errorFromAnswer(operation, endpoint, status, kind, res, text, error);
  }

  private async downloadHttpError(endpoint: string, res: ResponseData): Promise<ProviderError> {
    const status = res.statusCode;
    const { text, error } = await this.readErrorBody('download', endpoint, res);
    let kind = kindFromHttp(status, error?.code);
    // Object stores answer an expired signed URL with 403 (S3: "Request has expired") or 400 (GCS: ExpiredToken).
    if (status === 410 || (status >= 400 && status < 500 && /expire/i.test(text))) kind = 'url_expired';
    else if (status === 401 || status === 403) kind = 'unauthorized';
    return this.errorFromAnswer('download', endpoint, status, kind, res, text, error);
  }

  private errorFromAnswer(
    operation: ProviderOperation,
    endpoint: string,
    status: number,
    kind: ProviderErrorKind,
    res: ResponseData,
    text: string,
    error: { code?: string | undefined; message: string; field?: string | undefined } | undefined,
  ): ProviderError {
    const retryAfterMs = parseRetryAfter(headerValue(res.headers['retry-after']));
    let detail: string;
    if (error) {
      detail = `${error.code !== undefined ? `${error.code}: ` : ''}${error.message}${error.field ? ` (field ${error.field})` : ''}`;
    } else {
      detail = text.trim() ? `(unstructured body) ${snippet(Buffer.from(text))}` : '(empty body)';
    }
    const retry = retryAfterMs !== undefined ? `; retry after ${retryAfterMs} ms` : '';
    return new ProviderError({
      kind,
      operation,
      endpoint,
      sent: 'yes',
      status,
      message: this.redact(`${operation} failed: ${endpoint} answered ${status} ${detail}${retry}`),
      ...(error?.code !== undefined ? { code: this.redact(error.code) } : {}),
      ...(error?.field !== undefined ? { field: this.redact(error.field) } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }

  private shapeError(operation: ProviderOperation, endpoint: string, status: number, error: z.ZodError): ProviderError {
    return this.invalidResponse(operation, endpoint, status, `${endpoint} answered ${status} with a body outside the contract: ${describeIssues(error)}`);
  }

  private invalidResponse(operation: ProviderOperation, endpoint: string, status: number, message: string): ProviderError {
    return new ProviderError({ kind: 'invalid_response', operation, endpoint, status, sent: 'yes', message: this.redact(`${operation} failed: ${message}`) });
  }

  /**
   * Turns whatever an exchange threw into a ProviderError. The caller's own abort is rethrown as its
   * reason (as fetch does), so cancellation stays cancellation.
   */
  private mapFailure(err: unknown, scope: Scope, operation: ProviderOperation, endpoint: string): unknown {
    if (err instanceof ProviderError) return err;
    if (scope.callerSignal?.aborted && !scope.deadlineFired()) return scope.callerSignal.reason;
    const phase = scope.phase;
    const sent: SentState = phase.responded ? 'yes' : phase.started ? 'maybe' : 'no';
    const code = errorCode(err);
    const causeMessage = err instanceof Error ? err.message : String(err);
    const cause = sanitizedCause(err, (t) => this.redact(t));
    const ambiguity =
      sent === 'maybe' ? ' after the request was sent; the provider may have received it' : sent === 'no' ? ' before the request was sent' : ' while reading the answer';
    let kind: ProviderErrorKind;
    let what: string;
    if (scope.deadlineFired() || err instanceof DeadlineExceeded) {
      kind = 'timeout';
      what = `timed out after ${scope.timeoutMs} ms`;
    } else if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      kind = 'timeout';
      what = `timed out connecting (${causeMessage})`;
    } else if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      kind = 'timeout';
      what = `timed out waiting for the ${code === 'UND_ERR_HEADERS_TIMEOUT' ? 'response' : 'response body'}`;
    } else if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'HPE_INVALID_CONSTANT' || (code?.startsWith('HPE_') ?? false)) {
      kind = 'invalid_response';
      what = `received a malformed HTTP answer (${code}: ${causeMessage})`;
    } else if (code === 'UND_ERR_INVALID_ARG') {
      kind = 'invalid_request';
      what = `could not build the request (${causeMessage})`;
    } else {
      kind = 'network';
      what = `network error${code ? ` ${code}` : ''} (${causeMessage})`;
    }
    return new ProviderError({
      kind,
      operation,
      endpoint,
      sent,
      message: this.redact(`${operation} failed: ${endpoint} ${what}${ambiguity} (sent: ${sent})`),
      ...(code !== undefined ? { code } : {}),
      cause,
    });
  }

  private redact(text: string): string {
    return redactSecrets(text, [this.#apiKey]);
  }
}

/** Validates a submit body with the contract's schema; returns it with defaults applied. */
export function validateRequest(operation: Operation, req: unknown): unknown {
  const parsed = requestSchemas[operation].safeParse(req);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  const field = first ? issueField(first) : undefined;
  throw new ProviderError({
    kind: 'invalid_request',
    operation,
    sent: 'no',
    message: `${operation} request is invalid (not sent): ${describeIssues(parsed.error)}`,
    ...(field ? { field } : {}),
  });
}

function checkIdempotencyKey(operation: Operation, key: unknown): string {
  let problem: string | undefined;
  if (typeof key !== 'string' || key.length === 0) problem = 'is required';
  else if (key.length > MAX_IDEMPOTENCY_KEY_CHARS) problem = `is ${key.length} characters; the limit is ${MAX_IDEMPOTENCY_KEY_CHARS}`;
  else if (!/^[\x21-\x7e]+$/.test(key)) problem = 'must be printable ASCII without spaces';
  if (problem === undefined) return key as string;
  throw new ProviderError({
    kind: 'invalid_request',
    operation,
    sent: 'no',
    field: 'idempotencyKey',
    message: `${operation} request is invalid (not sent): idempotencyKey ${problem}`,
  });
}

function issueField(issue: z.core.$ZodIssue): string | undefined {
  const path = issue.path.map(String).join('.');
  if (path) return path;
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) return issue.keys[0];
  return undefined;
}

function describeIssues(error: z.ZodError, max = 5): string {
  const parts = error.issues.slice(0, max).map((issue) => {
    const field = issue.path.map(String).join('.');
    const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
    return field ? `${field}: ${message}` : message;
  });
  const more = error.issues.length > max ? `; and ${error.issues.length - max} more` : '';
  return parts.join('; ') + more;
}

/**
 * Shapes a job answer (any documented shape, see readProviderAnswer) for callers: outputs by index and
 * one outcome per requested image. `fallbackJobId` (the id that was polled) stands in when the answer
 * does not repeat it.
 */
export function toParsedJob(doc: Record<string, unknown>, fallbackJobId?: string): ParsedJob {
  const answer = readProviderAnswer(doc) ?? { shape: 'unrecognised' as const, status: 'unknown' as const, rawStatus: '', outputs: [], imageErrors: [] };
  const outputs: JobOutput[] = answer.outputs.map((o) => ({ ...o }));
  const imageErrors = answer.imageErrors;
  const terminal = answer.status === 'completed' || answer.status === 'failed';
  const imageOutcomes: ImageOutcome[] = [];
  if (terminal) {
    // Without numImages, the highest index seen is the best lower bound of what was requested.
    const highest = Math.max(-1, ...outputs.map((o) => o.index), ...imageErrors.map((e) => e.index));
    const count = Math.max(answer.numImages ?? 0, highest + 1, answer.status === 'failed' && answer.error ? 1 : 0);
    const delivered = new Set(outputs.map((o) => o.index));
    for (let index = 0; index < count; index++) {
      const imageError = imageErrors.find((e) => e.index === index);
      if (delivered.has(index)) {
        imageOutcomes.push({ index, outcome: 'delivered' });
      } else if (imageError) {
        imageOutcomes.push({
          index,
          outcome: imageError.code === 'content_rejected' ? 'rejected' : 'failed',
          code: imageError.code,
          message: imageError.message,
        });
      } else if (answer.status === 'failed' && answer.error) {
        imageOutcomes.push({
          index,
          outcome: answer.error.code === 'content_rejected' ? 'rejected' : 'failed',
          code: answer.error.code,
          message: answer.error.message,
        });
      } else {
        imageOutcomes.push({ index, outcome: 'missing' });
      }
    }
  }
  const billed = answer.billedImages ?? (terminal ? outputs.length : undefined);
  return {
    jobId: answer.jobId ?? fallbackJobId ?? '',
    status: answer.status,
    rawStatus: answer.rawStatus,
    ...(answer.numImages !== undefined ? { numImages: answer.numImages } : {}),
    outputs,
    imageOutcomes,
    ...(answer.error ? { error: { code: answer.error.code, message: answer.error.message } } : {}),
    ...(answer.billedImages !== undefined ? { billedImages: answer.billedImages } : {}),
    ...(terminal && billed !== undefined ? { costUsd: Math.round(billed * PRICE_PER_IMAGE_USD * 100) / 100 } : {}),
    ...(answer.providerCostUsd !== undefined ? { providerCostUsd: answer.providerCostUsd } : {}),
    shape: answer.shape,
    raw: doc,
  };
}

function isDocument(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The submit ambiguity rule: once the provider answered 2xx, any failure to read that answer (a
 * broken body, no job id, a reset mid-body) leaves a job that may exist and be billed: sent 'maybe'.
 * A 4xx/5xx is a clear refusal (sent 'yes'); nothing sent stays 'no'.
 */
function ambiguousIfAccepted(err: unknown, phase: Phase): unknown {
  if (!(err instanceof ProviderError) || err.sent !== 'yes' || phase.status === undefined || phase.status < 200 || phase.status >= 300) return err;
  return new ProviderError({
    kind: err.kind,
    operation: err.operation,
    sent: 'maybe',
    message: `${err.message} (sent: maybe; the provider accepted the request, so the job may exist and be billed)`,
    ...(err.endpoint !== undefined ? { endpoint: err.endpoint } : {}),
    ...(err.status !== undefined ? { status: err.status } : {}),
    ...(err.code !== undefined ? { code: err.code } : {}),
    cause: err,
  });
}

/**
 * The error a caller raises for a job that ended `failed`: content_rejected (final for the prompt)
 * when moderation refused it, job_failed otherwise. Both are non-retryable as calls; whether to
 * submit a new job is the workflow's decision.
 */
export function jobFailureError(job: ParsedJob, operation: ProviderOperation = 'getJob'): ProviderError {
  const code = job.error?.code ?? 'generation_failed';
  const message = job.error?.message ?? 'the job failed without an error';
  return new ProviderError({
    kind: code === 'content_rejected' ? 'content_rejected' : 'job_failed',
    operation,
    endpoint: `GET ${paths.job(job.jobId)}`,
    sent: 'yes',
    code,
    message: `job ${job.jobId} failed: ${code}: ${message}`,
  });
}

/** An undici interceptor that records when the request starts being written and when headers arrive. */
function trackPhase(phase: Phase): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) =>
    dispatch(opts, {
      onRequestStart(controller, context) {
        phase.started = true;
        handler.onRequestStart?.(controller, context);
      },
      onRequestUpgrade(controller, statusCode, headers, socket) {
        handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
      },
      onResponseStart(controller, statusCode, headers, statusMessage) {
        phase.responded = true;
        phase.status = statusCode;
        handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
      },
      onResponseData(controller, chunk) {
        handler.onResponseData?.(controller, chunk);
      },
      onResponseEnd(controller, trailers) {
        handler.onResponseEnd?.(controller, trailers);
      },
      onResponseError(controller, error) {
        handler.onResponseError?.(controller, error);
      },
    });
}

function parseDownloadUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProviderError({ kind: 'invalid_request', operation: 'download', sent: 'no', field: 'url', message: 'download failed: the URL is not an absolute URL' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ProviderError({
      kind: 'invalid_request',
      operation: 'download',
      sent: 'no',
      field: 'url',
      message: `download failed: URL scheme ${parsed.protocol} is not http(s)`,
    });
  }
  return parsed;
}

/**
 * Host and path only: the query of a signed URL is its capability and stays out of messages. Long
 * path segments (tokens of capability URLs) are shortened for the same reason.
 */
function describeUrl(url: URL): string {
  const path = url.pathname
    .split('/')
    .map((segment) => (segment.length > 24 ? `${segment.slice(0, 6)}…` : segment))
    .join('/');
  return `${url.protocol}//${url.host}${path}`;
}

/**
 * Abandons a response body. undici reports a destroyed body as an 'error' event, which must be
 * swallowed here or it becomes an uncaught exception; the connection is then not reused.
 */
function discard(res: ResponseData): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

function snippet(bytes: Buffer, max = 200): string {
  const text = bytes.subarray(0, max * 4).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** A copy of a transport error with its message redacted; library errors are never passed on as they are. */
function sanitizedCause(err: unknown, redact: (t: string) => string): Error {
  const message = err instanceof Error ? err.message : String(err);
  const copy = new Error(redact(message));
  copy.name = err instanceof Error ? err.name : 'Error';
  const code = errorCode(err);
  if (code !== undefined) (copy as Error & { code?: string }).code = code;
  return copy;
}
