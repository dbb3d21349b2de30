// The project's only door to sharp: everything image-shaped goes through here.
export { configureSharp, type SharpSettings } from './configure';
export { ImageRejectedError, isImageRejectedError, type ImageRejectionReason } from './errors';
export { DEFAULT_IMAGE_LIMITS, inspectImage, readImageHeader, type ImageInfo, type ImageLimits, type InputFormat } from './inspect';
export {
  buildXmpPacket,
  canEmbedXmp,
  DIGITAL_SOURCE_TYPE_TRAINED,
  embedXmp,
  ProvenanceError,
  type MarkableFormat,
  type ProvenanceFacts,
} from './provenance';
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
