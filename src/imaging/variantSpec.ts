import { z } from 'zod';

export const VARIANT_FORMATS = ['avif', 'webp', 'jpeg'] as const;
export type VariantFormat = (typeof VARIANT_FORMATS)[number];

/** File extension and media type per output format (storage keys and Content-Type). */
export const FORMAT_MEDIA: Record<VariantFormat, { ext: 'avif' | 'webp' | 'jpg'; contentType: string }> = {
  avif: { ext: 'avif', contentType: 'image/avif' },
  webp: { ext: 'webp', contentType: 'image/webp' },
  jpeg: { ext: 'jpg', contentType: 'image/jpeg' },
};

/** Encoder effort ranges differ by format; JPEG (mozjpeg) has no effort knob. */
const EFFORT_MAX: Record<VariantFormat, number | undefined> = { avif: 9, webp: 6, jpeg: undefined };

export const variantSpecSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'variant name must be a lowercase slug, e.g. "product-webp"'),
    /** Longest side in pixels; the source is never enlarged past its own size. */
    maxEdge: z.number().int().min(8).max(8192),
    format: z.enum(VARIANT_FORMATS),
    quality: z.number().int().min(1).max(100).optional(),
    effort: z.number().int().min(0).max(9).optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.effort === undefined) return;
    const max = EFFORT_MAX[spec.format];
    if (max === undefined) {
      ctx.addIssue({ code: 'custom', path: ['effort'], message: `effort does not apply to ${spec.format}` });
    } else if (spec.effort > max) {
      ctx.addIssue({ code: 'custom', path: ['effort'], message: `${spec.format} effort must be 0-${max}` });
    }
  });
export type VariantSpec = z.infer<typeof variantSpecSchema>;

export const variantSetSchema = z
  .array(variantSpecSchema)
  .min(1)
  .superRefine((set, ctx) => {
    const seen = new Set<string>();
    set.forEach((spec, i) => {
      if (seen.has(spec.name)) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate variant name "${spec.name}"` });
      }
      seen.add(spec.name);
    });
  });

/**
 * Encoder settings, chosen from `npm run bench -- --only imaging` (bench/README.md, "AVIF"). Why these:
 * - JPEG q80 with mozjpeg (trellis quantisation, progressive, optimised scans): the universal fallback,
 *   visually clean on packaging text at roughly 10-15% fewer bytes than libjpeg at the same quality.
 * - WebP q80, effort 4: libwebp's own default trade-off; effort 5-6 saves a few percent for much more CPU.
 * - AVIF q45, effort 2, at every size: AVIF encoding dominates a variant set's CPU. Against effort 4 /
 *   q50 it costs 5x less AVIF CPU (3.1x less for the whole step, measured), gives 23-26% smaller zoom
 *   and product files, and SSIM within 0.001 (0.002 at the 200-px thumb). Effort 4 is ~13% smaller at
 *   equal quality for 4.4x the CPU; effort 6 buys nothing over 4. Chroma stays 4:4:4 (sharp's default)
 *   so small coloured label text stays crisp.
 */
export const FORMAT_DEFAULTS: Record<VariantFormat, { quality: number; effort?: number }> = {
  avif: { quality: 45, effort: 2 },
  webp: { quality: 80, effort: 4 },
  jpeg: { quality: 80 },
};

/** Storefront sizes: zoom, product page, listing/grid, thumbnail (longest side, px). */
export const DEFAULT_SIZES = { zoom: 2048, product: 1200, listing: 600, thumb: 200 } as const;

/** 4 sizes x (AVIF, WebP, JPEG fallback) = 12 variants, with explicit encoder settings so they can be fingerprinted. */
export const DEFAULT_VARIANTS: readonly VariantSpec[] = Object.freeze(
  Object.entries(DEFAULT_SIZES).flatMap(([size, maxEdge]) =>
    VARIANT_FORMATS.map((format): VariantSpec => ({ name: `${size}-${format}`, maxEdge, format, ...FORMAT_DEFAULTS[format] })),
  ),
);

/** Two tiny JPEGs: exercises the whole pipeline in milliseconds. For tests and dry runs only. */
export const CHEAP_TEST_VARIANTS: readonly VariantSpec[] = Object.freeze([
  { name: 'small-jpeg', maxEdge: 64, format: 'jpeg', quality: 80 },
  { name: 'tiny-jpeg', maxEdge: 32, format: 'jpeg', quality: 80 },
]);
