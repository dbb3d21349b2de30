// Bulk import of PIM export files: see importFile.ts.
export { importFile, DEFAULT_IMPORT_BATCH_SIZE, type ImportFormat, type ImportOptions, type ImportResult } from './importFile';
export { loadMapping, parseMapping, MappingError, type FieldMapping } from './mapping';
export { ImportError } from './source';
