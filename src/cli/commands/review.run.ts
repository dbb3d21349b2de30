/** What `catalog-assets review approve|reject` does, loaded when it runs. */
import { connectClient } from '../../temporal/client/connection';
import { sendReviewDecision } from '../../temporal/client/product';
import { CliError, configOrExit } from '../context';

export async function decide(verb: 'approve' | 'reject', f: { catalog: string; sku: string; slot: string; note?: string; by: string }): Promise<void> {
  const config = configOrExit();
  const { client, connection } = await connectClient(config);
  try {
    const sent = await sendReviewDecision(client, f.catalog, f.sku, { slot: f.slot, decision: verb, note: f.note, by: f.by });
    if (!sent.ok) throw new CliError(sent.message, 1);
    const { workflowId } = sent;
    process.stdout.write(`${verb === 'approve' ? 'approved' : 'rejected'} ${f.slot} of ${f.sku} (${workflowId})\n`);
  } finally {
    await connection.close();
  }
}
