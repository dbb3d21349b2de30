/**
 * A destination kind for tests: it keeps what it holds by publication key (like a real destination
 * that derives its asset code from the key), records every call and every state change, and injects
 * faults from a queue. `held` proves nothing is uploaded twice for one version.
 */
import { z } from 'zod';
import {
  PublishError,
  type DestinationAdapter,
  type DestinationKind,
  type EventDestination,
  type OutboundEvent,
  type PublishItem,
  type PublishReceipt,
  type ReadFile,
} from '../../src/publish/destination';

export interface FakeCall {
  destination: string;
  sku: string;
  slot: string;
  version: number;
  publicationKey: string;
  republish: boolean;
  altText: string;
  variant: string;
  outcome: 'uploaded' | 'already-present' | 'shown-again' | 'fault';
}

export interface FakeFault {
  /** Only for this SKU (default any). */
  sku?: string;
  destination?: string;
  error: PublishError;
  /** How many calls it answers (default 1). */
  times?: number;
}

export interface FakeRecord {
  calls: FakeCall[];
  /** Uploads per publication key: never above 1. */
  uploads: Map<string, number>;
  /** What each (destination, SKU, slot) shows now: the version. */
  shown: Map<string, number>;
  events: Array<{ destination: string; event: OutboundEvent }>;
  faults: FakeFault[];
  bytesRead: number;
}

export function newRecord(): FakeRecord {
  return { calls: [], uploads: new Map(), shown: new Map(), events: [], faults: [], bytesRead: 0 };
}

const settingsSchema = z
  .object({ name: z.string(), kind: z.literal('fake'), shop: z.string().min(1, 'the shop name') })
  .strict();

function takeFault(record: FakeRecord, destination: string, sku: string): PublishError | undefined {
  const i = record.faults.findIndex((f) => (f.sku === undefined || f.sku === sku) && (f.destination === undefined || f.destination === destination));
  if (i < 0) return undefined;
  const f = record.faults[i]!;
  f.times = (f.times ?? 1) - 1;
  if (f.times <= 0) record.faults.splice(i, 1);
  return f.error;
}

export function fakeKind(record: FakeRecord): DestinationKind<z.infer<typeof settingsSchema>> {
  return {
    kind: 'fake' as 'akeneo',
    settingsSchema,
    create(settings): DestinationAdapter {
      return {
        name: settings.name,
        kind: 'fake' as 'akeneo',
        async test() {
          return { ok: true, detail: `shop ${settings.shop} answers` };
        },
        async publish(item: PublishItem, readFile: ReadFile): Promise<PublishReceipt> {
          const base = { destination: settings.name, sku: item.sku, slot: item.slot, version: item.version, publicationKey: item.publicationKey, republish: item.republish === true, altText: item.altText, variant: item.files[0]!.variant };
          const fault = takeFault(record, settings.name, item.sku);
          if (fault) {
            record.calls.push({ ...base, outcome: 'fault' });
            throw fault;
          }
          const where = `${settings.name}|${item.sku}|${item.slot}`;
          if (record.uploads.has(item.publicationKey)) {
            const shownAgain = record.shown.get(where) !== item.version;
            record.shown.set(where, item.version);
            record.calls.push({ ...base, outcome: shownAgain ? 'shown-again' : 'already-present' });
            return { remoteId: `asset-${item.publicationKey}`, alreadyPresent: true };
          }
          for (const f of item.files) {
            const bytes = await readFile(f.storageKey);
            if (bytes.length !== f.bytes) throw new PublishError(`file ${f.storageKey} has ${bytes.length} bytes, item says ${f.bytes}`, 'rejected', false);
            record.bytesRead += bytes.length;
          }
          record.uploads.set(item.publicationKey, (record.uploads.get(item.publicationKey) ?? 0) + 1);
          record.shown.set(where, item.version);
          record.calls.push({ ...base, outcome: 'uploaded' });
          return { remoteId: `asset-${item.publicationKey}`, alreadyPresent: false, details: { shop: settings.shop } };
        },
      };
    },
  };
}

const eventSettingsSchema = z.object({ name: z.string(), kind: z.literal('fake-events'), url: z.string().url() }).strict();

export function fakeEventKind(record: FakeRecord): DestinationKind<z.infer<typeof eventSettingsSchema>> {
  return {
    kind: 'fake-events' as 'webhook',
    settingsSchema: eventSettingsSchema,
    create(settings): EventDestination {
      const send = async (event: OutboundEvent): Promise<PublishReceipt> => {
        const fault = takeFault(record, settings.name, typeof event.data.sku === 'string' ? event.data.sku : '');
        if (fault) throw fault;
        record.events.push({ destination: settings.name, event });
        return { remoteId: event.id, alreadyPresent: false };
      };
      return {
        name: settings.name,
        kind: 'fake-events' as 'webhook',
        async test() {
          return { ok: true, detail: `receiver ${settings.url}` };
        },
        async publish(item: PublishItem): Promise<PublishReceipt> {
          return send({ id: `asset.published:${item.publicationKey}`, type: 'asset.published', occurredAt: new Date().toISOString(), data: { sku: item.sku, slot: item.slot, version: item.version } });
        },
        send,
      };
    },
  };
}
