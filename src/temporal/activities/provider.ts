/**
 * The paid step: submit, await and keep, as one activity on the provider task queue (its concurrency
 * and rate limit are set for the provider's account limits).
 *
 * Money rules, enforced through the ledger (generation_jobs) rather than through the workflow:
 * - the ledger row is written before anything is sent, and marked `sending` right before the request
 *   leaves, so a crash mid-submit is known to be ambiguous;
 * - a provider job id, once recorded, is polled and never submitted again;
 * - an ambiguous submit is sent again (with the same key and the same bytes) only when the provider is
 *   known to honour idempotency keys; otherwise it is parked for an operator;
 * - the moment a job is terminal, every delivered output is downloaded, validated and stored, before
 *   anything waits for a core: no output URL waits in a queue. An expired URL is re-read from the job
 *   before the output is called lost. A delivered step is reused by any later run at no cost.
 */
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  failLedgerEntry,
  markAmbiguous,
  markDelivered,
  markJobBilled,
  markNotSent,
  markSending,
  markSubmitted,
  markUnusable,
  openLedgerEntry,
  type LedgerEntry,
} from '../../db/repositories/jobs';
import { getProduct } from '../../db/repositories/products';
import { isProviderError } from '../../provider/errors';
import type { ParsedJob } from '../../provider/client';
import { CENTS_PER_IMAGE, FailureType } from '../../shared';
import type { GenerateOutput, ProvenanceStamp, StoredOutput, SubmitInput } from '../../shared/steps';
import type { ActivityDeps } from './deps';
import { fail, providerFailure, toFailure } from './failures';
import { OriginalRejected, provenanceStamp, storeOriginal } from './originals';

/** How often the paid step tells Temporal it is alive (the product workflow's heartbeat timeout is 15 s). */
export const HEARTBEAT_EVERY_MS = 5_000;
/** A corrupt download may be a transfer fault: this many downloads per output before it is called corrupt. */
const DOWNLOAD_TRIES = 3;


interface Progress {
  firstPollAt: number;
  polls: number;
}

