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
    // The first send keeps the key's id; a later send (a rollback's republish) is a new event.
    id: outboundEventId('asset.published', item.send && item.send > 1 ? `${item.publicationKey}\nsend ${item.send}` : item.publicationKey),
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
      ...(item.republish ? { republish: true } : {}),
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
 * The id a receiver sees for an event: the caller's id where it is already wire-safe, otherwise one
 * derived from it (`evt_` and 32 hex digits of its SHA-256), so the same event always travels under
 * the same id and ids with `.` or `:` (the workflows build ids from their parts) never reach the
 * signed content.
 */
export function wireEventId(id: string): string {
  return EVENT_ID_PATTERN.test(id) ? id : `evt_${createHash('sha256').update(`id\n${id}`, 'utf8').digest('hex').slice(0, 32)}`;
}
