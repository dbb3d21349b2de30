import sharp from 'sharp';

export interface SharpSettings {
  /** libvips threads per image operation; omitted keeps libvips' default (one per core). */
  concurrency?: number;
  /** libvips operation cache in MB; 0 (the default here) disables it. */
  cacheMemoryMb?: number;
}

/**
 * Process-wide libvips settings, applied once at worker start-up.
 *
 * Threads multiply: an image task queue running N activities at once, each using `concurrency`
 * libvips threads, wants N x concurrency close to the core count. The operation cache only pays off
 * when the same input is processed repeatedly; every provider output is new, so by default it is off
 * and memory stays flat across thousands of images.
 */
export function configureSharp(settings: SharpSettings = {}): { concurrency: number; cacheMemoryMb: number } {
  const { concurrency, cacheMemoryMb = 0 } = settings;
  if (concurrency !== undefined) {
    if (!Number.isInteger(concurrency) || concurrency < 0) {
      throw new RangeError(`sharp concurrency must be a non-negative integer, got ${concurrency}`);
    }
    sharp.concurrency(concurrency);
  }
  if (!Number.isInteger(cacheMemoryMb) || cacheMemoryMb < 0) {
    throw new RangeError(`sharp cacheMemoryMb must be a non-negative integer, got ${cacheMemoryMb}`);
  }
  sharp.cache(cacheMemoryMb === 0 ? false : { memory: cacheMemoryMb });
  return { concurrency: sharp.concurrency(), cacheMemoryMb };
}