/** A failure after the job is known names it, so the slot's outcome tells operators which job it was. */
function withJobId(err: unknown, jobId: string | null): unknown {
  if (!jobId || !(err instanceof ApplicationFailure) || (err.details?.length ?? 0) > 0) return err;
  return ApplicationFailure.create({
    type: err.type ?? undefined,
    message: err.message,
    nonRetryable: err.nonRetryable ?? undefined,
    nextRetryDelay: err.nextRetryDelay,
    details: [{ jobId }],
  });
}

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
   * The references a submit sends. Presigned URLs are minted once and kept in the ledger, so a retry
   * under the same key carries the same body; inline references are derived from content-addressed
   * storage and are the same bytes by construction.
   */
  async function fixedReferences(input: SubmitInput, entry: LedgerEntry): Promise<{ refs: string[]; kept: string[] | null }> {
    const kept = entry.request_refs;
    if (kept && kept.length === input.request.sources.length) return { refs: kept, kept };
    const refs = await Promise.all(input.request.sources.map((s) => referenceFor(s.storageKey, s.contentType)));
    return { refs, kept: deps.referenceMode === 'url' ? refs : null };
  }

  function requestBody(input: SubmitInput, refs: string[]) {
    const { request } = input;
    const common = {
      prompt: request.prompt,
      imageSize: request.imageSize as never,
      quality: request.quality,
      numImages: request.numImages,
      outputFormat: request.outputFormat,
      watermark: false,
    };
    if (request.operation === 'edit') return { operation: 'edit' as const, body: { ...common, imageUrl: refs[0]! } };
    if (request.operation === 'compose') return { operation: 'compose' as const, body: { ...common, imageUrls: refs } };
    return { operation: 'generate' as const, body: common };
  }

  /** Sends the paid request once (or again under the same key where that is known to be safe). */
  async function submit(input: SubmitInput, entry: LedgerEntry): Promise<string> {
    const { refs, kept } = await fixedReferences(input, entry);
    const { operation, body } = requestBody(input, refs);
    const sha = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    if (entry.request_sha256 && entry.request_sha256 !== sha) {
      log.warn('submit body differs from the first attempt under this key', { key: input.idempotencyKey });
    }
    await markSending(db, input.idempotencyKey, { requestRefs: kept, requestSha256: entry.request_sha256 ?? sha });
    const opts = { idempotencyKey: input.idempotencyKey };
    try {
      const result =
        operation === 'generate'
          ? await deps.provider.generate(body, opts)
          : operation === 'edit'
            ? await deps.provider.edit(body, opts)
            : await deps.provider.compose(body, opts);
      await markSubmitted(db, input.idempotencyKey, result.jobId);
      return result.jobId;
    } catch (err) {
      if (!isProviderError(err)) throw toFailure(err, 'submit');
      if (err.sent === 'maybe') throw await ambiguous(input, err.message);
      if (err.kind === 'idempotency_conflict') {
        // The provider holds a job under this key with another body: it exists and may be billed.
        await markAmbiguous(db, input.idempotencyKey, err.message, { park: true });
        throw parked(input.idempotencyKey, err.message);
      }
      // A clear answer or nothing sent at all: the provider did not take it (429 and 5xx included).
      if (err.retryable) await markNotSent(db, input.idempotencyKey, err.message);
      else await failLedgerEntry(db, input.idempotencyKey, err.code ?? err.kind, err.message);
      throw providerFailure(err);
    }
  }

  /** The request may have reached the provider: retry with the same key only where that is safe. */
  async function ambiguous(input: SubmitInput, reason: string) {
    if (deps.idempotency === 'honoured') {
      await markAmbiguous(db, input.idempotencyKey, reason, { park: false });
      return fail(FailureType.ambiguousSubmit, `submit may have reached the provider (${reason}); retrying with the same idempotency key`, { retryable: true });
    }
    await markAmbiguous(db, input.idempotencyKey, reason, { park: true });
    return parked(input.idempotencyKey, reason);
  }

  function parked(key: string, reason: string) {
    return fail(
      FailureType.ambiguousParked,
      `submit may have reached the provider and may be billed (${reason}); it was not sent again because the provider is not known to honour idempotency keys. ` +
        `Resolve it: catalog-assets ledger resolve --key ${key} --job-id <id from the provider's dashboard> | --resubmit | --not-billed`,
    );
  }

  /** Polls until terminal, honouring Retry-After, giving up (without resubmitting) after the configured wait. */
  async function awaitTerminal(jobId: string, progress: Progress): Promise<ParsedJob> {
    const ctx = Context.current();
    let interval = deps.poll.initialMs;
    for (;;) {
      if (Date.now() - progress.firstPollAt > deps.poll.maxWaitMs) {
        throw fail(
          FailureType.jobStillRunning,
          `job ${jobId} did not finish within ${Math.round(deps.poll.maxWaitMs / 1000)} s; it was not submitted again, and the next run polls it again`,
        );
      }
      let wait = interval;
      try {
        const job = await deps.provider.getJob(jobId, { signal: ctx.cancellationSignal });
        progress.polls += 1;
        if (job.status === 'completed' || job.status === 'failed') return job;
        if (job.status === 'unknown') log.warn('job answered a status outside the contract; still polling', { jobId, rawStatus: job.rawStatus });
      } catch (err) {
        if (!isProviderError(err) || !err.retryable) throw toFailure(err, `polling job ${jobId}`);
        wait = Math.max(interval, err.retryAfterMs ?? 0);
        log.warn('poll failed; will poll again', { jobId, kind: err.kind, waitMs: wait });
      }
      await sleep(wait, undefined, { signal: ctx.cancellationSignal }).catch(() => undefined);
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('cancelled');
      interval = Math.min(deps.poll.maxIntervalMs, Math.round(interval * 1.5));
    }
  }

  /**
   * Downloads, validates and stores one output. An expired URL is re-read from the job once; a corrupt
   * download is tried again. What is still lost after that is marked unusable (billed, not kept).
   */
  async function keepOutput(key: string, jobId: string, index: number, url: string, stamp: ProvenanceStamp): Promise<StoredOutput> {
    const ctx = Context.current();
    let current = url;
    let refreshed = false;
    let lastProblem = '';
    for (let tryNo = 1; tryNo <= DOWNLOAD_TRIES; tryNo++) {
      let bytes: Buffer;
      try {
        ({ bytes } = await deps.provider.download(current, { maxBytes: deps.outputLimits.maxBytes, signal: ctx.cancellationSignal }));
      } catch (err) {
        if (isProviderError(err) && err.kind === 'url_expired' && !refreshed) {
          refreshed = true;
          const fresh = await deps.provider.getJob(jobId, { signal: ctx.cancellationSignal }).catch(() => undefined);
          const again = fresh?.outputs.find((o) => o.index === index)?.url;
          if (again) {
            log.info('output URL expired; re-read the job for a fresh one', { jobId, index });
            current = again;
            tryNo -= 1;
            continue;
          }
        }
        if (isProviderError(err) && err.kind === 'url_expired') {
          const message = `output ${index} of job ${jobId} expired before it could be downloaded (re-reading the job gave no fresh URL): billed, not kept`;
          await markUnusable(db, key, 'expired', 'url_expired', message);
          throw fail(FailureType.outputExpired, message);
        }
        throw toFailure(err, `downloading output ${index} of job ${jobId}`);
      }
      try {
        return await storeOriginal(deps, index, bytes, stamp);
      } catch (err) {
        if (err instanceof OriginalRejected && err.reason === 'corrupt') {
          lastProblem = err.message;
          log.warn('downloaded output is not a valid image; downloading again', { jobId, index, problem: err.message });
          continue;
        }
        if (err instanceof OriginalRejected) {
          const message = `${err.message} (job ${jobId}): billed, not kept`;
          await markUnusable(db, key, 'validation', 'invalid_image', message);
          throw fail(FailureType.invalidImage, message);
        }
        // Retryable: the job stays `submitted`, so a retry (or the next run) downloads it again for free.
        throw toFailure(err, `storing output ${index} of job ${jobId}`);
      }
    }
    const message = `output ${index} of job ${jobId} is still not a valid image after ${DOWNLOAD_TRIES} downloads (${lastProblem}): billed, not kept`;
    await markUnusable(db, key, 'corrupt', 'invalid_image', message);
    throw fail(FailureType.invalidImage, message);
  }

  /** The job is terminal: bill it, keep every delivered output, or say why nothing could be kept. */
  async function settle(input: SubmitInput, job: ParsedJob, openedAt: Date): Promise<{ outputs: StoredOutput[]; imagesBilled: number; imageOutcomes: GenerateOutput['imageOutcomes'] }> {
    const key = input.idempotencyKey;
    const outcomes = job.imageOutcomes.map((o) => ({ index: o.index, outcome: o.outcome, code: o.code, message: o.message }));
    const billed = job.billedImages ?? job.outputs.length;
    await markJobBilled(db, key, billed, CENTS_PER_IMAGE, outcomes, job.providerCostUsd);
    if (job.status === 'failed' || job.outputs.length === 0) {
      const code = job.error?.code ?? outcomes.find((o) => o.code)?.code ?? 'generation_failed';
      const message = `job ${job.jobId} failed: ${code}: ${job.error?.message ?? outcomes.find((o) => o.message)?.message ?? 'no image was delivered'}`;
      await failLedgerEntry(db, key, code, message);
      throw fail(code === 'content_rejected' ? FailureType.contentRejected : FailureType.jobFailed, message);
    }
    const stamp = provenanceStamp({ ...input, model: deps.model, provider: deps.providerIdentity, jobId: job.jobId, openedAt, jobRaw: job.raw });
    const outputs: StoredOutput[] = [];
    for (const o of job.outputs) outputs.push(await keepOutput(key, job.jobId, o.index, o.url, stamp));
    await markDelivered(db, key, outputs);
    if (outputs.length < input.request.numImages) {
      log.warn('job delivered fewer images than requested', { jobId: job.jobId, delivered: outputs.length, outcomes });
    }
    return { outputs, imagesBilled: billed, imageOutcomes: outcomes };
  }

  async function refuseIfRemoved(input: SubmitInput): Promise<void> {
    const product = await getProduct(db, input.catalogId, input.sku);
    if (!product || product.status !== 'active') {
      throw fail(FailureType.productRemoved, `SKU ${input.sku} was removed from catalog ${input.catalogId}: nothing more is bought for it`);
    }
  }

  const activities = {
    /**
     * Submit, await and keep, as one heartbeating activity. Retried or restarted, it resumes from the
     * ledger: a delivered step is returned as stored, a known job is polled, and only a step that was
     * certainly never sent (or an ambiguous one under a provider that honours keys) is sent.
     */
    async generateJob(input: SubmitInput): Promise<GenerateOutput> {
      const ctx = Context.current();
      const info = ctx.info;
      const runId = info.workflowExecution?.runId ?? 'unknown';
      const previous = info.heartbeatDetails as Partial<Progress> | undefined;
      const progress: Progress = { firstPollAt: previous?.firstPollAt ?? Date.now(), polls: previous?.polls ?? 0 };
      // Heartbeats on a timer, so no wait (a slow submit or poll, a Retry-After, a download) lets them lapse.
      const beat = setInterval(() => ctx.heartbeat({ ...progress }), HEARTBEAT_EVERY_MS);
      let jobId: string | null = null;
      try {
        const entry = await openLedgerEntry(db, {
          idempotencyKey: input.idempotencyKey,
          catalogId: input.catalogId,
          sku: input.sku,
          slot: input.slot,
          workflowId: input.workflowId,
          runId,
          operation: input.request.operation,
          model: deps.model,
          provider: deps.providerIdentity,
          fingerprint: input.fingerprint,
          imagesRequested: input.request.numImages,
        });
        // Whether this run paid for the job: a job first sent by another run's unfinished step is adopted.
        const adopted = entry.run_id !== runId;
        if ((entry.status === 'delivered' || entry.status === 'completed') && entry.outputs && entry.provider_job_id) {
          log.info('step already delivered: reusing its stored outputs, nothing bought', { key: input.idempotencyKey });
          // Delivered by an earlier attempt of this same run (its answer lost, e.g. while Temporal was
          // down) is this run's purchase, still to be counted; delivered by another run is reuse.
          const outcomes = (entry.image_outcomes ?? []).map((o) => ({ ...o, outcome: o.outcome as GenerateOutput['imageOutcomes'][number]['outcome'] }));
          return { jobId: entry.provider_job_id, adoptedJob: adopted, outputs: entry.outputs, imagesBilled: entry.images_billed, imageOutcomes: outcomes, polls: 0, reused: adopted };
        }
        if (entry.status === 'failed' || entry.status === 'unusable') {
          throw fail(FailureType.jobFailed, `step ${input.idempotencyKey} already ended ${entry.status}: ${entry.error_message ?? entry.error_code ?? 'unknown reason'}`);
        }
        jobId = entry.provider_job_id;
        if (!jobId) {
          const wasSent = entry.status === 'sending' || entry.status === 'ambiguous';
          if (wasSent && deps.idempotency !== 'honoured') {
            // An earlier attempt may have sent it (a crash or an ambiguous answer): never send it again unasked.
            await markAmbiguous(db, input.idempotencyKey, entry.error_message ?? 'an earlier attempt was interrupted while sending', { park: true });
            throw parked(input.idempotencyKey, entry.error_message ?? 'an earlier attempt was interrupted while sending');
          }
          await refuseIfRemoved(input);
          jobId = await submit(input, entry);
        } else {
          log.info('job already known from the ledger, not sent again', { jobId });
        }
        const job = await awaitTerminal(jobId, progress);
        const settled = await settle(input, job, entry.created_at);
        return { jobId, adoptedJob: adopted, ...settled, polls: progress.polls, reused: false };
      } catch (err) {
        throw withJobId(err, jobId);
      } finally {
        clearInterval(beat);
      }
    },
  };
  return activities;
}
