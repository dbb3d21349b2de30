/**
 * Recorded workflow histories as JSON fixtures. The files are protobufjs's plain-object form of
 * temporal.api.history.v1.History (camelCase fields; int64, enums and bytes as strings), written and
 * read with @temporalio/proto's own generated codec.
 *
 * Why not the SDK's historyToJSON/historyFromJSON (the Temporal CLI/UI format)? In this install npm
 * keeps separate copies of protobufjs 8 under @temporalio/common and @temporalio/proto (protobufjs 7
 * sits at the root for @grpc/proto-loader), so those helpers fail their `instanceof Type` check with
 * "type must be a Type". Passing Worker.runReplayHistory a decoded History sidesteps them.
 */
import fs from 'node:fs';
import path from 'node:path';
import proto from '@temporalio/proto';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';

const { History } = proto.temporal.api.history.v1;
export type History = proto.temporal.api.history.v1.IHistory;

export function historyToFixture(history: History): Record<string, unknown> {
  return History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
}

export function historyFromFixture(json: unknown): proto.temporal.api.history.v1.History {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new TypeError('not a recorded history: expected an object with an events array');
  }
  return History.fromObject(json);
}

/** Where the committed histories live: `product-*.json` and `refresh-*.json`, one per scenario run. */
export const HISTORIES_DIR = path.resolve(import.meta.dirname, '..', 'fixtures', 'histories');

/** The workflows whose histories are recorded; a fixture's name starts with its kind. */
export type RecordedKind = 'product' | 'refresh';

/** The committed history files of one workflow kind, sorted. */
export function recordedHistoryFiles(kind: RecordedKind, dir = HISTORIES_DIR): string[] {
  const pattern = new RegExp(`^${kind}-.+\\.json$`);
  return (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((f) => pattern.test(f)).sort();
}

export function loadRecordedHistory(file: string, dir = HISTORIES_DIR): proto.temporal.api.history.v1.History {
  return historyFromFixture(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
}

/**
 * Writes a history as a fixture, one event per line (small, and a re-recording diffs event by event).
 * Refuses a history with fields beside `events`: the fixture format would silently drop them.
 */
export function writeHistoryFixture(file: string, history: History, dir = HISTORIES_DIR): void {
  const { events = [], ...rest } = historyToFixture(history) as { events?: unknown[] };
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new Error(`history for ${file} has fields the fixture format does not keep: ${extra.join(', ')}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, file), `{"events": [\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`);
}

/**
 * Replays each file on one replay worker; the result maps each file to the error its replay ended
 * with (undefined: it replayed cleanly).
 */
export async function replayRecorded(files: readonly string[], options: ReplayWorkerOptions, dir = HISTORIES_DIR): Promise<Map<string, Error | undefined>> {
  const results = new Map<string, Error | undefined>();
  const histories = files.map((file) => ({ workflowId: file, history: loadRecordedHistory(file, dir) }));
  for await (const r of Worker.runReplayHistories(options, histories)) results.set(r.workflowId, r.error);
  return results;
}

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

/** The part of a history event a local activity's marker is read from. */
export interface MarkerEventLike {
  markerRecordedEventAttributes?: {
    markerName?: string | null;
    details?: Record<string, { payloads?: Array<{ data?: Uint8Array | null }> | null }> | null;
  } | null;
}

/** The activity type a local activity's marker records (sdk-core's `core_local_activity` marker). */
export function localActivityType(event: MarkerEventLike): string | undefined {
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== 'core_local_activity') return undefined;
  const data = marker.details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string };
  return parsed.activity_type;
}

/** Every activity a history ran, regular (scheduled events) and local (markers), in order. */
export function activitiesOf(events: readonly HistoryEvent[]): { activities: string[]; local: string[] } {
  const activities: string[] = [];
  const local: string[] = [];
  for (const e of events) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) activities.push(name);
    const la = localActivityType(e);
    if (la) local.push(la);
  }
  return { activities, local };
}
