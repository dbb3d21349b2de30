import { createHash } from 'node:crypto';
import sharp, { type Metadata, type SharpOptions } from 'sharp';
import { ImageRejectedError } from './errors';

export interface ImageLimits {
  /** Largest encoded input accepted, in bytes. */
  maxBytes: number;
  /** Largest width x height accepted (decompression-bomb guard; passed to sharp's limitInputPixels too). */
  maxPixels: number;
}

/**
 * 36 MP is the model's own reference ceiling and well above its largest output (16.7 MP); 32 MiB is
 * generous for a 36 MP JPEG or PNG while still refusing anything absurd before it is decoded.
 */
export const DEFAULT_IMAGE_LIMITS: ImageLimits = Object.freeze({ maxBytes: 32 * 1024 * 1024, maxPixels: 36_000_000 });

/** Formats accepted as input. AVIF is reported as 'avif' (sharp calls the container 'heif'). */
export type InputFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'tiff';

export interface ImageInfo {
  format: InputFormat;
  /** Displayed size: EXIF orientation already taken into account. */
  width: number;
  height: number;
  hasAlpha: boolean;
  /** libvips colour space of the stored pixels, e.g. 'srgb', 'cmyk', 'b-w', 'rgb16'. */
  space: string;
  /** EXIF orientation tag as stored (1 when absent). */
  orientation: number;
  sha256: string;
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Decoder settings for untrusted input. failOn 'error' aborts on truncated or undecodable pixel data
 * but tolerates benign warnings (e.g. extraneous bytes after a JPEG) that real-world encoders produce.
 */
export function untrustedInputOptions(limits: ImageLimits): SharpOptions {
  return { failOn: 'error', limitInputPixels: limits.maxPixels };
}

export interface ImageHeader {
  meta: Metadata;
  info: ImageInfo;
}

/**
 * Everything that can be decided from the header alone, before any pixel is decoded: size limits,
 * format allow-list and frame count. Cheap; does not catch truncated pixel data.
 */
export async function readImageHeader(bytes: Buffer, limits: ImageLimits): Promise<ImageHeader> {
  if (bytes.length === 0) throw new ImageRejectedError('not_an_image', 'image is empty (0 bytes)');
  if (bytes.length > limits.maxBytes) {
    throw new ImageRejectedError('too_many_bytes', `image is ${bytes.length} bytes, over the limit of ${limits.maxBytes}`);
  }
  // Only known raster containers reach a decoder at all: SVG, PDF and friends never meet their parsers.
  const sniffed = sniffContainer(bytes);
  if (sniffed === 'markup') {
    throw new ImageRejectedError('unsupported_format', 'SVG, XML, HTML and PDF input is not accepted; send a raster image');
  }
  if (sniffed === undefined) throw new ImageRejectedError('not_an_image', 'data is not a recognised image');
  let meta: Metadata;
  try {
    // Header only: no pixels are decoded here, so the pixel limit is checked below with a clearer message.
    meta = await sharp(bytes, { ...untrustedInputOptions(limits), limitInputPixels: false }).metadata();
  } catch (err) {
    throw toImageRejection(err, bytes);
  }
  const format = acceptedFormat(meta);
  const pixels = meta.width * meta.height;
  if (pixels > limits.maxPixels) {
    throw new ImageRejectedError(
      'too_many_pixels',
      `image declares ${meta.width}x${meta.height} (${pixels} pixels), over the limit of ${limits.maxPixels}`,
    );
  }
  // Decision: animated and multi-page input is refused rather than reduced to its first frame. A product
  // image is a single still; frame 0 of an animation is often a blank or intro frame, and storing it
  // silently would publish the wrong picture.
  if ((meta.pages ?? 1) > 1) {
    throw new ImageRejectedError('animated', `image has ${meta.pages} frames/pages; only single still images are accepted`);
  }
  const swap = (meta.orientation ?? 1) >= 5;
  return {
    meta,
    info: {
      format,
      width: swap ? meta.height : meta.width,
      height: swap ? meta.width : meta.height,
      hasAlpha: meta.hasAlpha,
      space: meta.space,
      orientation: meta.orientation ?? 1,
      sha256: sha256Hex(bytes),
    },
  };
}

/**
 * Validates untrusted image bytes completely: header checks, then a full decode (at a small scale, so
 * memory stays low; the decoder still reads every byte, so truncation and corrupt data are caught).
 * Throws ImageRejectedError, never anything that takes the process down.
 */
export async function inspectImage(bytes: Buffer, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<ImageInfo> {
  const { info } = await readImageHeader(bytes, limits);
  try {
    await sharp(bytes, untrustedInputOptions(limits)).resize(64, 64, { fit: 'inside' }).raw().toBuffer();
  } catch (err) {
    throw toImageRejection(err, bytes);
  }
  return info;
}

function acceptedFormat(meta: Metadata): InputFormat {
  switch (meta.format) {
    case 'jpeg':
    case 'png':
    case 'webp':
    case 'gif':
    case 'tiff':
      return meta.format;
    case 'heif':
      // Only AV1-coded HEIF (AVIF): HEVC (HEIC) decoding is not in sharp's prebuilt libvips.
      if (meta.compression === 'av1') return 'avif';
      throw new ImageRejectedError('unsupported_format', `HEIF/${meta.compression ?? 'unknown'} images are not supported; use AVIF, JPEG, PNG or WebP`);
    default:
      // SVG, PDF and the like are refused: vector and document renderers are a larger attack surface and
      // no provider or PIM should send them as a product photo.
      throw new ImageRejectedError('unsupported_format', `${meta.format} images are not supported; use JPEG, PNG, WebP or AVIF`);
  }
}

/** Maps a sharp/libvips failure on untrusted input to a rejection with a stable reason code. */
export function toImageRejection(err: unknown, bytes: Buffer): ImageRejectedError {
  if (err instanceof ImageRejectedError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0] ?? message;
  if (/exceeds pixel limit/i.test(message)) {
    return new ImageRejectedError('too_many_pixels', `image exceeds the pixel limit (${firstLine})`, { cause: err });
  }
  if (/unsupported image format|buffer is empty/i.test(message)) {
    return new ImageRejectedError('not_an_image', 'data is not a recognised image', { cause: err });
  }
  if (/premature end|truncat|unexpected end/i.test(message) || looksTruncated(bytes)) {
    return new ImageRejectedError('truncated', `image data is truncated (${firstLine})`, { cause: err });
  }
  return new ImageRejectedError('corrupt', `image data cannot be decoded (${firstLine})`, { cause: err });
}

/** Magic-number sniffing, so that only raster decoders ever see untrusted bytes. */
function sniffContainer(b: Buffer): 'raster' | 'markup' | undefined {
  const ascii = (start: number, end: number) => b.toString('latin1', start, end);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'raster'; // JPEG
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47) return 'raster'; // PNG
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'raster';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'raster';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'raster'; // TIFF
  if (ascii(4, 8) === 'ftyp') return 'raster'; // HEIF/AVIF (ISO BMFF)
  const head = ascii(0, 256).replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  if (head.startsWith('<') || head.startsWith('%PDF')) return 'markup';
  return undefined;
}

/**
 * Structural truncation hints for formats whose decoders report truncation generically
 * (libpng: "read error"; libwebp: "corrupt header"). Used only to classify a failure, never to reject.
 */
function looksTruncated(bytes: Buffer): boolean {
  const isPng = bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a;
  if (isPng) return !bytes.includes('IEND', 8, 'latin1');
  const isWebp = bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP';
  if (isWebp) return bytes.readUInt32LE(4) + 8 > bytes.length;
  return false;
}
