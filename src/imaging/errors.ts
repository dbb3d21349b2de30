/**
 * Why an input image was refused. Activities map every reason to a non-retryable failure except,
 * arguably, `truncated` (a cut-off download may succeed when fetched again).
 */
export type ImageRejectionReason =
  | 'not_an_image'
  | 'unsupported_format'
  | 'too_many_bytes'
  | 'too_many_pixels'
  | 'animated'
  | 'truncated'
  | 'corrupt';

export class ImageRejectedError extends Error {
  override readonly name = 'ImageRejectedError';
  constructor(
    readonly reason: ImageRejectionReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isImageRejectedError(err: unknown): err is ImageRejectedError {
  return err instanceof ImageRejectedError;
}
