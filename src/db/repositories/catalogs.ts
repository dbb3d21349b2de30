import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema';
import { DEFAULT_PLAN, planSchema, type Plan } from '../../shared/plan';
import { publishSettingsOf } from '../../shared/publishSettings';

type Db = Kysely<Database> | Transaction<Database>;

export interface CatalogSettings {
  sceneReferences?: string[];
  styleReferences?: string[];
  maxAgeDays?: number;
  [key: string]: unknown;
}

/** Settings that do not parse, naming the field (e.g. `destinations.0.slots.hero`). */
export class CatalogSettingsError extends Error {
  override readonly name = 'CatalogSettingsError';
}

/**
 * The checks every write of settings passes: the publish settings' shared shape. A destination's
 * kind-specific fields are its kind's (src/publish/settings.ts, checked by the writers that know the kinds).
 */
export function checkCatalogSettings(settings: CatalogSettings): void {
  const publish = publishSettingsOf(settings);
  if (publish.problem) throw new CatalogSettingsError(publish.problem);
}

export async function upsertCatalog(db: Db, input: { id: string; name?: string; plan?: unknown; settings?: CatalogSettings }): Promise<void> {
  if (input.settings !== undefined) checkCatalogSettings(input.settings);
  await db
    .insertInto('catalogs')
    .values({
      id: input.id,
      name: input.name ?? input.id,
      plan: input.plan === undefined ? null : JSON.stringify(input.plan),
      settings: JSON.stringify(input.settings ?? {}),
      updated_at: sql<Date>`now()`,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        name: input.name === undefined ? eb.ref('catalogs.name') : eb.ref('excluded.name'),
        plan: input.plan === undefined ? eb.ref('catalogs.plan') : eb.ref('excluded.plan'),
        settings: input.settings === undefined ? eb.ref('catalogs.settings') : eb.ref('excluded.settings'),
        updated_at: sql<Date>`now()`,
      })),
    )
    .execute();
}

export async function getCatalog(db: Db, id: string) {
  return db.selectFrom('catalogs').select(['id', 'name', 'plan', 'settings', 'created_at', 'updated_at']).where('id', '=', id).executeTakeFirst();
}

/**
 * A stored plan, read by one rule everywhere: no plan means the default plan; a plan that does not
 * parse is a problem (the product workflow fails with InvalidPlan naming it, a refresh counts no
 * images for such a catalog's SKUs, status views list no slots), never silently the default.
 */
export function planOf(stored: unknown): { plan: Plan; problem?: undefined } | { plan?: undefined; problem: string } {
  if (stored === null || stored === undefined) return { plan: DEFAULT_PLAN };
  const parsed = planSchema.safeParse(stored);
  if (parsed.success) return { plan: parsed.data };
  const issue = parsed.error.issues[0];
  return { problem: `invalid plan at ${issue?.path.join('.') || '(root)'}: ${issue?.message}` };
}

/** The enabled slots of a stored plan, in plan order (none for an invalid plan). */
export function enabledSlotNames(stored: unknown): string[] {
  return planOf(stored).plan?.slots.filter((s) => s.enabled).map((s) => s.name) ?? [];
}

/**
 * A catalog's plan and settings, the one read of them. Publish settings that do not parse (written
 * before a check existed, or by hand) come back as `publishProblem`: the publish step reports it per
 * SKU and destination; generation goes on.
 */
export async function readCatalogPlan(db: Db, id: string) {
  const catalog = await db.selectFrom('catalogs').select(['id', 'name', 'plan', 'settings']).where('id', '=', id).executeTakeFirst();
  if (!catalog) return undefined;
  const settings = catalog.settings as CatalogSettings;
  const publish = publishSettingsOf(settings);
  return { id: catalog.id, name: catalog.name, settings, publish: publish.publish, publishProblem: publish.problem, ...planOf(catalog.plan) };
}
