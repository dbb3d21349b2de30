/**
 * Plan scheduling: every slot starts at once; a slot that references another slot's output waits for
 * it (a dependency listed after its dependent has no asset in this run, and fails the dependent).
 */
import type { PlanSlotSummary, SlotOutcome } from '../../../shared/steps';

export interface DependencyOutcome {
  name: string;
  outcome: SlotOutcome | undefined;
}

export type SlotRunner = (slot: PlanSlotSummary, dependencies: () => Promise<DependencyOutcome[]>) => Promise<SlotOutcome>;

export async function runSlots(slots: readonly PlanSlotSummary[], run: SlotRunner): Promise<SlotOutcome[]> {
  const running = new Map<string, Promise<SlotOutcome>>();
  const dependenciesOf = (slot: PlanSlotSummary) => () =>
    Promise.all(slot.dependsOn.map(async (d) => ({ name: d, outcome: await (running.get(d) ?? Promise.resolve(undefined)) })));
  for (const slot of slots) running.set(slot.name, run(slot, dependenciesOf(slot)));
  return Promise.all([...running.values()]);
}
