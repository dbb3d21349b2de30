/** What `catalog-assets refresh` does, loaded when it runs: start a refresh, wait with a progress bar, print its result. */
import { setTimeout as sleep } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type { RefreshFailure, RefreshResult, RefreshSelection } from '../../shared/refresh';
import { connectClient } from '../../temporal/client/connection';
import { refreshProgress, refreshResult, startRefresh } from '../../temporal/client/refresh';
import { CliError, configOrExit } from '../context';

/** What `refresh --json` prints: the result's counts, in dollars rather than cents. */
export type RefreshSummary = Omit<RefreshResult, 'costCents' | 'invalid' | 'runs'> & { workflowId: string };

export function summarize(workflowId: string, r: RefreshResult): RefreshSummary {
  return {
    catalogId: r.catalogId,
    workflowId,
    planned: r.planned,
    skipped: r.skipped,
    generated: r.generated,
    failed: r.failed,
    coalesced: r.coalesced,
    submissions: r.submissions,
    imagesBilled: r.imagesBilled,
    costUsd: r.costUsd,
    dryRun: r.dryRun,
    estimatedImages: r.estimatedImages,
    estimatedCostUsd: r.estimatedCostUsd,
    budgetExhausted: r.budgetExhausted,
    // Results of runs started before failures were listed have neither field.
    failures: r.failures ?? [],
    failureCount: r.failureCount ?? r.failures?.length ?? 0,
  };
}

/** The failed slots as a text table: SKU, slot, error type, reason (one line each). */
export function failureTable(failures: RefreshFailure[], total: number, dryRun: boolean, workflowId: string): string {
  if (failures.length === 0) return '';
  const rows = failures.map((f) => [f.sku, f.slot, f.errorType, f.reason.replace(/\s+/g, ' ')]);
  const head = ['SKU', 'SLOT', 'ERROR', 'REASON'];
  const widths = head.slice(0, 3).map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd();
  const out = [dryRun ? 'cannot be prepared (a real run would fail these):' : 'failed:', line(head), ...rows.map(line)];
  if (total > failures.length) {
    out.push(`… and ${total - failures.length} more${dryRun ? ` (all ${total} in the refresh_failures table, workflow_id = '${workflowId}')` : ' (each in slot_attempts)'}`);
  }
  return `${out.join('\n')}\n`;
}

export async function waitWithProgress(client: Awaited<ReturnType<typeof connectClient>>['client'], workflowId: string, showBar: boolean): Promise<RefreshResult> {
  const done = refreshResult(client, workflowId);
  if (!showBar) return done;
  const bar = new cliProgress.SingleBar(
    { format: '  {bar} {value}/{total} SKUs | {generated} generated, {skipped} unchanged, {failed} failed | ${cost}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(1, 0, { generated: 0, skipped: 0, failed: 0, cost: '0.00' });
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  while (!finished) {
    try {
      const p = await refreshProgress(client, workflowId);
      const settled = p.counts.generated + p.counts.skipped + p.counts.failed + p.counts.coalesced;
      bar.setTotal(Math.max(1, p.counts.planned));
      bar.update(settled, { generated: p.counts.generated, skipped: p.counts.skipped, failed: p.counts.failed, cost: (p.counts.costCents / 100).toFixed(2) });
    } catch {
      // Between runs (continue-as-new) a query may miss; the next one finds the new run.
    }
    await Promise.race([sleep(500), done.catch(() => undefined)]);
  }
  bar.stop();
  return done;
}

export async function refresh(f: { catalog: string; select: RefreshSelection; dryRun: boolean; budgetUsd?: number; budgetImages?: number; window?: number; wait: boolean; json: boolean }): Promise<void> {
  const config = configOrExit();
  const { client, connection } = await connectClient(config);
  try {
    const budget = f.budgetUsd !== undefined || f.budgetImages !== undefined ? { usd: f.budgetUsd, images: f.budgetImages } : undefined;
    const { workflowId } = await startRefresh(client, config.temporal.taskQueuePrefix, {
      catalogId: f.catalog,
      selection: f.select,
      dryRun: f.dryRun,
      budget,
      trigger: 'manual',
      window: f.window,
    });
    const ui = `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
    if (!f.wait) {
      process.stdout.write(f.json ? `${JSON.stringify({ catalogId: f.catalog, workflowId, ui })}\n` : `started ${workflowId}\n  ${ui}\n`);
      return;
    }
    if (!f.json) process.stderr.write(`refresh ${workflowId}\n  ${ui}\n`);
    const result = await waitWithProgress(client, workflowId, !f.json && process.stderr.isTTY === true);
    const summary = summarize(workflowId, result);
    if (f.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(
        `${summary.dryRun ? 'dry run: ' : ''}${summary.planned} planned, ${summary.generated} ${summary.dryRun ? 'would generate' : 'generated'}, ` +
          `${summary.skipped} unchanged, ${summary.failed} ${summary.dryRun ? 'would fail (cannot be prepared)' : 'failed'}; ` +
          `${summary.dryRun ? `~$${summary.estimatedCostUsd.toFixed(2)} estimated (${summary.estimatedImages} images)` : `$${summary.costUsd.toFixed(2)} spent`}` +
          `${summary.budgetExhausted ? ' (budget reached)' : ''}\n`,
      );
      process.stdout.write(failureTable(summary.failures, summary.failureCount, summary.dryRun, workflowId));
    }
    if (summary.failed > 0) throw new CliError(`${summary.failed} product(s) ${summary.dryRun ? 'cannot be prepared' : 'failed'}; see ${ui}`, 4);
  } finally {
    await connection.close();
  }
}
