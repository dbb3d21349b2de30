/**
 * Starting many product workflows with a bounded number of calls in flight. One failure does not stop
 * the others; each outcome is reported, so the caller can retry exactly the ones that failed.
 */
export interface TriggerOutcome<T> {
  started: Array<{ item: T; workflowId: string }>;
  failed: Array<{ item: T; error: unknown }>;
}

export async function triggerProducts<T>(
  items: T[],
  start: (item: T) => Promise<{ workflowId: string }>,
  concurrency = 8,
): Promise<TriggerOutcome<T>> {
  const out: TriggerOutcome<T> = { started: [], failed: [] };
  let next = 0;
  async function lane(): Promise<void> {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        const { workflowId } = await start(item);
        out.started.push({ item, workflowId });
      } catch (error) {
        out.failed.push({ item, error });
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return out;
}
