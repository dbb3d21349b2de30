/** The results page: a catalog's generated images as a grid (HTML), its routes and its static writer. */
export {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  loadResultsData,
  type LoadResultsOptions,
  type ResultsAsset,
  type ResultsAttempt,
  type ResultsCell,
  type ResultsData,
  type ResultsRow,
  type ResultsVariant,
  type ResultsVersion,
} from '../db/repositories/results';
export { DISPLAY_VARIANT_PREFERENCE, pickDisplayVariant } from './display';
export { assetPath, esc, renderResultsPage, resultsPageCsp, type RenderOptions } from './render';
export { ASSET_CACHE_CONTROL, registerResultsRoutes, type ResultsRouteDeps } from './routes';
export { ResultsWriteError, writeResultsPage, type WriteResultsOptions, type WriteResultsResult } from './static';
