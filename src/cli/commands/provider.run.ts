/** What `catalog-assets provider check` does, loaded when it runs. */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../config';
import { ProviderClient, type ParsedJob, type SubmitResult } from '../../provider/client';
import { PRICE_PER_IMAGE_USD } from '../../provider/price';
import { isProviderError, redactSecrets } from '../../provider/errors';
import { CliError, configOrExit } from '../context';
import type { ProviderCheckFlags as Flags } from './provider';

const CHECK_PROMPT = 'A plain white ceramic mug on a white background, studio packshot';
/** The vendor example polls every 3 s; a job takes 20-50 s, so five minutes is generous. */

const POLL_EVERY_MS = 3_000;

const POLL_FOR_MS = 5 * 60_000;

async function runCheck(config: Config, flags: Flags): Promise<void> {
  const im = config.provider;
  const out = (line = '') => process.stdout.write(`${redactSecrets(line, [im.apiKey])}\n`);
  const show = (value: unknown) => out(JSON.stringify(value, null, 2));
  const client = new ProviderClient({
    baseUrl: im.baseUrl,
    apiKey: im.apiKey,
    model: im.model,
    apiStyle: im.apiStyle,
    timeouts: { requestMs: im.timeoutMs },
    maxDownloadBytes: im.maxDownloadBytes,
  });
  out(`provider: ${im.kind === 'simulator' ? 'LOCAL SIMULATOR (not the real API)' : 'ImaRouter'} at ${im.baseUrl}`);
  out(`style: ${im.apiStyle}, model: ${im.model}, IMAROUTER_IDEMPOTENCY: ${config.provider.idempotency}`);
  try {
    const balance = await client.balance();
    out(`balance: ${balance.balanceUsd ?? '?'} USD (used ${balance.usedAmountUsd ?? '?'} USD): the key and the base URL work`);

    if (flags.submit) {
      await confirm(flags, `--submit sends one real generate: it costs $${PRICE_PER_IMAGE_USD.toFixed(2)}.`);
      const key = checkKey('submit');
      const submitted = await client.generate({ prompt: CHECK_PROMPT }, { idempotencyKey: key });
      out(`submit answer (recognised as ${submitted.shape}; job id ${submitted.jobId}; status "${submitted.rawStatus}" read as ${submitted.status}):`);
      show(submitted.raw);
      const { first, last, polls } = await pollToEnd(client, submitted, flags.pollMs ?? POLL_EVERY_MS);
      if (first && first !== last) {
        out(`first poll answer (recognised as ${first.shape}; status "${first.rawStatus}" read as ${first.status}):`);
        show(first.raw);
      }
      out(`last poll answer after ${polls} poll(s) (recognised as ${last.shape}; status "${last.rawStatus}" read as ${last.status}):`);
      show(last.raw);
      out(
        `outputs: ${last.outputs.length}; cost computed ${last.costUsd ?? '?'} USD` +
          (last.providerCostUsd !== undefined ? `, reported by the provider ${last.providerCostUsd} USD` : ', none reported by the provider'),
      );
      if (last.status === 'unknown') throw new CliError(`the job's status "${last.rawStatus}" is not one the contract maps; see the answers above`, 1);
      if (last.status === 'failed') throw new CliError(`the job failed: ${last.error?.code ?? ''} ${last.error?.message ?? ''}`.trim(), 1);
    }

    if (flags.idempotency) {
      await confirm(flags, `--idempotency sends the same body twice under one Idempotency-Key: it costs $${PRICE_PER_IMAGE_USD.toFixed(2)} if the key is honoured, up to $${(2 * PRICE_PER_IMAGE_USD).toFixed(2)} if not.`);
      const key = checkKey('idempotency');
      const body = { prompt: `${CHECK_PROMPT} (idempotency probe ${key})` };
      const first = await client.generate(body, { idempotencyKey: key });
      out(`first submit: job ${first.jobId} (recognised as ${first.shape})`);
      let second: SubmitResult;
      try {
        second = await client.generate(body, { idempotencyKey: key });
      } catch (err) {
        if (isProviderError(err) && err.kind === 'idempotency_conflict') {
          out('second submit: refused as an idempotency conflict: the provider tracks the key; set IMAROUTER_IDEMPOTENCY=honoured only after a same-body repeat returns the same job');
          return;
        }
        throw err;
      }
      out(`second submit: job ${second.jobId}${second.replayed ? ' (marked as a replay)' : ''}`);
      if (second.jobId === first.jobId) {
        out('idempotency: HONOURED: the same key returned the same job. IMAROUTER_IDEMPOTENCY=honoured is safe: an ambiguous submit may be re-sent with its key.');
      } else {
        out(
          `idempotency: NOT HONOURED: the same key created a second job (${second.jobId}), billed again. Keep IMAROUTER_IDEMPOTENCY=unknown: an ambiguous submit is parked for an operator, never re-sent.`,
        );
      }
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (isProviderError(err)) {
      const hint = err.kind === 'unauthorized' ? ' (check IMAROUTER_API_KEY)' : err.kind === 'not_found' ? ' (check IMAROUTER_BASE_URL and IMAROUTER_API_STYLE)' : '';
      throw new CliError(`provider check failed: ${err.kind}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.message}${hint}`, 1);
    }
    throw err;
  } finally {
    await client.close();
  }
}

async function pollToEnd(client: ProviderClient, submitted: SubmitResult, everyMs: number): Promise<{ first?: ParsedJob; last: ParsedJob; polls: number }> {
  const deadline = Date.now() + POLL_FOR_MS;
  let first: ParsedJob | undefined;
  for (let polls = 1; ; polls++) {
    let job: ParsedJob | undefined;
    let wait = everyMs;
    try {
      job = await client.getJob(submitted.jobId);
    } catch (err) {
      if (!isProviderError(err) || !err.retryable) throw err;
      wait = Math.max(everyMs, err.retryAfterMs ?? 0);
    }
    if (job) {
      first ??= job;
      if (job.status === 'completed' || job.status === 'failed') return { first, last: job, polls };
      if (Date.now() > deadline) return { first, last: job, polls };
    }
    if (Date.now() > deadline) throw new CliError(`job ${submitted.jobId} gave no readable answer within ${POLL_FOR_MS / 60_000} minutes`, 1);
    await sleep(wait);
  }
}

function checkKey(what: string): string {
  return `provider-check-${what}-${randomBytes(8).toString('hex')}`;
}

/** Asks y/N on the terminal (or reads one line from a pipe); anything but yes sends nothing. */
async function confirm(flags: Flags, warning: string): Promise<void> {
  process.stdout.write(`${warning}\n`);
  if (flags.yes) return;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: Boolean(process.stdin.isTTY) });
  let answer = '';
  try {
    answer = await new Promise<string>((resolve) => {
      rl.once('close', () => resolve(''));
      rl.question('Proceed? [y/N] ').then(resolve, () => resolve(''));
    });
  } finally {
    rl.close();
  }
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('not confirmed: nothing was sent (pass --yes to skip the question)', 1);
}

export async function check(flags: Flags): Promise<void> {
  const config = configOrExit();
  await runCheck(config, flags);
}
