/** What `catalog-assets review show` does, loaded when it runs: what waits for review on a SKU, with the label readings. */
import type { LabelReadingSummary } from '../../shared/label';
import { productWorkflowId } from '../../shared/ids';
import { connectClient } from '../../temporal/client/connection';
import { productStatusQuery, type ProductRunStatus } from '../../temporal/workflows/product/definitions';
import { CliError, configOrExit } from '../context';

function reading(r: LabelReadingSummary, i: number): string {
  const figure = r.similarity === null ? r.verdict : `${r.verdict} (similarity ${r.similarity.toFixed(2)}, threshold ${r.threshold})`;
  const read = r.read === null ? '' : `\n      read:     ${JSON.stringify(r.read)}`;
  return `    reading ${i + 1}, job ${r.jobId}: ${figure}\n      expected: ${JSON.stringify(r.expected)}${read}`;
}

/** The status of a SKU's slots as an operator reads it before deciding. */
export function formatReviewStatus(status: ProductRunStatus, slot?: string): string {
  const lines: string[] = [];
  for (const [name, s] of Object.entries(status.slots)) {
    if (slot && name !== slot) continue;
    const waiting = s.phase === 'awaiting_review';
    lines.push(`${name}: ${s.phase}${waiting && s.pendingAssetId ? `, asset ${s.pendingAssetId} v${s.pendingVersion ?? '?'} until ${s.reviewDeadline ?? '?'}` : ''}`);
    if (s.labelReview) lines.push(`  in review because of its label: ${s.labelReview}`);
    if (s.labelReadings?.length) {
      lines.push('  label readings:');
      s.labelReadings.forEach((r, i) => lines.push(reading(r, i)));
    }
  }
  return lines.length ? lines.join('\n') : `no slot ${slot ?? ''} in this run`.replace('  ', ' ');
}

export async function show(f: { catalog: string; sku: string; slot?: string; json?: boolean }): Promise<void> {
  const config = configOrExit();
  const { client, connection } = await connectClient(config);
  try {
    const status = await client.workflow.getHandle(productWorkflowId(f.catalog, f.sku)).query(productStatusQuery).catch(() => undefined);
    if (!status) throw new CliError(`no running asset plan for SKU ${f.sku} in catalog ${f.catalog}`, 1);
    process.stdout.write(f.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatReviewStatus(status, f.slot)}\n`);
  } finally {
    await connection.close();
  }
}
