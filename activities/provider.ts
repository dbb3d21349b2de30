/**
 * Activities that talk to the image provider: submit (paid) and await (free). They run on the
 * provider task queue, whose concurrency and rate limit are set for the provider's account limits.
 */
import { Context, log } from '@temporalio/activity';
import { setTimeout as sleep } from 'node:timers/promises';
import { markAmbiguous, markJobBilled, markSubmitted, openLedgerEntry, failLedgerEntry } from '../src/db/repositories/jobs';
import { isProviderError } from '../src/provider/errors';
import type { ParsedJob } from '../src/provider/client';
import { CENTS_PER_IMAGE, FailureType } from '../src/shared';
import type { AwaitInput, AwaitOutput, GenerateOutput, SubmitInput, SubmitOutput } from '../src/shared/steps';
import type { ActivityDeps } from './deps';
import { fail, providerFailure, toFailure } from './failures';

/** How often a poll loop tells Temporal it is alive (the product workflow's heartbeat timeout is 15 s). */
export const HEARTBEAT_EVERY_MS = 5_000;

export function createProviderActivities(deps: ActivityDeps) {
  const { db } = deps;

  async function referenceFor(storageKey: string, contentType: string): Promise<string> {
    if (deps.referenceMode === 'url') {
      const url = await deps.storage.urlFor?.(storageKey);
      if (!url) throw fail(FailureType.storage, `REFERENCE_MODE=url needs a storage that can hand out URLs the provider can fetch; ${deps.storage.kind} storage cannot`);
      return url;
    }
    const bytes = await deps.storage.get(storageKey);
    return `data:${contentType};base64,${bytes.toString('base64')}`;
  }

  /**
   * Heartbeats every HEARTBEAT_EVERY_MS while `work` runs (a slow submit must not look like a dead
   * worker), carrying the current details forward so a poll count from an earlier attempt survives.
   */
  async function keepingAlive<T>(work: () => Promise<T>): Promise<T> {
    const ctx = Context.current();
    const timer = setInterval(() => ctx.heartbeat(ctx.info.heartbeatDetails), HEARTBEAT_EVERY_MS);
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  const activities = {
    /**
     * Sends the paid request. The ledger row is written first; a known provider job id is returned
     * without calling the provider again; an ambiguous failure is retried only with the same key.
     */
    async submitJob(input: SubmitInput): Promise<SubmitOutput> {
      const info = Context.current().info;
      const runId = info.workflowExecution?.runId ?? 'unknown';
      const { request } = input;
      const entry = await openLedgerEntry(db, {
        idempotencyKey: input.idempotencyKey,
        catalogId: input.catalogId,
        sku: input.sku,
        slot: input.slot,
        workflowId: input.workflowId,
        runId,
        operation: request.operation,
        model: deps.model,
        fingerprint: input.fingerprint,
        imagesRequested: request.numImages,
      });
      // `replayed` tells the workflow whether this run paid for the job: a job first submitted by an
      // earlier attempt of this same run (an ambiguous submit, or a crash after the provider answered)
      // is this run's submission; only a job adopted from another run's unfinished step is not.
      const adopted = entry.run_id !== runId;
      if (entry.provider_job_id) {
        log.info('submit: job already known from the ledger, not sent again', { jobId: entry.provider_job_id });
        return { jobId: entry.provider_job_id, replayed: adopted };
      }
      if (entry.status === 'failed') {
        throw fail(FailureType.jobFailed, `step ${input.idempotencyKey} already failed: ${entry.error_message ?? entry.error_code ?? 'unknown reason'}`);
      }
      const common = {
        prompt: request.prompt,
        imageSize: request.imageSize as never,
        quality: request.quality,
        numImages: request.numImages,
        outputFormat: request.outputFormat,
        watermark: false,
      };
      try {
        const refs = await Promise.all(request.sources.map((s) => referenceFor(s.storageKey, s.contentType)));
        const opts = { idempotencyKey: input.idempotencyKey };
        const result =
          request.operation === 'generate'
            ? await deps.provider.generate(common, opts)
            : request.operation === 'edit'
              ? await deps.provider.edit({ ...common, imageUrl: refs[0]! }, opts)
              : await deps.provider.compose({ ...common, imageUrls: refs }, opts);
        await markSubmitted(db, input.idempotencyKey, result.jobId);
        return { jobId: result.jobId, replayed: result.replayed && adopted };
      } catch (err) {
        if (isProviderError(err)) {
          if (err.sent === 'maybe') {
            // The request may have reached the provider: retry, but only ever with this same key.
            await markAmbiguous(db, input.idempotencyKey, err.message);
            throw fail(FailureType.ambiguousSubmit, `submit may have reached the provider (${err.message}); retrying with the same idempotency key`, { retryable: true });
          }
          if (!err.retryable) await failLedgerEntry(db, input.idempotencyKey, err.code ?? err.kind, err.message);
          throw providerFailure(err);
        }
        throw toFailure(err, 'submit');
      }
    },

    /**
     * Polls the job until it is terminal, heartbeating, honouring Retry-After, and giving up after a
     * bounded time. The poll count survives a worker restart through the heartbeat details.
     */
    async awaitJob(input: AwaitInput): Promise<AwaitOutput> {
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as { firstPollAt: number; polls: number } | undefined;
      const firstPollAt = previous?.firstPollAt ?? Date.now();
      let polls = previous?.polls ?? 0;
      let interval = deps.poll.initialMs;
      // A heartbeat is a server write: send one only every HEARTBEAT_EVERY_MS (well inside the
      // workflow's 15 s heartbeat timeout), so a job that finishes in seconds costs none.
      let lastBeatAt = Date.now();
      for (;;) {
        if (Date.now() - firstPollAt > deps.poll.maxWaitMs) {
          throw fail(FailureType.jobStillRunning, `job ${input.jobId} did not finish within ${Math.round(deps.poll.maxWaitMs / 1000)} s; it was not submitted again`);
        }
        let job: ParsedJob | undefined;
        let wait = interval;
        try {
          job = await deps.provider.getJob(input.jobId, { signal: ctx.cancellationSignal });
          polls += 1;
        } catch (err) {
          if (!isProviderError(err) || !err.retryable) throw toFailure(err, `polling job ${input.jobId}`);
          wait = Math.max(interval, err.retryAfterMs ?? 0);
          log.warn('poll failed; will poll again', { jobId: input.jobId, kind: err.kind, waitMs: wait });
        }
        if (Date.now() - lastBeatAt >= HEARTBEAT_EVERY_MS) {
          ctx.heartbeat({ firstPollAt, polls });
          lastBeatAt = Date.now();
        }
        if (job?.status === 'completed' || job?.status === 'failed') {
          const delivered = job.outputs.map((o) => ({ index: o.index, url: o.url }));
          const outcomes = job.imageOutcomes.map((o) => ({ index: o.index, outcome: o.outcome, code: o.code, message: o.message }));
          const billed = job.billedImages ?? delivered.length;
          await markJobBilled(db, input.idempotencyKey, billed, CENTS_PER_IMAGE, outcomes);
          if (job.status === 'failed' || delivered.length === 0) {
            const code = job.error?.code ?? outcomes.find((o) => o.code)?.code ?? 'generation_failed';
            const message = `job ${input.jobId} failed: ${code}: ${job.error?.message ?? outcomes.find((o) => o.message)?.message ?? 'no image was delivered'}`;
            await failLedgerEntry(db, input.idempotencyKey, code, message);
            throw fail(code === 'content_rejected' ? FailureType.contentRejected : FailureType.jobFailed, message);
          }
          return { outputs: delivered, imageOutcomes: outcomes, imagesBilled: billed, polls };
        }
        await sleep(wait, undefined, { signal: ctx.cancellationSignal }).catch(() => undefined);
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('cancelled');
        interval = Math.min(deps.poll.maxIntervalMs, Math.round(interval * 1.5));
      }
    },

    /**
     * Submit, then await, as one activity: one activity task and one workflow task fewer per slot.
     * Money is safe across retries for the same reasons as the two separate steps: the ledger row
     * comes first, a job id once recorded is polled and never submitted again, and an ambiguous
     * submit is retried only with the same idempotency key.
     */
    async generateJob(input: SubmitInput): Promise<GenerateOutput> {
      const submitted = await keepingAlive(() => activities.submitJob(input));
      const done = await activities.awaitJob({ idempotencyKey: input.idempotencyKey, jobId: submitted.jobId, imagesRequested: input.request.numImages });
      return { ...done, ...submitted };
    },
  };
  return activities;
}
