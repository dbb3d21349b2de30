// The project's only door to sharp: everything image-shaped goes through here.
export { configureSharp, type SharpSettings } from './configure';
export { ImageRejectedError, isImageRejectedError, type ImageRejectionReason } from './errors';
export { DEFAULT_IMAGE_LIMITS, inspectImage, type ImageInfo, type ImageLimits, type InputFormat } from './inspect';
export { renderVariants, type Placeholder, type RenderedVariant, type RenderOptions, type RenderResult } from './render';
export {
  CHEAP_TEST_VARIANTS,
  DEFAULT_SIZES,
  DEFAULT_VARIANTS,
  FORMAT_DEFAULTS,
  FORMAT_MEDIA,
  VARIANT_FORMATS,
  variantSetSchema,
  variantSpecSchema,
  type VariantFormat,
  type VariantSpec,
} from './variantSpec';
