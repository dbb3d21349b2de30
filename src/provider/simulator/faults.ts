/**
 * Fault injection: the failures the real service and the networks in between produce, on demand.
 * Probabilistic faults draw from the instance's seeded PRNG; a `script` of one-shot faults lets a test
 * say exactly what the next submit, poll or download gets. A matching script entry replaces the random
 * roll for that operation and stage.
 */
import { z } from 'zod';
import { errorCodes, type ErrorCode } from '../contract';
import type { Random } from '../../support/random';

const probability = z.number().min(0).max(1).default(0);
const retryAfterSeconds = z.number().int().min(0).max(86_400).default(1);
const serverStatus = z.union([z.literal(500), z.literal(502), z.literal(503)]);
const extraMs = z.number().int().min(0).max(86_400_000).default(5_000);

/** A probabilistic fault; a bare number is shorthand for `{ probability: n }`. */
function fault<T extends z.ZodRawShape>(shape: T) {
  const object = z.object({ probability, ...shape }).strict();
  // The cast keeps the input type precise (z.preprocess would type it as unknown).
  const withShorthand = z.preprocess((v) => (typeof v === 'number' ? { probability: v } : v), object) as unknown as z.ZodType<
    z.output<typeof object>,
    z.input<typeof object> | number
  >;
  return withShorthand.prefault(0);
}

const anyOperation = z.enum(['submit', 'poll', 'download']);
export const scriptEntrySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('rateLimit'), on: anyOperation, retryAfterSeconds, asHttpDate: z.boolean().default(false) }).strict(),
  z.object({ kind: z.literal('serverError'), on: anyOperation, status: serverStatus.default(500) }).strict(),
  z.object({ kind: z.literal('dropBeforeAccept'), on: z.literal('submit').default('submit') }).strict(),
  z.object({ kind: z.literal('dropAfterAccept'), on: z.literal('submit').default('submit') }).strict(),
  z.object({ kind: z.literal('slowJob'), on: z.literal('submit').default('submit'), extraMs }).strict(),
  z.object({ kind: z.literal('stuckJob'), on: z.literal('submit').default('submit') }).strict(),
  z
    .object({
      kind: z.literal('failJob'),
      on: z.literal('submit').default('submit'),
      code: z.enum(errorCodes).default('content_rejected'),
      message: z.string().min(1).optional(),
    })
    .strict(),
  /** `delivered` defaults to one fewer than requested (and to no change for a 1-image job). */
  z.object({ kind: z.literal('partial'), on: z.literal('submit').default('submit'), delivered: z.number().int().min(0).optional() }).strict(),
  /** `index` defaults to a random output of the job. */
  z.object({ kind: z.literal('rejectOne'), on: z.literal('submit').default('submit'), index: z.number().int().min(0).optional() }).strict(),
  z.object({ kind: z.literal('corruptImage'), on: z.literal('download').default('download') }).strict(),
  z.object({ kind: z.literal('expiredUrl'), on: z.literal('download').default('download') }).strict(),
  /** The next edit that asks for label text prints it misspelled. */
  z.object({ kind: z.literal('misspellLabel'), on: z.literal('submit').default('submit') }).strict(),
]);
export type ScriptEntry = z.output<typeof scriptEntrySchema>;
export type ScriptEntryInput = z.input<typeof scriptEntrySchema>;

export const faultsSchema = z
  .object({
    /** 429 rate_limited with Retry-After (seconds, or an HTTP date), on submit and on job GET. */
    rateLimit: fault({ retryAfterSeconds, asHttpDate: z.boolean().default(false) }),
    /** 5xx internal_error on submit and on job GET. */
    serverError: fault({ status: serverStatus.default(500) }),
    /** The submit's connection is destroyed before a job exists: nothing happened. */
    dropBeforeAccept: fault({}),
    /** The job is created, then the connection is destroyed unanswered: the ambiguous case. */
    dropAfterAccept: fault({}),
    slowJob: fault({ extraMs }),
    /** The job stays `running` forever (it keeps its running slot, as its status says). */
    stuckJob: fault({}),
    failJob: fault({ code: z.enum(errorCodes).default('content_rejected') }),
    /** A multi-image job delivers fewer outputs; the missing ones are listed as generation_failed. */
    partial: fault({}),
    /** One output is rejected by output moderation (content_rejected); a 1-image job then fails. */
    rejectOne: fault({}),
    /** A download serves truncated bytes under an image content type (per download, transient). */
    corruptImage: fault({}),
    /** An output URL is already expired when first fetched (410 url_expired from then on). */
    expiredUrl: fault({}),
    /**
     * An edit asking for label text ("reads exactly: ...") prints it misspelled: with a probability, and/or
     * on every Nth such edit (`everyNth: 1` is every one). Other jobs draw nothing for it.
     */
    misspellLabel: fault({ everyNth: z.number().int().min(1).max(1_000_000).optional() }),
    /** A provider that ignores Idempotency-Key: every submit creates (and bills) a new job. */
    forgetIdempotencyKeys: z.boolean().default(false),
    script: z.array(scriptEntrySchema).max(10_000).default([]),
  })
  .strict();
export type Faults = z.output<typeof faultsSchema>;
export type FaultsInput = z.input<typeof faultsSchema>;

export type RequestFault =
  | { kind: 'rateLimit'; retryAfterSeconds: number; asHttpDate: boolean }
  | { kind: 'serverError'; status: 500 | 502 | 503 }
  | { kind: 'dropBeforeAccept' };

/** What happens to one job, decided when it is created. */
export interface JobFaultPlan {
  extraMs: number;
  stuck: boolean;
  fail: { code: ErrorCode; message: string } | undefined;
  /** Output indexes not delivered (generation_failed). */
  missing: Set<number>;
  /** Output indexes rejected by output moderation (content_rejected). */
  rejected: Set<number>;
  /** The label text of an edit is printed misspelled. */
  misspellLabel?: boolean;
}

