/**
 * The built-in channel profiles, from each channel's published image rules (as of late 2026). Where a
 * channel's rule cannot be measured from pixels (no watermark, no promotional text) it is not listed.
 */
import type { BuiltinChannel, ChannelProfile } from '../../shared/channelProfiles';

const MB = 1024 * 1024;

export const BUILTIN_PROFILES: Readonly<Record<BuiltinChannel, ChannelProfile>> = Object.freeze({
  /**
   * Amazon's main image: pure white background (RGB 255,255,255), the product filling at least 85 % of
   * the frame, at least 1,000 px on the longest side (1,600+ enables zoom), at most 10,000 px, JPEG, sRGB.
   * Processing trims a near-white background and pads on pure white so the product fills 90 %.
   */
  'amazon-main': {
    name: 'amazon-main',
    maxEdge: 2000,
    format: 'jpeg',
    quality: 85,
    processing: { flatten: true, trim: true, padSquare: true, fillTarget: 0.9 },
    rules: { whiteEdges: 255, minFill: 0.85, minLongEdge: 1000, maxLongEdge: 10_000, formats: ['jpeg'], zoomLongEdge: 1600 },
  },
  /**
   * Google Merchant Center (image_link): JPEG, WebP, PNG (GIF, BMP, TIFF also accepted, not produced
   * here); at most 64 MP and 16 MB; no borders; no scaled-up images (never enlarged here). The documented
   * minimum is 100 x 100 px (250 x 250 for apparel); spec summaries report 500 x 500 px enforced from
   * 31 January 2027, so the stricter figure is checked. 1,500 px and more is the recommendation.
   */
  'google-shopping': {
    name: 'google-shopping',
    maxEdge: 2048,
    format: 'jpeg',
    quality: 85,
    processing: { flatten: true, trim: false, padSquare: false, fillTarget: 0.9 },
    rules: { minSide: 500, maxMegapixels: 64, maxBytes: 16 * MB, formats: ['jpeg', 'png', 'webp'], noBorder: true, zoomLongEdge: 1500 },
  },
  /** Shopify product media: at most 20 MP and 4,472 px a side, at most 20 MB; JPEG, PNG or WebP. */
  shopify: {
    name: 'shopify',
    maxEdge: 4472,
    format: 'jpeg',
    quality: 85,
    processing: { flatten: true, trim: false, padSquare: false, fillTarget: 0.9 },
    rules: { maxLongEdge: 4472, maxMegapixels: 20, maxBytes: 20 * MB, formats: ['jpeg', 'png', 'webp'] },
  },
  /** A square listing image on white, as most marketplaces' grids want: 1:1, at least 1,000 px. */
  'marketplace-square': {
    name: 'marketplace-square',
    maxEdge: 2000,
    format: 'jpeg',
    quality: 85,
    processing: { flatten: true, trim: true, padSquare: true, fillTarget: 0.9 },
    rules: { square: true, minLongEdge: 1000, formats: ['jpeg'] },
  },
});
