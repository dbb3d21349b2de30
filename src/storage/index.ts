export { ASSET_EXTENSIONS, contentKey, parseContentKey, type AssetExtension, type ParsedKey } from './keys';
export { LocalDirStorage, type LocalDirStorageOptions } from './localDir';
export { IMMUTABLE_CACHE_CONTROL, S3Storage, storageErrorFromS3, type S3StorageOptions } from './s3';
export { StorageError, type AssetStorage, type StorageErrorReason } from './types';
