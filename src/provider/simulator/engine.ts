/**
 * The simulated service behind the HTTP layer: submit, poll and download decisions, idempotency,
 * billing. It knows nothing of HTTP beyond status codes, so the rules read in one place.
 */
import { z } from 'zod';
import { LIMITS, parseTasksSize, referenceSchema, requestSchemas, resolveImageSize, type Operation } from '../contract';
import { bodyHash } from './canonical';
import { FaultInjector, faultsSchema, type Faults, type RequestFault } from './faults';
import { FileStore } from './files';
import { invalidRequest, type ErrorReply } from './httpErrors';
import { DialectWriter } from './dialects';
import { JobRunner, type SimJob } from './jobs';
import { latencyDrawer } from './latency';
import { labelTextOf } from './render';
import { LedgerBook, type SimulatorLedger } from './ledger';
import { silentLogger, type SimulatorOptions } from './options';
import { createRandom } from '../../support/random';

export type SubmitOutcome =
  | { kind: 'error'; error: ErrorReply }
  | { kind: 'fault'; fault: RequestFault }
  | { kind: 'accepted'; job: SimJob; replay: boolean; dropAnswer: boolean };

export type PollOutcome = { kind: 'error'; error: ErrorReply } | { kind: 'fault'; fault: RequestFault } | { kind: 'job'; job: SimJob };

