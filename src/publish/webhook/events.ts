/**
 * The outbound events' shapes. An event id is derived, never random, from what the event is about:
 * the same asset version published again yields the same id, so a receiver that keeps the ids it has
 * seen drops the repeat. Ids carry no `.` (the signed content is `${id}.${timestamp}.${body}`).
 */
import { createHash } from 'node:crypto';
import type { OutboundEvent, PublishItem } from '../destination';

/** What an event id may look like (what the receiver sees in `webhook-id` and in the body's `id`). */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * A stable event id for an event of `type` about `subject` (a publication key, a workflow id plus a
 * SKU and slot, a refresh's workflow id): `evt_` and 32 hex digits of a SHA-256 over both.
 */
export function outboundEventId(type: OutboundEvent['type'], subject: string): string {
  return `evt_${createHash('sha256').update(`${type}\n${subject}`, 'utf8').digest('hex').slice(0, 32)}`;
}

/** The `asset.published` event for one published asset version (files: what the receiver may fetch or check). */
export function assetPublishedEvent(item: PublishItem, occurredAt: Date): OutboundEvent {
  return {
    id: outboundEventId('asset.published', item.publicationKey),
    type: 'asset.published',
    occurredAt: occurredAt.toISOString(),
    data: {
      catalogId: item.catalogId,
      sku: item.sku,
      slot: item.slot,
      assetId: item.assetId,
      version: item.version,
      altText: item.altText,
      ...(item.locale !== undefined ? { locale: item.locale } : {}),
      files: item.files.map((f) => ({
        variant: f.variant,
        format: f.format,
        contentType: f.contentType,
        width: f.width,
        height: f.height,
        bytes: f.bytes,
        sha256: f.sha256,
        ...(f.publicUrl !== undefined ? { publicUrl: f.publicUrl } : {}),
      })),
    },
  };
}

/**
 * The `asset.failed` event: a slot (or its publication) ended failed with its reason. `subject` is
 * what makes the failure one event however often it is reported: e.g. the publication key for a
 * failed publication, or `${workflowId}:${sku}:${slot}:${fingerprint}` for a failed generation.
 */
export function assetFailedEvent(input: {
  catalogId: string;
  sku: string;
  slot: string;
  subject: string;
  /** The failure's type (e.g. `ContentRejected`, `PublishRejected`) and its operator-readable reason. */
  errorType: string;
  reason: string;
  occurredAt: Date;
  /** Where the failure happened, when it was a publication (the destination's name). */
  destination?: string;
  version?: number;
}): OutboundEvent {
  return {
    id: outboundEventId('asset.failed', input.subject),
    type: 'asset.failed',
    occurredAt: input.occurredAt.toISOString(),
    data: {
      catalogId: input.catalogId,
      sku: input.sku,
      slot: input.slot,
      ...(input.version !== undefined ? { version: input.version } : {}),
      ...(input.destination !== undefined ? { destination: input.destination } : {}),
      errorType: input.errorType,
      reason: input.reason,
    },
  };
}

/** The `refresh.completed` event: one per refresh run (its workflow id), with its counts. */
export function refreshCompletedEvent(input: { catalogId: string; workflowId: string; occurredAt: Date; dryRun: boolean; counts: Record<string, number>; costUsd?: number; failureCount?: number }): OutboundEvent {
  return {
    id: outboundEventId('refresh.completed', input.workflowId),
    type: 'refresh.completed',
    occurredAt: input.occurredAt.toISOString(),
    data: {
      catalogId: input.catalogId,
      workflowId: input.workflowId,
      dryRun: input.dryRun,
      counts: input.counts,
      ...(input.costUsd !== undefined ? { costUsd: input.costUsd } : {}),
      ...(input.failureCount !== undefined ? { failureCount: input.failureCount } : {}),
    },
  };
}
