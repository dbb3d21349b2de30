/** What `catalog-assets local` does, loaded when it runs: start the stack, import the sample catalog, refresh it. */
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startLocalDestinations, type LocalDestinations } from '../../local/destinations';
import { ensureSampleCatalog, SAMPLE_CATALOG_ID, SAMPLE_PRODUCTS } from '../../local/sampleCatalog';
import { StackAbortedError, startLocalStack, type LocalStack } from '../../local/stack';
import { DEFAULT_PLAN } from '../../shared/plan';
import { startRefresh } from '../../temporal/client/refresh';
import { productWorkflow, refreshWorkflow } from '../../temporal/workflows';
import { parseVariants } from '../../temporal/worker/deps';
import { CliError, configOrExit } from '../context';
import type { LocalFlags as Flags } from './local';
import { summarize, waitWithProgress, type RefreshSummary } from './refresh.run';

/** What `--json` prints (one object, once the refresh is done). */
export interface LocalRunReport {
  dataDir: string;
  provider: string;
  providerKind: 'real' | 'simulator';
  database: 'embedded' | 'external';
  temporalAddress: string;
  temporalUi: string;
  workflowsUrl: string;
  runUrl?: string;
  resultsUrl?: string;
  httpUrl?: string;
  simulatorUrl?: string;
  sampleCatalog: { catalogId: string; products: number; added: number; updated: number; unchanged: number };
  refresh?: RefreshSummary;
  /** Refreshes interrupted by an earlier run, resumed and waited for before this run's own. */
  resumed?: RefreshSummary[];
  /** The in-process simulator's ledger for this run (the real API's bill is on the vendor's side). */
  simulator?: { submissions: number; imagesBilled: number };
  timings: { stackReadyMs: number; refreshMs?: number; totalMs: number };
}

export async function local(flags: Flags): Promise<void> {
  const code = await runLocal(flags);
  if (code !== 0) throw new CliError(code === 130 ? 'interrupted' : 'the sample refresh finished with failed products (see the links above)', code);
}

