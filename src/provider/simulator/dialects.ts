/**
 * How the simulator words its answers. Each dialect is a shape the provider is documented or reported
 * to use (provider-facts.md); `mixed` picks a shape and a status spelling at random on every answer,
 * which no real service does, so a client that survives it survives them all.
 *
 * - seed: the vendor page's `{ id, status, output: [{ url }], error }`, plus the project's additive
 *   fields (output index, numImages, imageErrors, billedImages, costUsd), error as `{ code, message }`.
 * - seed-string-error: the vendor example read literally: no index, no extras, `error` a string.
 * - seed-strange: seed routes answering with task-API words (pending, in_progress/processing,
 *   succeeded/success, error), a numeric id, no index, `error: { message }` without a code.
 * - tasks-wrapped: `{ code, data: { task_id, status: pending|running|succeeded|failed, url, error: { message }, amount_usd } }`.
 * - tasks-flat: `{ id, task_id, status: queued|in_progress|completed|failed|error, progress, results: [{ url }], metadata, amount_usd, error }`.
 */
import type { ErrorReply } from './httpErrors';
import { errorBody } from './httpErrors';
import type { SimJob } from './jobs';
import { centsToUsd, PRICE_PER_IMAGE_CENTS } from './ledger';
import type { Dialect } from './options';
import type { Random } from '../../support/random';

type Shape = Exclude<Dialect, 'mixed'>;
const SHAPES: readonly Shape[] = ['seed', 'seed-string-error', 'seed-strange', 'tasks-wrapped', 'tasks-flat'];

/** Status words per shape, for queued / running / completed / failed; several means one at random. */
const WORDS: Record<Shape, Record<SimJob['status'], readonly string[]>> = {
  seed: { queued: ['queued'], running: ['running'], completed: ['completed'], failed: ['failed'] },
  'seed-string-error': { queued: ['queued'], running: ['running'], completed: ['completed'], failed: ['failed'] },
  'seed-strange': { queued: ['pending'], running: ['in_progress', 'processing'], completed: ['succeeded', 'success'], failed: ['error'] },
  'tasks-wrapped': { queued: ['pending'], running: ['running'], completed: ['succeeded'], failed: ['failed'] },
  'tasks-flat': { queued: ['queued'], running: ['in_progress'], completed: ['completed'], failed: ['failed', 'error'] },
};
/** `mixed`: every documented spelling, in any case. */
const MIXED_WORDS: Record<SimJob['status'], readonly string[]> = {
  queued: ['queued', 'pending', 'QUEUED', 'Pending', 'submitted', 'NOT_START'],
  running: ['running', 'in_progress', 'processing', 'IN_PROGRESS', 'Running'],
  completed: ['completed', 'succeeded', 'success', 'SUCCESS', 'Completed'],
  failed: ['failed', 'error', 'FAILURE', 'Failed'],
};

export class DialectWriter {
  constructor(
    private readonly configured: Dialect | undefined,
    private readonly random: Random,
  ) {}

  /** The dialect a route family answers in: the configured one, else that family's documented default. */
  dialectFor(family: 'seed' | 'tasks'): Dialect {
    return this.configured ?? (family === 'seed' ? 'seed' : 'tasks-flat');
  }

  submitAnswer(family: 'seed' | 'tasks', job: SimJob): Record<string, unknown> {
    const { shape, status } = this.pick(family, job.status);
    switch (shape) {
      case 'seed':
        return { id: job.id, status, model: job.model, createdAt: iso(job.createdAt) };
      case 'seed-string-error':
        return { id: job.id, status };
      case 'seed-strange':
        return { id: numericId(job), status };
      case 'tasks-wrapped':
        return { code: 0, message: 'success', data: { task_id: job.id, status } };
      case 'tasks-flat':
        return { id: job.id, task_id: job.id, object: 'image.generation.task', status, progress: 0, created_at: Math.floor(job.createdAt / 1000) };
    }
  }

