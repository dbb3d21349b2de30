/**
 * A provider output is untrusted input: it is validated as an image before it is stored, and stored
 * content-addressed before its job counts as delivered. Shared by the paid step (which keeps outputs the
 * moment a job is terminal) and by the tests of hostile outputs.
 */
import { inspectImage } from '../../imaging';
import type { StoredOutput } from '../../shared/steps';
import { contentKey, type AssetExtension } from '../../storage/keys';
import type { ActivityDeps } from './deps';

const ORIGINAL_EXT: Record<string, AssetExtension> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif' };
const ORIGINAL_TYPE: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif' };

/** Why an output was refused: `corrupt` may be a transfer fault (download again), `validation` is final. */
export class OriginalRejected extends Error {
  constructor(
    readonly reason: 'corrupt' | 'validation',
    message: string,
  ) {
    super(message);
    this.name = 'OriginalRejected';
  }
}

/** Validates one output's bytes and stores them; storage errors are passed on as they are. */
export async function storeOriginal(deps: Pick<ActivityDeps, 'storage' | 'outputLimits'>, index: number, bytes: Buffer): Promise<StoredOutput> {
  let info;
  try {
    info = await inspectImage(bytes, deps.outputLimits);
  } catch (err) {
    throw new OriginalRejected('corrupt', `output ${index} is not a valid image: ${(err as Error).message}`);
  }
  const ext = ORIGINAL_EXT[info.format];
  if (!ext) throw new OriginalRejected('validation', `output ${index} is ${info.format}, not an image format the provider delivers`);
  const storageKey = contentKey(info.sha256, ext, 'originals');
  await deps.storage.put(storageKey, bytes, ORIGINAL_TYPE[info.format]!);
  return { index, storageKey, checksum: info.sha256, width: info.width, height: info.height, format: info.format };
}