type Operation = 'submit' | 'poll' | 'download';

export class FaultInjector {
  private settings!: Faults;
  private script: ScriptEntry[] = [];
  private labelEdits = 0;

  constructor(
    faults: Faults,
    private readonly random: Random,
  ) {
    this.set(faults);
  }

  set(faults: Faults): void {
    this.settings = faults;
    this.script = [...faults.script];
    this.labelEdits = 0;
  }

  /** The settings, with the script entries not yet consumed. */
  current(): Faults {
    return { ...this.settings, script: [...this.script] };
  }

  get forgetIdempotencyKeys(): boolean {
    return this.settings.forgetIdempotencyKeys;
  }

  /** Faults that answer the request instead of the handler: 429, 5xx, or (submit only) a drop. */
  requestFault(on: Operation): RequestFault | undefined {
    const kinds = on === 'submit' ? ['rateLimit', 'serverError', 'dropBeforeAccept'] : ['rateLimit', 'serverError'];
    const entry = this.take(on, kinds);
    if (entry) {
      if (entry.kind === 'rateLimit') return { kind: 'rateLimit', retryAfterSeconds: entry.retryAfterSeconds, asHttpDate: entry.asHttpDate };
      if (entry.kind === 'serverError') return { kind: 'serverError', status: entry.status };
      return { kind: 'dropBeforeAccept' };
    }
    if (on === 'download') return undefined; // downloads get only scripted 429/5xx
    const { rateLimit, serverError, dropBeforeAccept } = this.settings;
    if (this.random.chance(rateLimit.probability)) {
      return { kind: 'rateLimit', retryAfterSeconds: rateLimit.retryAfterSeconds, asHttpDate: rateLimit.asHttpDate };
    }
    if (this.random.chance(serverError.probability)) return { kind: 'serverError', status: serverError.status };
    if (on === 'submit' && this.random.chance(dropBeforeAccept.probability)) return { kind: 'dropBeforeAccept' };
    return undefined;
  }

  /** Whether an accepted submit loses its answer. */
  dropAfterAccept(): boolean {
    if (this.take('submit', ['dropAfterAccept'])) return true;
    return this.random.chance(this.settings.dropAfterAccept.probability);
  }

  planJob(numImages: number): JobFaultPlan {
    const plan: JobFaultPlan = { extraMs: 0, stuck: false, fail: undefined, missing: new Set(), rejected: new Set() };
    const entry = this.take('submit', ['slowJob', 'stuckJob', 'failJob', 'partial', 'rejectOne']);
    if (entry) {
      if (entry.kind === 'slowJob') plan.extraMs = entry.extraMs;
      else if (entry.kind === 'stuckJob') plan.stuck = true;
      else if (entry.kind === 'failJob') plan.fail = { code: entry.code, message: entry.message ?? failMessage(entry.code) };
      else if (entry.kind === 'partial') {
        const delivered = Math.min(numImages, entry.delivered ?? Math.max(1, numImages - 1));
        for (let i = delivered; i < numImages; i++) plan.missing.add(i);
      } else if (entry.kind === 'rejectOne') {
        plan.rejected.add(Math.min(numImages - 1, entry.index ?? this.random.int(0, numImages - 1)));
      }
      return plan;
    }
    const f = this.settings;
    if (this.random.chance(f.slowJob.probability)) plan.extraMs = f.slowJob.extraMs;
    if (this.random.chance(f.stuckJob.probability)) plan.stuck = true;
    if (this.random.chance(f.failJob.probability)) plan.fail = { code: f.failJob.code, message: failMessage(f.failJob.code) };
    if (numImages > 1 && this.random.chance(f.partial.probability)) {
      const delivered = this.random.int(1, numImages - 1);
      const indexes = Array.from({ length: numImages }, (_, i) => i);
      while (indexes.length > delivered) plan.missing.add(indexes.splice(this.random.int(0, indexes.length - 1), 1)[0]!);
    }
    if (this.random.chance(f.rejectOne.probability)) {
      const candidates = Array.from({ length: numImages }, (_, i) => i).filter((i) => !plan.missing.has(i));
      if (candidates.length > 0) plan.rejected.add(candidates[this.random.int(0, candidates.length - 1)]!);
    }
    return plan;
  }

  /** Whether a new edit job that asks for label text prints it misspelled (asked only for such jobs). */
  misspellLabel(): boolean {
    this.labelEdits += 1;
    if (this.take('submit', ['misspellLabel'])) return true;
    const f = this.settings.misspellLabel;
    if (f.everyNth !== undefined && this.labelEdits % f.everyNth === 0) return true;
    return this.random.chance(f.probability);
  }

  /** The fate of one download: corrupt bytes this time, and/or the URL expired for good. */
  downloadFate(firstFetch: boolean): { corrupt: boolean; expire: boolean } {
    const entry = this.take('download', ['corruptImage', 'expiredUrl']);
    if (entry) return { corrupt: entry.kind === 'corruptImage', expire: entry.kind === 'expiredUrl' };
    return {
      expire: firstFetch && this.random.chance(this.settings.expiredUrl.probability),
      corrupt: this.random.chance(this.settings.corruptImage.probability),
    };
  }

  private take(on: Operation, kinds: string[]): ScriptEntry | undefined {
    const i = this.script.findIndex((e) => e.on === on && kinds.includes(e.kind));
    return i < 0 ? undefined : this.script.splice(i, 1)[0];
  }
}

function failMessage(code: ErrorCode): string {
  return code === 'content_rejected'
    ? 'the output was rejected by content moderation (simulated)'
    : `the job failed (simulated ${code})`;
}