export type DownloadOutcome =
  | { kind: 'error'; error: ErrorReply }
  | { kind: 'fault'; fault: RequestFault }
  | { kind: 'file'; bytes: Buffer; contentType: string };

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export class SimulatorEngine {
  readonly files: FileStore;
  readonly runner: JobRunner;
  private readonly faults: FaultInjector;
  private ledgerBook: LedgerBook;
  private idempotency = new Map<string, { hash: string; job: SimJob }>();
  private readonly creditCents: number | undefined;
  readonly dialects: DialectWriter;

  constructor(readonly options: SimulatorOptions) {
    // Separate streams, so fault decisions do not shift with how many jobs happened to start.
    const faultRandom = createRandom(options.seed);
    const latencyRandom = createRandom(options.seed ^ 0x9e3779b9);
    this.dialects = new DialectWriter(options.dialect, createRandom(options.seed ^ 0x5bd1e995));
    this.creditCents = options.creditUsd === undefined ? undefined : Math.round(options.creditUsd * 100);
    this.ledgerBook = new LedgerBook(this.creditCents);
    this.faults = new FaultInjector(options.faults, faultRandom);
    this.files = new FileStore(options.outputUrlTtlMs, options.maxStoredOutputBytes);
    this.runner = new JobRunner({
      drawLatencyMs: latencyDrawer({ profile: options.latencyProfile, latencyMs: options.latencyMs, timeScale: options.timeScale }, latencyRandom),
      maxRunning: options.maxRunning,
      referenceFetchTimeoutMs: options.referenceFetchTimeoutMs,
      files: this.files,
      logger: options.logger ?? silentLogger,
      onStatus: (job) => this.ledgerBook.statusChanged(job.id, job.status),
      onFinished: (job) =>
        this.ledgerBook.finished({ jobId: job.id, idempotencyKey: job.idempotencyKey, bodyHash: job.bodyHash, status: job.status, billedImages: job.billedImages }),
    });
  }

  ledger(): SimulatorLedger {
    return this.ledgerBook.snapshot();
  }

  currentFaults(): Faults {
    return this.faults.current();
  }

  /** Replaces every fault setting (validated; throws a ZodError on bad input). */
  setFaults(input: unknown): Faults {
    this.faults.set(faultsSchema.parse(input));
    return this.faults.current();
  }

  /** Clears jobs, files, idempotency keys and the ledger; fault settings stay. */
  reset(): void {
    this.runner.reset();
    this.files.clear();
    this.idempotency = new Map();
    this.ledgerBook = new LedgerBook(this.creditCents);
  }

  close(): void {
    this.runner.close();
    this.files.clear();
  }

  /** A submit that never reached the handler's logic (auth, malformed body) still counts as rejected. */
  rejectedEarly(rejection: { idempotencyKey: string | null; status: number; code: string }): void {
    this.ledgerBook.rejected(rejection);
  }

  submit(model: string, operation: string, rawBody: unknown, idempotencyHeader: string | undefined): SubmitOutcome {
    return this.booked(this.decideSubmit(model, operation, rawBody, idempotencyHeader), idempotencyHeader);
  }

  /** A submit on the unified task route: the model is in the body, the fields are snake_case. */
  submitTask(rawBody: unknown, idempotencyHeader: string | undefined): SubmitOutcome {
    return this.booked(this.decideTaskSubmit(rawBody, idempotencyHeader), idempotencyHeader);
  }

  /** Books a refused submit under its key with the answer it gets; an accepted one is booked as its job. */
  private booked(outcome: SubmitOutcome, idempotencyHeader: string | undefined): SubmitOutcome {
    const key = idempotencyHeader ?? null;
    if (outcome.kind === 'error') this.ledgerBook.rejected({ idempotencyKey: key, status: outcome.error.status, code: outcome.error.code });
    else if (outcome.kind === 'fault') {
      const f = outcome.fault;
      this.ledgerBook.rejected({ idempotencyKey: key, status: f.kind === 'rateLimit' ? 429 : f.kind === 'serverError' ? f.status : 0, code: f.kind });
    }
    return outcome;
  }

  /** What the balance endpoint reports: the configured credit (or balanceUsd) less what was billed. */
  balance(): { balanceUsd: number; usedAmountUsd: number } {
    const ledger = this.ledgerBook.snapshot();
    const total = this.creditCents ?? Math.round(this.options.balanceUsd * 100);
    return { balanceUsd: (total - Math.round(ledger.costUsd * 100)) / 100, usedAmountUsd: ledger.costUsd };
  }

  private decideSubmit(model: string, operation: string, rawBody: unknown, idempotencyHeader: string | undefined): SubmitOutcome {
    if (model !== this.options.model || !isOperation(operation)) {
      return error(404, 'not_found', `no such endpoint: model '${model}' operation '${operation}' (this simulator serves '${this.options.model}')`);
    }
    const fault = this.faults.requestFault('submit');
    if (fault) return { kind: 'fault', fault };
    const badKey = checkKey(idempotencyHeader);
    if (badKey) return badKey;
    const parsed = requestSchemas[operation].safeParse(rawBody);
    if (!parsed.success) return { kind: 'error', error: invalidRequest(parsed.error) };
    return this.accept(model, operation, parsed.data, idempotencyHeader);
  }

  private decideTaskSubmit(rawBody: unknown, idempotencyHeader: string | undefined): SubmitOutcome {
    const fault = this.faults.requestFault('submit');
    if (fault) return { kind: 'fault', fault };
    const badKey = checkKey(idempotencyHeader);
    if (badKey) return badKey;
    const parsed = taskRequestSchema.safeParse(rawBody);
    if (!parsed.success) return { kind: 'error', error: invalidRequest(parsed.error) };
    const t = parsed.data;
    if (t.model !== this.options.model) {
      return { kind: 'error', error: { status: 400, code: 'invalid_request', field: 'model', message: `model: '${t.model}' is not served here (this simulator serves '${this.options.model}')` } };
    }
    const size = parseTasksSize(t.size);
    if (!size) return { kind: 'error', error: { status: 400, code: 'invalid_request', field: 'size', message: 'size: expected WxH, 2K or 4K' } };
    const operation: Operation = t.image !== undefined ? 'edit' : t.images !== undefined ? 'compose' : 'generate';
    // The model's own semantics: JPEG out, no quality knob; the rest is checked by the same schema as the seed routes.
    const internal = {
      prompt: t.prompt,
      imageSize: size,
      quality: 'high',
      numImages: t.n,
      outputFormat: 'jpeg',
      watermark: t.watermark,
      ...(t.image !== undefined ? { imageUrl: t.image } : {}),
      ...(t.images !== undefined ? { imageUrls: t.images } : {}),
    };
    const checked = requestSchemas[operation].safeParse(internal);
    if (!checked.success) {
      const reply = invalidRequest(checked.error);
      const field = reply.field?.replace(/^imageSize(\.\w+)?/, 'size').replace(/^numImages/, 'n').replace(/^imageUrls/, 'images').replace(/^imageUrl/, 'image');
      return { kind: 'error', error: { ...reply, ...(field !== undefined ? { field, message: `${field}: ${reply.message.replace(/^[^:]*: /, '')}` } : {}) } };
    }
    return this.accept(t.model, operation, checked.data, idempotencyHeader);
  }

  private accept(
    model: string,
    operation: Operation,
    body: z.output<(typeof requestSchemas)[Operation]> & { imageUrl?: string; imageUrls?: string[] },
    idempotencyHeader: string | undefined,
  ): SubmitOutcome {
    const prompt = body.prompt.toLowerCase();
    if (this.options.blockedTerms.some((term) => prompt.includes(term.toLowerCase()))) {
      return { kind: 'error', error: { status: 422, code: 'content_rejected', field: 'prompt', message: 'prompt: rejected by input moderation' } };
    }
    const hash = bodyHash(operation, model, body);
    const key = idempotencyHeader ?? null;
    const remember = key !== null && !this.faults.forgetIdempotencyKeys && !this.options.ignoreIdempotency;
    if (remember) {
      const seen = this.idempotency.get(key);
      if (seen && seen.hash !== hash) {
        return error(409, 'idempotency_conflict', 'this Idempotency-Key was used with a different request body');
      }
      if (seen) {
        this.ledgerBook.replayed();
        return { kind: 'accepted', job: seen.job, replay: true, dropAnswer: this.faults.dropAfterAccept() };
      }
    }
    if (!this.ledgerBook.canAfford(body.numImages)) {
      return error(402, 'insufficient_credit', `the account's credit does not cover ${body.numImages} image(s)`);
    }
    const size = resolveImageSize(body.imageSize);
    const scale = this.options.outputScale;
    const references = referencesOf(body);
    const plan = this.faults.planJob(body.numImages);
    // Drawn only for edits that ask for label text, so every other job's fault stream is unchanged.
    if (operation === 'edit' && labelTextOf(body.prompt) !== undefined) plan.misspellLabel = this.faults.misspellLabel();
    const job = this.runner.create({
      operation,
      model,
      bodyHash: hash,
      idempotencyKey: key,
      numImages: body.numImages,
      render: {
        prompt: body.prompt,
        width: Math.max(16, Math.round(size.width * scale)),
        height: Math.max(16, Math.round(size.height * scale)),
        format: body.outputFormat,
        quality: body.quality,
        watermark: body.watermark,
      },
      references,
      plan,
    });
    this.ledgerBook.jobCreated({ jobId: job.id, idempotencyKey: key, operation, bodyHash: hash }, body.numImages);
    if (remember) this.idempotency.set(key, { hash, job });
    return { kind: 'accepted', job, replay: false, dropAnswer: this.faults.dropAfterAccept() };
  }

  poll(jobId: string): PollOutcome {
    const fault = this.faults.requestFault('poll');
    if (fault) return { kind: 'fault', fault };
    const job = this.runner.get(jobId);
    if (!job) return error(404, 'not_found', 'no such job');
    return { kind: 'job', job };
  }

  download(token: string): DownloadOutcome {
    const file = this.files.get(token);
    if (!file) return error(404, 'not_found', 'no such file');
    if (this.files.isExpired(file)) return error(410, 'url_expired', 'this output URL has expired; fetch the job again or resubmit');
    const fault = this.faults.requestFault('download');
    if (fault) return { kind: 'fault', fault };
    const fate = this.faults.downloadFate(!file.fetched);
    file.fetched = true;
    if (fate.expire) {
      this.files.expire(file);
      return error(410, 'url_expired', 'this output URL has expired; fetch the job again or resubmit');
    }
    const bytes = file.bytes!;
    // A truncated body under an image content type: the transfer is clean, the image is not.
    return { kind: 'file', bytes: fate.corrupt ? bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 3))) : bytes, contentType: file.contentType };
  }
}

