/** Status reporting: the status query's answer and the run's details line in Temporal UI. */
import { setCurrentDetails } from '@temporalio/workflow';
import type { SlotOutcome } from '../../../shared/steps';
import type { ProductRunStatus, SlotStatus } from './definitions';

export interface StatusReport {
  readonly status: ProductRunStatus;
  /** A new slot's status, in the query's answer from now on. */
  track(slot: string): SlotStatus;
  /** Ends a slot with its outcome and updates the details. */
  finish(state: SlotStatus, outcome: SlotOutcome): SlotOutcome;
  /** Updates the details (e.g. when a slot starts waiting for review). */
  publish(): void;
}

export function statusReport(status: ProductRunStatus): StatusReport {
  function describe(): string {
    const lines = Object.entries(status.slots).map(([name, s]) => {
      const o = s.outcome;
      if (!o) return `- **${name}**: ${s.phase}`;
      if (o.outcome === 'failed') return `- **${name}**: failed, ${o.errorType}: ${o.message}`;
      if (o.outcome === 'generated') return `- **${name}**: generated v${o.version} (${o.imagesBilled} image${o.imagesBilled === 1 ? '' : 's'} billed)`;
      return `- **${name}**: ${o.outcome}`;
    });
    for (const [name, p] of Object.entries(status.publish ?? {})) {
      const failed = p.failed.map((f) => `${f.slot}: ${f.errorType}: ${f.message}`).join('; ');
      lines.push(`- publish to **${name}**: ${p.outcome}${p.published ? ` (${p.published} sent)` : ''}${failed ? `, ${failed}` : ''}`);
    }
    return `SKU **${status.sku}** (${status.productName ?? ''}) in catalog **${status.catalogId}**\n${lines.join('\n')}`;
  }
  const publish = () => setCurrentDetails(describe());
  return {
    status,
    track(slot) {
      const state: SlotStatus = { phase: 'waiting' };
      status.slots[slot] = state;
      return state;
    },
    finish(state, outcome) {
      state.phase = 'done';
      state.outcome = outcome;
      publish();
      return outcome;
    },
    publish,
  };
}