  jobAnswer(family: 'seed' | 'tasks', job: SimJob, fileBase: string): Record<string, unknown> {
    const { shape, status } = this.pick(family, job.status);
    const terminal = job.status === 'completed' || job.status === 'failed';
    const urls = terminal ? job.output.map((o) => ({ index: o.index, url: `${fileBase}/files/${o.token}` })) : [];
    const amountUsd = terminal ? centsToUsd(job.billedImages * PRICE_PER_IMAGE_CENTS) : undefined;
    const message = job.error?.message;
    switch (shape) {
      case 'seed': {
        const body: Record<string, unknown> = {
          id: job.id,
          status,
          model: job.model,
          operation: job.operation,
          numImages: job.numImages,
          createdAt: iso(job.createdAt),
          updatedAt: iso(job.updatedAt),
          startedAt: iso(job.startedAt),
          completedAt: iso(job.completedAt),
        };
        if (terminal) {
          body.output = job.output.map((o) => ({
            index: o.index,
            url: `${fileBase}/files/${o.token}`,
            contentType: o.contentType,
            width: o.width,
            height: o.height,
            expiresAt: iso(o.expiresAt),
          }));
          if (job.imageErrors.length > 0) body.imageErrors = job.imageErrors;
          if (job.error) body.error = job.error;
          body.billedImages = job.billedImages;
          body.costUsd = amountUsd;
        }
        return body;
      }
      case 'seed-string-error':
        return { id: job.id, status, output: terminal ? urls.map((u) => ({ url: u.url })) : [], error: message ?? null };
      case 'seed-strange': {
        const body: Record<string, unknown> = { id: numericId(job), status };
        if (terminal) body.output = urls.map((u) => ({ url: u.url }));
        if (message !== undefined) body.error = { message };
        return body;
      }
      case 'tasks-wrapped': {
        const data: Record<string, unknown> = { task_id: job.id, status, progress: progressOf(job) };
        if (urls[0]) data.url = urls[0].url;
        if (urls.length > 1) data.results = urls.map((u) => ({ url: u.url }));
        if (message !== undefined) data.error = { message };
        if (amountUsd !== undefined) data.amount_usd = amountUsd;
        return { code: 0, message: 'success', data };
      }
      case 'tasks-flat': {
        const body: Record<string, unknown> = {
          id: job.id,
          task_id: job.id,
          object: 'image.generation.task',
          status,
          progress: progressOf(job),
          created_at: Math.floor(job.createdAt / 1000),
        };
        if (terminal) {
          body.completed_at = Math.floor((job.completedAt ?? job.updatedAt) / 1000);
          body.results = urls.map((u) => ({ url: u.url }));
          if (urls[0]) body.metadata = { url: urls[0].url };
          body.amount_usd = amountUsd;
        }
        if (message !== undefined) body.error = message;
        return body;
      }
    }
  }

  /** An HTTP error body in the family's dialect. */
  errorAnswer(family: 'seed' | 'tasks', e: ErrorReply): Record<string, unknown> {
    const dialect = this.dialectFor(family);
    const shape: Shape = dialect === 'mixed' ? SHAPES[this.random.int(0, SHAPES.length - 1)]! : dialect;
    switch (shape) {
      case 'seed':
        return errorBody(e);
      case 'seed-string-error':
        return { error: e.message };
      case 'seed-strange':
        return { error: { message: e.message } };
      case 'tasks-wrapped':
        return { code: e.status, message: e.message, data: { error: { code: e.code, message: e.message } } };
      case 'tasks-flat':
        return { error: { message: e.message, type: e.code, code: e.code, ...(e.field !== undefined ? { param: e.field } : {}) } };
    }
  }

  private pick(family: 'seed' | 'tasks', status: SimJob['status']): { shape: Shape; status: string } {
    const dialect = this.dialectFor(family);
    if (dialect === 'mixed') {
      const shape = SHAPES[this.random.int(0, SHAPES.length - 1)]!;
      return { shape, status: oneOf(this.random, MIXED_WORDS[status]) };
    }
    return { shape: dialect, status: oneOf(this.random, WORDS[dialect][status]) };
  }
}

function oneOf(random: Random, words: readonly string[]): string {
  return words.length === 1 ? words[0]! : words[random.int(0, words.length - 1)]!;
}

function iso(t: number | undefined): string | undefined {
  return t === undefined ? undefined : new Date(t).toISOString();
}

function progressOf(job: SimJob): number {
  return job.status === 'completed' || job.status === 'failed' ? 100 : job.status === 'running' ? 50 : 0;
}

/** The strange dialect's numeric id: the job's sequence number (the runner finds a job by either). */
function numericId(job: SimJob): number {
  return job.seq;
}
