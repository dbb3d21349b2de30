export { ASSET_EXTENSIONS, contentKey, parseContentKey, type AssetExtension, type ParsedKey } from './keys';
export { LocalDirStorage, type LocalDirStorageOptions } from './localDir';
export { StorageError, type AssetStorage, type StorageErrorReason } from './types';
