/**
 * A catalog's publish settings, the part every destination shares: `destinations` (each `{ name, kind,
 * slots?, profile?, enabled?, ...kind-specific }`) and `publishGate`. The kind-specific fields are the
 * kind's own schema's (src/publish/settings.ts checks them). Read by src/db (one read rule) and the
 * publish step; not imported by workflow code (zod).
 */
import { z } from 'zod';

const slotName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'a lowercase slot name such as hero');
const variantName = z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "a variant name such as zoom-jpeg, or 'original'");

/** Fields of a destination's settings that belong to the publish step, not to the destination kind. */
export const PUBLISH_STEP_FIELDS = ['slots', 'profile', 'enabled'] as const;

export const destinationSettingsSchema = z.looseObject({
  name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'a lowercase destination name such as akeneo or shop-eu'),
  kind: z.string().min(1, 'a destination kind such as akeneo, shopify or webhook'),
  /**
   * Which variant goes where: `{ hero: 'zoom-jpeg', label: 'original', lifestyle: false }`. A slot not
   * named gets its largest variant; `false` keeps the slot away from this destination.
   */
  slots: z.record(slotName, z.union([variantName, z.literal(false)])).optional(),
  /** A channel profile name: with `publishGate` on, the gate decides per image before it goes. */
  profile: z.string().min(1).max(64).optional(),
  enabled: z.boolean().default(true),
});
export type DestinationSettings = z.infer<typeof destinationSettingsSchema>;

export const publishSettingsSchema = z.object({
  destinations: z
    .array(destinationSettingsSchema)
    .max(16)
    .default([])
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((d, i) => {
        if (seen.has(d.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate destination name "${d.name}"` });
        seen.add(d.name);
      });
    }),
  publishGate: z.boolean().default(false),
});
export type PublishSettings = z.infer<typeof publishSettingsSchema>;

/** `destinations.0.slots.hero: <reason>`: the first problem, naming the field. */
export function settingsIssue(error: z.ZodError, prefix = ''): string {
  const issue = error.issues[0];
  const path = [prefix, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.');
  return `${path || '(root)'}: ${issue?.message ?? 'invalid'}`;
}

/** The publish part of stored settings, or the problem with it (never silently no destinations). */
export function publishSettingsOf(settings: Record<string, unknown>): { publish: PublishSettings; problem?: undefined } | { publish?: undefined; problem: string } {
  const parsed = publishSettingsSchema.safeParse({ destinations: settings.destinations, publishGate: settings.publishGate });
  if (parsed.success) return { publish: parsed.data };
  return { problem: `invalid catalog settings at ${settingsIssue(parsed.error)}` };
}
