/**
 * Jobs: created queued, started while fewer than `maxRunning` run, completed or failed after a drawn
 * latency (and at least as long as the real rendering takes). References are fetched when the job
 * runs, as upstream does, so a bad reference fails the job rather than the submit.
 */
import { randomUUID } from 'node:crypto';
import type { ErrorCode, JobStatus, Operation } from '../contract';
import type { JobFaultPlan } from './faults';
import type { FileStore } from './files';
import { JobFailure } from './httpErrors';
import type { SimulatorLogger } from './options';
import { loadReference } from './references';
import { renderOutputs, type RenderSpec } from './render';

export interface JobInput {
  operation: Operation;
  model: string;
  bodyHash: string;
  idempotencyKey: string | null;
  numImages: number;
  /** Rendering parameters, already scaled. */
  render: Omit<RenderSpec, 'seed' | 'operation'>;
  /** Reference URLs or data URIs with the field each came from (`imageUrl`, `imageUrls.2`). */
  references: Array<{ ref: string; field: string }>;
  plan: JobFaultPlan;
}

interface Delivered {
  index: number;
  token: string;
  contentType: string;
  width: number;
  height: number;
  expiresAt: number;
}

export interface SimJob extends JobInput {
  id: string;
  /** A sequence number, the id some dialects answer with (a number). */
  seq: number;
  status: JobStatus;
  createdAt: number;
  updatedAt: number;
  startedAt?: number;
  completedAt?: number;
  output: Delivered[];
  imageErrors: Array<{ index: number; code: ErrorCode; message: string }>;
  error?: { code: ErrorCode; message: string };
  billedImages: number;
  timer?: NodeJS.Timeout;
}

export interface JobRunnerDeps {
  /** Draws one job's running time (ms). */
  drawLatencyMs: () => number;
  maxRunning: number;
  referenceFetchTimeoutMs: number;
  files: FileStore;
  logger: SimulatorLogger;
  onStatus(job: SimJob): void;
  onFinished(job: SimJob): void;
}

export class JobRunner {
  private jobs = new Map<string, SimJob>();
  private bySeq = new Map<number, SimJob>();
  private nextSeq = 1;
  private queue: SimJob[] = [];
  private running = 0;
  private peak = 0;
  private closed = false;

  constructor(private readonly deps: JobRunnerDeps) {}

  create(input: JobInput): SimJob {
    const now = Date.now();
    const job: SimJob = {
      ...input,
      id: `job_${randomUUID().replace(/-/g, '')}`,
      seq: this.nextSeq++,
      status: 'queued',
      createdAt: now,
      updatedAt: now,
      output: [],
      imageErrors: [],
      billedImages: 0,
    };
    this.jobs.set(job.id, job);
    this.bySeq.set(job.seq, job);
    this.queue.push(job);
    // Started on the next turn, so the submit answers `queued` like the real service.
    setImmediate(() => this.pump());
    return job;
  }

  get(id: string): SimJob | undefined {
    return /^[1-9]\d{0,15}$/.test(id) ? this.bySeq.get(Number(id)) : this.jobs.get(id);
  }

  stats(): { queued: number; running: number; completed: number; failed: number; peakRunning: number } {
    const counts = { queued: 0, running: 0, completed: 0, failed: 0 };
    for (const job of this.jobs.values()) counts[job.status]++;
    return { ...counts, peakRunning: this.peak };
  }

  /** Forgets every job; work in flight finishes into the void. */
  reset(): void {
    for (const job of this.jobs.values()) clearTimeout(job.timer);
    this.jobs = new Map();
    this.bySeq = new Map();
    this.queue = [];
    this.running = 0;
    this.peak = 0;
  }

  close(): void {
    this.closed = true;
    this.reset();
  }

  private pump(): void {
    while (!this.closed && this.running < this.deps.maxRunning && this.queue.length > 0) {
      this.start(this.queue.shift()!);
    }
  }

  private start(job: SimJob): void {
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    job.status = 'running';
    job.startedAt = job.updatedAt = Date.now();
    this.deps.onStatus(job);
    if (job.plan.stuck) return; // keeps its slot: its status says running, forever
    const duration = this.deps.drawLatencyMs() + job.plan.extraMs;
    const elapsed = new Promise<void>((resolve) => {
      job.timer = setTimeout(resolve, duration);
    });
    const work = this.work(job).then(
      (result) => ({ ok: true as const, result }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    void Promise.all([work, elapsed]).then(([outcome]) => {
      if (this.jobs.get(job.id) !== job) return; // reset or closed meanwhile
      if (outcome.ok) this.deliver(job, outcome.result);
      else this.fail(job, outcome.error);
      this.running--;
      this.pump();
    });
  }

  private async work(job: SimJob) {
    const { plan } = job;
    if (plan.fail) throw new JobFailure(plan.fail.code, plan.fail.message);
    const refs = await Promise.all(job.references.map((r) => loadReference(r.ref, r.field, this.deps.referenceFetchTimeoutMs)));
    // Undelivered outputs are not drawn at all.
    const indexes = Array.from({ length: job.numImages }, (_, i) => i).filter((i) => !plan.missing.has(i) && !plan.rejected.has(i));
    return renderOutputs({ ...job.render, operation: job.operation, seed: job.bodyHash, misspellLabel: plan.misspellLabel === true }, refs, indexes);
  }

  private deliver(job: SimJob, rendered: Awaited<ReturnType<typeof renderOutputs>>): void {
    const now = Date.now();
    for (const [index, image] of [...rendered].sort(([a], [b]) => a - b)) {
      const { token, expiresAt } = this.deps.files.put(image.bytes, image.contentType, now);
      job.output.push({ index, token, contentType: image.contentType, width: image.width, height: image.height, expiresAt });
    }
    for (const index of job.plan.missing) {
      job.imageErrors.push({ index, code: 'generation_failed', message: `output ${index} was not generated (simulated partial result)` });
    }
    for (const index of job.plan.rejected) {
      job.imageErrors.push({ index, code: 'content_rejected', message: `output ${index} was rejected by output moderation (simulated)` });
    }
    job.imageErrors.sort((a, b) => a.index - b.index);
    if (job.output.length === 0) {
      const code = job.plan.rejected.size > 0 && job.plan.missing.size === 0 ? 'content_rejected' : 'generation_failed';
      job.error = { code, message: code === 'content_rejected' ? 'no output was delivered: rejected by output moderation' : 'no output was delivered' };
      this.finish(job, 'failed', now);
      return;
    }
    job.billedImages = job.output.length;
    this.finish(job, 'completed', now);
  }

  private fail(job: SimJob, error: unknown): void {
    if (error instanceof JobFailure) {
      job.error = { code: error.code, message: error.message };
    } else {
      this.deps.logger.error({ err: error, jobId: job.id }, 'simulator: rendering failed');
      job.error = { code: 'generation_failed', message: 'the image could not be generated' };
    }
    this.finish(job, 'failed', Date.now());
  }

  private finish(job: SimJob, status: 'completed' | 'failed', now: number): void {
    job.status = status;
    job.completedAt = job.updatedAt = now;
    job.timer = undefined;
    this.deps.onFinished(job);
  }
}