function referencesOf(body: { prompt: string; imageUrl?: string; imageUrls?: string[] }): Array<{ ref: string; field: string }> {
  if (body.imageUrl !== undefined) return [{ ref: body.imageUrl, field: 'imageUrl' }];
  return (body.imageUrls ?? []).map((ref, i) => ({ ref, field: `imageUrls.${i}` }));
}

/**
 * The task route's body, strict as a validating provider is. Names follow the upstream model
 * (`size`, `n`, `image`, `images`, `response_format`, `watermark`); `watermark` defaults to true,
 * as upstream does, so a client that forgets it gets marked images.
 */
const taskRequestSchema = z
  .object({
    model: z.string().min(1),
    prompt: z.string().trim().min(1, 'must not be empty').max(LIMITS.maxPromptChars),
    size: z.string().default('2048x2048'),
    n: z.number().int().min(1).max(LIMITS.maxNumImages).default(1),
    response_format: z.literal('url', { message: 'only url is served' }).default('url'),
    watermark: z.boolean().default(true),
    image: referenceSchema.optional(),
    images: z.array(referenceSchema).min(1).max(LIMITS.maxReferences).optional(),
    seed: z.number().int().optional(),
    sequential_image_generation: z.enum(['auto', 'disabled']).optional(),
  })
  .strict()
  .refine((t) => t.image === undefined || t.images === undefined, { message: 'send image (edit) or images (compose), not both', path: ['images'] });

function checkKey(header: string | undefined): SubmitOutcome | undefined {
  if (header === undefined || IDEMPOTENCY_KEY.test(header)) return undefined;
  return { kind: 'error', error: { status: 400, code: 'invalid_request', field: 'Idempotency-Key', message: 'Idempotency-Key: must be 1 to 255 printable ASCII characters' } };
}

function isOperation(op: string): op is Operation {
  return op === 'generate' || op === 'edit' || op === 'compose';
}

function error(status: number, code: ErrorReply['code'], message: string): { kind: 'error'; error: ErrorReply } {
  return { kind: 'error', error: { status, code, message } };
}
