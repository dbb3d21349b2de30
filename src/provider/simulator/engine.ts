/**
 * The simulated service behind the HTTP layer: submit, poll and download decisions, idempotency,
 * billing. It knows nothing of HTTP beyond status codes, so the rules read in one place.
 */
import { requestSchemas, resolveImageSize, type Operation } from '../contract';
import { bodyHash } from './canonical';
import { FaultInjector, faultsSchema, type Faults, type RequestFault } from './faults';
import { FileStore } from './files';
import { invalidRequest, type ErrorReply } from './httpErrors';
import { JobRunner, type SimJob } from './jobs';
import { LedgerBook, type SimulatorLedger } from './ledger';
import { silentLogger, type SimulatorOptions } from './options';
import { createRandom } from './random';

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

  constructor(readonly options: SimulatorOptions) {
    // Separate streams, so fault decisions do not shift with how many jobs happened to start.
    const faultRandom = createRandom(options.seed);
    const latencyRandom = createRandom(options.seed ^ 0x9e3779b9);
    this.creditCents = options.creditUsd === undefined ? undefined : Math.round(options.creditUsd * 100);
    this.ledgerBook = new LedgerBook(this.creditCents);
    this.faults = new FaultInjector(options.faults, faultRandom);
    this.files = new FileStore(options.outputUrlTtlMs, options.maxStoredOutputBytes);
    this.runner = new JobRunner({
      latencyMs: options.latencyMs,
      maxRunning: options.maxRunning,
      referenceFetchTimeoutMs: options.referenceFetchTimeoutMs,
      files: this.files,
      random: latencyRandom,
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
  rejectedEarly(): void {
    this.ledgerBook.rejected();
  }

  submit(model: string, operation: string, rawBody: unknown, idempotencyHeader: string | undefined): SubmitOutcome {
    const outcome = this.decideSubmit(model, operation, rawBody, idempotencyHeader);
    if (outcome.kind !== 'accepted') this.ledgerBook.rejected();
    return outcome;
  }

  private decideSubmit(model: string, operation: string, rawBody: unknown, idempotencyHeader: string | undefined): SubmitOutcome {
    if (model !== this.options.model || !isOperation(operation)) {
      return error(404, 'not_found', `no such endpoint: model '${model}' operation '${operation}' (this simulator serves '${this.options.model}')`);
    }
    const fault = this.faults.requestFault('submit');
    if (fault) return { kind: 'fault', fault };
    if (idempotencyHeader !== undefined && !IDEMPOTENCY_KEY.test(idempotencyHeader)) {
      return { kind: 'error', error: { status: 400, code: 'invalid_request', field: 'Idempotency-Key', message: 'Idempotency-Key: must be 1 to 255 printable ASCII characters' } };
    }
    const parsed = requestSchemas[operation].safeParse(rawBody);
    if (!parsed.success) return { kind: 'error', error: invalidRequest(parsed.error) };
    const body = parsed.data;
    const prompt = body.prompt.toLowerCase();
    if (this.options.blockedTerms.some((term) => prompt.includes(term.toLowerCase()))) {
      return { kind: 'error', error: { status: 422, code: 'content_rejected', field: 'prompt', message: 'prompt: rejected by input moderation' } };
    }
    const hash = bodyHash(operation, model, body);
    const key = idempotencyHeader ?? null;
    const remember = key !== null && !this.faults.forgetIdempotencyKeys;
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
      plan: this.faults.planJob(body.numImages),
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

function isOperation(op: string): op is Operation {
  return op === 'generate' || op === 'edit' || op === 'compose';
}

function error(status: number, code: ErrorReply['code'], message: string): { kind: 'error'; error: ErrorReply } {
  return { kind: 'error', error: { status, code, message } };
}
