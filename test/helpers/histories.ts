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
import proto from '@temporalio/proto';

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
