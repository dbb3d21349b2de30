/**
 * A catalog's destinations, checked against their kinds: the shared shape (src/shared/publishSettings.ts)
 * and each kind's own schema over its own fields. Every writer of settings that knows the kinds calls
 * `validateCatalogSettings`; the publish step calls `configuredDestinations` on what it reads.
 */
import { CatalogSettingsError, checkCatalogSettings, type CatalogSettings } from '../db/repositories/catalogs';
import { PUBLISH_STEP_FIELDS, publishSettingsOf, settingsIssue, type DestinationSettings, type PublishSettings } from '../shared/publishSettings';
import type { DestinationKind } from './destination';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each kind has its own settings type
export type AnyKind = DestinationKind<any>;

export interface ConfiguredDestination {
  /** Index in the catalog's `destinations` (for messages naming the field). */
  index: number;
  settings: DestinationSettings;
  kind: AnyKind;
  /** The kind's own settings, parsed by its schema (`name`, `kind` and its fields; not the publish step's). */
  kindSettings: { name: string; kind: string };
}

/** The destination's settings as its kind sees them: without `slots`, `profile` and `enabled`. */
export function kindFieldsOf(d: DestinationSettings): Record<string, unknown> {
  const out: Record<string, unknown> = { ...d };
  for (const f of PUBLISH_STEP_FIELDS) delete out[f];
  return out;
}

function configure(publish: PublishSettings, kinds: readonly AnyKind[]): ConfiguredDestination[] {
  return publish.destinations.map((settings, index) => {
    const kind = kinds.find((k) => k.kind === settings.kind);
    if (!kind) {
      const known = kinds.map((k) => k.kind).join(', ') || 'none';
      throw new CatalogSettingsError(`invalid catalog settings at destinations.${index}.kind: unknown destination kind "${settings.kind}" (this build has: ${known})`);
    }
    const parsed = kind.settingsSchema.safeParse(kindFieldsOf(settings));
    if (!parsed.success) throw new CatalogSettingsError(`invalid catalog settings at ${settingsIssue(parsed.error, `destinations.${index}`)}`);
    return { index, settings, kind, kindSettings: parsed.data };
  });
}

/** Checks settings before they are written; throws CatalogSettingsError naming the field. */
export function validateCatalogSettings(settings: CatalogSettings, kinds: readonly AnyKind[]): void {
  checkCatalogSettings(settings);
  const publish = publishSettingsOf(settings);
  if (publish.publish) configure(publish.publish, kinds);
}

/** The catalog's destinations with their kinds, all of them (enabled or not); throws CatalogSettingsError. */
export function configuredDestinations(publish: PublishSettings | undefined, problem: string | undefined, kinds: readonly AnyKind[]): ConfiguredDestination[] {
  if (problem) throw new CatalogSettingsError(problem);
  return publish ? configure(publish, kinds) : [];
}
