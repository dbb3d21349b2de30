/**
 * Reference images, fetched and checked when the job runs, as upstream does: a URL it cannot fetch
 * fails the job with reference_unreachable; bytes that are too big, not an image, or outside the pixel
 * and aspect limits fail it with reference_invalid. Messages name the field and host, never the full
 * URL (presigned URLs carry credentials).
 */
import sharp, { type Metadata } from 'sharp';
import { LIMITS } from '../contract';
import { JobFailure } from './httpErrors';

export interface LoadedReference {
  field: string;
  bytes: Buffer;
  width: number;
  height: number;
}

const DECODABLE = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

export async function loadReference(ref: string, field: string, timeoutMs: number): Promise<LoadedReference> {
  const bytes = ref.startsWith('data:') ? decodeDataUri(ref, field) : await fetchReference(ref, field, timeoutMs);
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch {
    throw new JobFailure('reference_invalid', `${field}: not a decodable image`);
  }
  const { width, height, format } = meta;
  if (!width || !height || !DECODABLE.has(format)) {
    throw new JobFailure('reference_invalid', `${field}: not a decodable image (format ${format ?? 'unknown'})`);
  }
  if (width * height > LIMITS.maxReferencePixels) {
    throw new JobFailure('reference_invalid', `${field}: ${width}x${height} exceeds ${LIMITS.maxReferencePixels} pixels`);
  }
  const aspect = width / height;
  if (aspect < LIMITS.minAspect || aspect > LIMITS.maxAspect) {
    throw new JobFailure('reference_invalid', `${field}: aspect ratio ${width}:${height} is outside 1:16..16:1`);
  }
  return { field, bytes, width, height };
}

function decodeDataUri(ref: string, field: string): Buffer {
  const comma = ref.indexOf(',');
  const bytes = Buffer.from(ref.slice(comma + 1), 'base64');
  if (bytes.length > LIMITS.maxReferenceBytes) {
    throw new JobFailure('reference_invalid', `${field}: ${bytes.length} bytes exceeds ${LIMITS.maxReferenceBytes}`);
  }
  return bytes;
}

async function fetchReference(ref: string, field: string, timeoutMs: number): Promise<Buffer> {
  const url = new URL(ref);
  const where = `${field} (host ${url.host})`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (err) {
    throw new JobFailure('reference_unreachable', `${where} could not be fetched: ${fetchReason(err)}`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => undefined);
    throw new JobFailure('reference_unreachable', `${where} could not be fetched: HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > LIMITS.maxReferenceBytes) {
    await response.body.cancel().catch(() => undefined);
    throw new JobFailure('reference_invalid', `${where}: ${declared} bytes exceeds ${LIMITS.maxReferenceBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > LIMITS.maxReferenceBytes) {
        await reader.cancel().catch(() => undefined);
        throw new JobFailure('reference_invalid', `${where}: more than ${LIMITS.maxReferenceBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof JobFailure) throw err;
    throw new JobFailure('reference_unreachable', `${where}: the download broke off: ${fetchReason(err)}`);
  }
  return Buffer.concat(chunks);
}

function fetchReason(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? err.message;
  }
  return String(err);
}
