/**
 * The nightly regeneration: one Temporal Schedule per catalog that starts a `stale` refresh.
 * Created or updated idempotently; two nightly runs never overlap (SKIP); a missed night is caught
 * up within the catch-up window (a worker outage at 02:00 still runs when it is back).
 */
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import { refreshWorkflowId, scheduleId, taskQueueName } from '../../shared/ids';
import { SA } from '../../shared/searchAttributes';
import { refreshWorkflow } from '../workflows/refresh';
import type { RefreshBudget, RefreshWorkflowInput } from '../../shared/refresh';

export interface NightlyOptions {
  catalogId: string;
  taskQueuePrefix: string;
  cron: string;
  timezone: string;
  catchupWindow: string;
  budget?: RefreshBudget;
  window?: number;
  paused?: boolean;
}

function action(o: NightlyOptions) {
  const input: RefreshWorkflowInput = { catalogId: o.catalogId, selection: 'stale', dryRun: false, trigger: 'schedule', budget: o.budget, window: o.window };
  return {
    type: 'startWorkflow' as const,
    workflowType: refreshWorkflow.name,
    workflowId: refreshWorkflowId(o.catalogId, 'nightly'),
    taskQueue: taskQueueName(o.taskQueuePrefix, 'workflows'),
    args: [input],
    typedSearchAttributes: [
      { key: SA.catalogId, value: o.catalogId },
      { key: SA.trigger, value: 'schedule' },
    ],
    staticSummary: `nightly stale refresh of catalog ${o.catalogId}`,
  };
}

/** Creates the catalog's schedule, or updates it in place: running it twice changes nothing. */
export async function upsertNightlySchedule(client: Client, o: NightlyOptions): Promise<{ scheduleId: string; created: boolean }> {
  const id = scheduleId(o.catalogId);
  const spec = { cronExpressions: [o.cron], timezone: o.timezone };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: o.catchupWindow };
  const handle = client.schedule.getHandle(id);
  try {
    await handle.update((prev) => ({ ...prev, spec, action: action(o), policies: { ...prev.policies, ...policies } }));
    return { scheduleId: id, created: false };
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  await client.schedule.create({
    scheduleId: id,
    spec,
    action: action(o),
    policies,
    state: { paused: o.paused ?? false, note: 'created by catalog-assets schedule' },
    typedSearchAttributes: [{ key: SA.catalogId, value: o.catalogId }],
  });
  return { scheduleId: id, created: true };
}

export async function pauseNightly(client: Client, catalogId: string, note = 'paused by catalog-assets'): Promise<void> {
  await client.schedule.getHandle(scheduleId(catalogId)).pause(note);
}

export async function resumeNightly(client: Client, catalogId: string, note = 'resumed by catalog-assets'): Promise<void> {
  await client.schedule.getHandle(scheduleId(catalogId)).unpause(note);
}

/** Runs the nightly refresh now (still subject to the overlap policy). */
export async function triggerNightly(client: Client, catalogId: string): Promise<void> {
  await client.schedule.getHandle(scheduleId(catalogId)).trigger(ScheduleOverlapPolicy.SKIP);
}

export async function describeNightly(client: Client, catalogId: string): Promise<{
  scheduleId: string;
  paused: boolean;
  note: string | undefined;
  cron: string[];
  timezone: string | undefined;
  nextRuns: string[];
  recentRuns: Array<{ workflowId: string; runId: string; scheduledAt: string }>;
}> {
  const d: ScheduleDescription = await client.schedule.getHandle(scheduleId(catalogId)).describe();
  return {
    scheduleId: d.scheduleId,
    paused: d.state.paused,
    note: d.state.note,
    cron: (d.spec.calendars ?? []).map((c) => calendarToCron(c as unknown as Record<string, unknown>)),
    timezone: d.spec.timezone,
    nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.map((a) => ({
      workflowId: a.action.workflow.workflowId,
      runId: a.action.workflow.firstExecutionRunId,
      scheduledAt: a.scheduledAt.toISOString(),
    })),
  };
}

export async function deleteNightly(client: Client, catalogId: string): Promise<void> {
  await client.schedule.getHandle(scheduleId(catalogId)).delete();
}

type Range = { start: number | string; end?: number | string; step?: number };
const FULL: Record<string, [number | string, number | string]> = {
  minute: [0, 59], hour: [0, 23], dayOfMonth: [1, 31], month: ['JANUARY', 'DECEMBER'], dayOfWeek: ['SUNDAY', 'SATURDAY'],
};
const MONTHS = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];
const DAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

/** The server keeps a cron expression only as calendar ranges: this writes it back as cron. */
export function calendarToCron(calendar: Record<string, unknown>): string {
  const field = (name: string): string => {
    const ranges = (calendar[name] as Range[] | undefined) ?? [];
    const full = FULL[name]!;
    if (ranges.length === 0) return '*';
    const num = (v: number | string) => (typeof v === 'number' ? v : MONTHS.includes(v) ? MONTHS.indexOf(v) + 1 : DAYS.indexOf(v));
    return ranges
      .map((r) => {
        const end = r.end ?? r.start;
        const step = r.step && r.step > 1 ? `/${r.step}` : '';
        if (r.start === full[0] && end === full[1]) return `*${step}`;
        return end === r.start ? `${num(r.start)}${step}` : `${num(r.start)}-${num(end)}${step}`;
      })
      .join(',');
  };
  return ['minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'].map(field).join(' ');
}
