/**
 * The PIM webhook event shape: Akeneo's Event Platform format (the most common PIM webhook), so an
 * Akeneo connection can call the service as it is, and any other PIM can be adapted to it.
 *
 * A delivery is an envelope with a batch of events (one event without the envelope is accepted too):
 *
 *   {
 *     "events": [
 *       {
 *         "action": "product.created" | "product.updated" | "product.removed",
 *         "event_id": "3c5e5d7a-…",                       // unique per event: the de-duplication key
 *         "event_datetime": "2026-11-24T18:30:00+00:00",   // ISO 8601 with offset: the ordering key
 *         "author": "julia", "author_type": "ui", "pim_source": "https://pim.example.com",  // optional
 *         "data": {
 *           "resource": {
 *             "identifier": "NC-001",                      // the SKU
 *             "uuid": "…", "family": "creams", "categories": ["face"], "enabled": true,   // optional
 *             "values": {                                  // optional for product.removed
 *               "name":      [{ "locale": null, "scope": null, "data": "Night Cream" }],
 *               "labelText": [{ "locale": "en_GB", "scope": "ecommerce", "data": "Night Cream 50 ml" }],
 *               "packshotUrl": [{ "locale": null, "scope": null, "data": "https://cdn.example.com/nc-001.jpg" }]
 *             }
 *           }
 *         }
 *       }
 *     ]
 *   }
 *
 * Mapping onto the snapshot: each attribute code in `values` becomes one flat attribute; its value is
 * the `data` of the entry with locale and scope both null, or else the first entry (a catalog is one
 * locale and channel here). Null data leaves the attribute out. `family` and `categories` become
 * attributes of those names unless `values` has them. The product name is `values.name`, or the
 * identifier. Attribute codes follow Akeneo's rule (letters, digits, underscores) and pass through as
 * they are, so the plan's prompt templates name them directly. Unknown extra fields are ignored.
 */
import { z } from 'zod';
import type { PimAction, PimChange } from '../db/repositories/pimChanges';
import { skuSchema } from '../catalog/text';

export const PIM_ACTIONS = ['product.created', 'product.updated', 'product.removed'] as const;

const attributeCode = z
  .string()
  .regex(/^[A-Za-z0-9_]{1,100}$/, 'an attribute code: 1 to 100 letters, digits or underscores')
  .refine((code) => code !== '__proto__', 'reserved attribute code');

const valueEntry = z.looseObject({
  locale: z.string().max(100).nullable().optional(),
  scope: z.string().max(100).nullable().optional(),
  data: z.unknown(),
});

const resourceSchema = z.looseObject({
  identifier: skuSchema,
  uuid: z.string().max(100).optional(),
  family: z.string().max(200).nullable().optional(),
  categories: z.array(z.string().max(200)).max(1_000).optional(),
  values: z.record(attributeCode, z.array(valueEntry).max(1_000)).optional(),
});

export const pimEventSchema = z.looseObject({
  action: z.enum(PIM_ACTIONS),
  event_id: z.string().min(1).max(200),
  event_datetime: z.iso
    .datetime({ offset: true })
    .refine((s) => new Date(s).getUTCFullYear() >= 1970, 'must not be before 1970'),
  author: z.string().max(200).optional(),
  author_type: z.string().max(100).optional(),
  pim_source: z.string().max(2_000).optional(),
  data: z.looseObject({ resource: resourceSchema }),
});
export type PimEvent = z.infer<typeof pimEventSchema>;

export function envelopeSchema(maxEvents: number) {
  return z.looseObject({ events: z.array(pimEventSchema).min(1, 'at least one event').max(maxEvents, `at most ${maxEvents} events per delivery`) });
}

export interface PayloadIssue {
  /** The zod path, dotted: `events.3.data.resource.identifier`. */
  field: string;
  message: string;
}

/**
 * Validates a whole delivery (all-or-nothing): either every event is well-formed, or the issues.
 * An object with an `events` key is an envelope; anything else must be one event.
 */
/**
 * How far ahead of the service's clock an event may be dated. An event dated in the future would win
 * every later comparison (newest event wins) and freeze the product until that date; a PIM clock that
 * far off is a malformed delivery.
 */
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;

export function parsePimDelivery(
  body: unknown,
  maxEvents: number,
  nowMs = Date.now(),
): { ok: true; events: PimEvent[] } | { ok: false; issues: PayloadIssue[] } {
  const isEnvelope = typeof body === 'object' && body !== null && !Array.isArray(body) && 'events' in body;
  const result = isEnvelope ? envelopeSchema(maxEvents).safeParse(body) : pimEventSchema.safeParse(body);
  if (!result.success) {
    return {
      ok: false,
      issues: result.error.issues.slice(0, 20).map((i) => ({ field: i.path.map(String).join('.') || '(body)', message: i.message })),
    };
  }
  const events = isEnvelope ? (result.data as { events: PimEvent[] }).events : [result.data as PimEvent];
  const future = events.flatMap((e, i) =>
    new Date(e.event_datetime).getTime() > nowMs + MAX_FUTURE_SKEW_MS
      ? [{ field: isEnvelope ? `events.${i}.event_datetime` : 'event_datetime', message: 'is more than 24 hours ahead of the service clock' }]
      : [],
  );
  if (future.length > 0) return { ok: false, issues: future.slice(0, 20) };
  return { ok: true, events };
}

function pickValue(entries: Array<{ locale?: string | null; scope?: string | null; data?: unknown }>): unknown {
  const chosen = entries.find((e) => (e.locale ?? null) === null && (e.scope ?? null) === null) ?? entries[0];
  return chosen?.data ?? null;
}

/** The snapshot change an event stands for. */
export function toPimChange(event: PimEvent): PimChange {
  const resource = event.data.resource;
  const action = event.action.slice('product.'.length) as PimAction;
  const base = { eventId: event.event_id, action, sku: resource.identifier, at: new Date(event.event_datetime) };
  if (action === 'removed') return base;

  // Built as entries so no attribute code can touch an object prototype.
  const entries: Array<[string, unknown]> = [];
  if (typeof resource.family === 'string') entries.push(['family', resource.family]);
  if (resource.categories) entries.push(['categories', resource.categories]);
  for (const [code, list] of Object.entries(resource.values ?? {})) {
    const value = pickValue(list);
    if (value !== null && value !== undefined) entries.push([code, value]);
  }
  const attributes = Object.fromEntries(entries) as Record<string, unknown>;
  const nameValue = attributes.name;
  const name = typeof nameValue === 'string' && nameValue.trim() !== '' ? nameValue.trim() : typeof nameValue === 'number' ? String(nameValue) : resource.identifier;
  return { ...base, name, attributes };
}