async function runLocal(flags: Flags): Promise<number> {
  const t0 = Date.now();
  const out = flags.json ? process.stderr : process.stdout;
  const say = (line: string) => out.write(`${line}\n`);
  const dataDir = path.resolve(flags.dataDir);
  const keepRunning = flags.keepRunning && !flags.exitAfterRefresh;

  // The provider in use, said before anything starts (and again, with its address, once it runs).
  const config0 = configOrExit({ ...process.env, DATA_DIR: dataDir });
  say(`catalog-assets local stack; data folder ${dataDir}`);
  const slots = DEFAULT_PLAN.slots.filter((s) => s.enabled).length;
  const outputs = SAMPLE_PRODUCTS.length * slots;
  if (config0.provider.kind === 'real') {
    say(`Image provider: the REAL ImaRouter API (${config0.provider.baseUrl}); images are billed: a first refresh of the sample catalog is up to ${outputs} images, about $${(outputs * 0.04).toFixed(2)}.`);
  } else {
    say('Image provider: the LOCAL SIMULATOR (no IMAROUTER_API_KEY set): real images rendered locally, nothing is billed.');
  }
  let variantCount = 0;
  try {
    variantCount = parseVariants(config0.imaging.variants).length;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n(see the configuration table in README.md)`, 3);
  }
  const scale = flags.simulatorOutputScale ?? 1;
  if (flags.refresh) {
    const heavy = config0.provider.kind === 'simulator' && scale === 1 && config0.imaging.variants === 'default';
    say(
      `First refresh: ${SAMPLE_PRODUCTS.length} products x ${slots} images = ${outputs} images, ${variantCount} variants each` +
        (heavy
          ? ` at full 2K size: several minutes of image work on ${os.availableParallelism()} cores the first time (nothing is redone afterwards). Faster: VARIANTS=cheap SIMULATOR_OUTPUT_SCALE=0.25 npm start`
          : '.'),
    );
  }

  const abort = new AbortController();
  const aborted = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(new StackAbortedError()), { once: true }));
  aborted.catch(() => undefined);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(`\n${signal} received (press Ctrl-C again to force).`);
      abort.abort();
    } else {
      say('Forced exit: child processes are killed.');
      process.exit(130);
    }
  };
  const handled: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of handled) process.on(s, onSignal);

  let stack: LocalStack | undefined;
  let destinations: LocalDestinations | undefined;
  const waitAbort = new AbortController();
  const waits: Array<Promise<unknown>> = [];
  try {
    stack = await startLocalStack({
      dataDir,
      ports: flags.freePorts ? 'free' : undefined,
      quiet: false,
      log: say,
      http: flags.http,
      signal: abort.signal,
      simulator: { outputScale: scale, latencyMs: flags.simulatorLatencyMs },
    });
    const stackReadyMs = Date.now() - t0;
    say(`Stack ready in ${(stackReadyMs / 1000).toFixed(1)} s.`);
    say(`  Image provider: ${stack.provider}`);
    say(`  Postgres:       ${stack.database === 'embedded' ? `embedded, ${stack.databaseUrl}` : 'DATABASE_URL'}`);
    say(`  Temporal:       ${stack.temporalAddress} (UI ${stack.uiUrl})`);
    if (stack.httpUrl) say(`  HTTP service:   ${stack.httpUrl}`);
    say(`  Logs:           ${stack.logsDir}`);

    // The destination stand-ins (src/local/destinations.ts): the sample catalog publishes to them; their
    // secrets go into this process's environment, which the in-process workers' destinations read.
    destinations = await startLocalDestinations({ products: SAMPLE_PRODUCTS });
    Object.assign(process.env, destinations.env);
    say(`  Destinations:   Shopify stand-in ${destinations.shopify?.url ?? ''}, event receiver ${destinations.events?.url ?? ''}`);
    const imported = await Promise.race([
      ensureSampleCatalog(stack.runtime.db, { imageBaseUrl: stack.filesUrl, packshotDir: stack.packshotDir, destinations: destinations.destinations }),
      aborted,
    ]);
    say(
      `Sample catalog "${SAMPLE_CATALOG_ID}": ${imported.products} products` +
        (imported.added === imported.products ? ' imported' : imported.unchanged === imported.products ? ', all unchanged' : ` (${imported.added} new, ${imported.updated} changed, ${imported.unchanged} unchanged)`) +
        (imported.imagesWritten > 0 ? `; drew ${imported.imagesWritten} packshots and scenes into ${stack.packshotDir}` : '') +
        '.',
    );

    const ns = encodeURIComponent(stack.namespace);
    const workflowsUrl = `${stack.uiUrl}/namespaces/${ns}/workflows?query=${encodeURIComponent(`CatalogId="${SAMPLE_CATALOG_ID}"`)}`;
    const resultsUrl = stack.httpUrl ? `${stack.httpUrl}/catalogs/${SAMPLE_CATALOG_ID}/results` : undefined;
    let summary: RefreshSummary | undefined;
    let runUrl: string | undefined;
    let refreshMs: number | undefined;
    const resumed: RefreshSummary[] = [];
    if (flags.refresh) {
      const r0 = Date.now();
      const client = stack.client;
      const workersFailed = stack.workersFailed;
      const showBar = !flags.json && process.stderr.isTTY === true;
      // Every wait's gRPC calls carry an abort signal, so they are cancelled (not left retrying on a
      // closed channel) when the stack stops; each is settled before the stack stops.
      const wait = async <T>(fn: () => Promise<T>): Promise<T> => {
        const p = client.connection.withAbortSignal(waitAbort.signal, fn);
        waits.push(p.catch(() => undefined));
        return Promise.race([p, workersFailed, aborted]);
      };

      // A refresh interrupted last time (Ctrl-C mid-run) is durable and resumes with the workers: finish it first.
      const inFlight = await wait(async () => {
        const ids: string[] = [];
        const query = `CatalogId="${SAMPLE_CATALOG_ID}" AND WorkflowType="${refreshWorkflow.name}" AND ExecutionStatus="Running"`;
        for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
        return ids;
      });
      for (const id of inFlight) {
        say(`Resuming the refresh interrupted last time (${id})...`);
        const s = summarize(id, await wait(() => waitWithProgress(client, id, showBar)));
        resumed.push(s);
        say(
          `  resumed refresh done: ${s.generated} generated, ${s.skipped} unchanged, ${s.failed} failed` +
            (s.failed > 0
              ? `${stack.simulator ? ' (the local simulator forgets its jobs when it stops, so jobs in flight at the interruption are lost)' : ''}; failed products are redone by the refresh below.`
              : '.'),
        );
      }

      const { workflowId } = await startRefresh(client, stack.config.temporal.taskQueuePrefix, {
        catalogId: SAMPLE_CATALOG_ID,
        selection: 'changed',
        dryRun: false,
        trigger: 'manual',
      });
      runUrl = `${stack.uiUrl}/namespaces/${ns}/workflows/${encodeURIComponent(workflowId)}`;
      const thisRun = `${stack.uiUrl}/namespaces/${ns}/workflows?query=${encodeURIComponent(`WorkflowId="${workflowId}" OR ParentWorkflowId="${workflowId}"`)}`;
      say(`Refreshing the changed products of "${SAMPLE_CATALOG_ID}" (${workflowId})`);
      say(`  this run in Temporal UI: ${thisRun}`);
      summary = summarize(workflowId, await wait(() => waitWithProgress(client, workflowId, showBar)));
      if (summary.coalesced > 0) {
        // Products already running (left by an interrupted run) were coalesced into those runs: wait for them.
        say(`  ${summary.coalesced} product(s) were already being generated by runs in flight; waiting for them to finish...`);
        await wait(async () => {
          const query = `CatalogId="${SAMPLE_CATALOG_ID}" AND WorkflowType="${productWorkflow.name}" AND ExecutionStatus="Running"`;
          while ((await client.workflow.count(query)).count > 0) await sleep(1_000);
        });
      }
      refreshMs = Date.now() - r0;
      const generated = summary.generated + resumed.reduce((n, r) => n + r.generated, 0);
      // Products that failed in a resumed run are not settled, so this run's `changed` selection redoes them: its own failures are what is left.
      const failed = summary.failed;
      if (generated === 0 && failed === 0 && summary.coalesced === 0 && resumed.every((r) => r.failed === 0)) {
        say(`Nothing changed: 0 images generated, 0 provider jobs (every product's assets are current; ${(refreshMs / 1000).toFixed(1)} s).`);
      } else {
        say(
          `Refresh done in ${(refreshMs / 1000).toFixed(1)} s: ${summary.planned} products planned, ${summary.generated} generated, ${summary.skipped} unchanged, ` +
            `${summary.coalesced > 0 ? `${summary.coalesced} finished by runs in flight, ` : ''}${summary.failed} failed; ${summary.imagesBilled} images` +
            `${config0.provider.kind === 'real' ? `, $${summary.costUsd.toFixed(2)} spent` : ' (simulated, not billed)'}.`,
        );
      }
      if (failed > 0) say(`  ${failed} product(s) failed: see ${runUrl}`);
    }

    say('');
    say('Where to look:');
    if (runUrl) say(`  This refresh in Temporal UI:   ${runUrl}`);
    say(`  All "${SAMPLE_CATALOG_ID}" workflows:        ${workflowsUrl}`);
    say(`  Results page:                  ${resultsUrl ?? '(HTTP service not started: --no-http)'}`);
    say(`  Other commands against this stack (another terminal):`);
    say(`    TEMPORAL_ADDRESS=${stack.temporalAddress} DATABASE_URL=${stack.database === 'embedded' ? stack.databaseUrl : '$DATABASE_URL'} npx catalog-assets refresh --catalog ${SAMPLE_CATALOG_ID} --select all --wait`);

    const ledger = await stack.simulator?.ledger();
    if (flags.json) {
      const report: LocalRunReport = {
        dataDir,
        provider: stack.provider,
        providerKind: stack.config.provider.kind,
        database: stack.database,
        temporalAddress: stack.temporalAddress,
        temporalUi: stack.uiUrl,
        workflowsUrl,
        runUrl,
        resultsUrl,
        httpUrl: stack.httpUrl,
        simulatorUrl: stack.simulatorUrl,
        sampleCatalog: { catalogId: imported.catalogId, products: imported.products, added: imported.added, updated: imported.updated, unchanged: imported.unchanged },
        refresh: summary,
        resumed: resumed.length > 0 ? resumed : undefined,
        simulator: ledger,
        timings: { stackReadyMs, refreshMs, totalMs: Date.now() - t0 },
      };
      process.stdout.write(`${JSON.stringify(report)}\n`);
    }

    if (keepRunning) {
      say('');
      say('Everything keeps running; press Ctrl-C to stop it all.');
      await Promise.race([aborted, stack.workersFailed]).catch((err: unknown) => {
        if (!(err instanceof StackAbortedError)) throw err;
      });
      return 0;
    }
    return summary && summary.failed > 0 ? 4 : 0;
  } catch (err) {
    if (err instanceof StackAbortedError) {
      say('Interrupted. A refresh that was running is durable: it carries on the next time the stack runs.');
      return 130;
    }
    throw err;
  } finally {
    for (const s of handled) process.removeListener(s, onSignal);
    waitAbort.abort();
    await Promise.all(waits);
    if (stack) {
      say('Stopping: workers, HTTP service, simulator, Temporal, Postgres...');
      await stack.stop();
      say('Stopped.');
    }
    await destinations?.close();
  }
}
