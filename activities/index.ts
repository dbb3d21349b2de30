import { createCatalogActivities } from './catalog';
import type { ActivityDeps } from './deps';
import { createImagingActivities } from './imaging';
import { createProviderActivities } from './provider';
import { createRefreshActivities } from './refresh';

export type { ActivityDeps } from './deps';

/** Every activity, built over injected clients. Workflows type their proxies with this. */
export function createActivities(deps: ActivityDeps) {
  const catalog = createCatalogActivities(deps);
  return {
    ...catalog,
    ...createRefreshActivities(deps, catalog),
    ...createProviderActivities(deps),
    ...createImagingActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
