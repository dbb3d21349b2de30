/**
 * Channel profiles as the plan names them: the built-in names, the shape of a custom profile in a plan
 * (`channelProfiles`), and the resolved profile that travels to the imaging step. Workflow-safe: the
 * types are plain; the zod schema is only used by the plan's own schema (src/shared/plan.ts).
 * The built-in definitions live in src/imaging/channels/profiles.ts.
 */
import { z } from 'zod';

export const BUILTIN_CHANNELS = ['amazon-main', 'google-shopping', 'shopify', 'marketplace-square'] as const;
export type BuiltinChannel = (typeof BUILTIN_CHANNELS)[number];

export const CHANNEL_FORMATS = ['jpeg', 'png', 'webp'] as const;
export type ChannelFormat = (typeof CHANNEL_FORMATS)[number];

/** What a profile requires of the delivered file. Every rule is optional; a profile checks only what it names. */
export interface ChannelRules {
  /** Every edge pixel has every channel at least this value (255 = pure white). */
  whiteEdges?: number;
  /** The product's bounding box covers at least this share of the frame along its longer axis (0-1). */
  minFill?: number;
  /** Longest side at least this many px. */
  minLongEdge?: number;
  /** Both sides at least this many px. */
  minSide?: number;
  /** Longest side at most this many px. */
  maxLongEdge?: number;
  /** At most this many megapixels (width x height / 1e6). */
  maxMegapixels?: number;
  /** At most this many bytes in the encoded file. */
  maxBytes?: number;
  /** Width equals height. */
  square?: boolean;
  /** Formats the channel accepts. */
  formats?: ChannelFormat[];
  /** No uniform coloured frame around the picture. */
  noBorder?: boolean;
  /** Longest side under which the channel offers no zoom: reported as a note, never a failure. */
  zoomLongEdge?: number;
}

/** What processing may do so the rules are met (never enlarge past the source). */
export interface ChannelProcessing {
  /** Flatten transparency on white. */
  flatten: boolean;
  /** Trim near-white margins around the product (only where the background is white). */
  trim: boolean;
  /** Pad to a square on white. */
  padSquare: boolean;
  /** Where padding: the share of the frame the product's longer side should fill (0.5-1). */
  fillTarget: number;
}

/** A channel profile: a variant (size, format, quality) plus rules plus what processing may do. */
export interface ChannelProfile {
  /** Also the stored variant's name (a destination asks for variant `shopify`). */
  name: string;
  maxEdge: number;
  format: ChannelFormat;
  quality: number;
  processing: ChannelProcessing;
  rules: ChannelRules;
}

const profileName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'a profile name must be a lowercase slug, e.g. "my-marketplace"');

const rulesSchema = z
  .object({
    whiteEdges: z.number().int().min(0).max(255).optional(),
    minFill: z.number().min(0).max(1).optional(),
    minLongEdge: z.number().int().min(1).max(16_384).optional(),
    minSide: z.number().int().min(1).max(16_384).optional(),
    maxLongEdge: z.number().int().min(8).max(16_384).optional(),
    maxMegapixels: z.number().positive().max(268).optional(),
    maxBytes: z.number().int().min(1_024).optional(),
    square: z.boolean().optional(),
    formats: z.array(z.enum(CHANNEL_FORMATS)).min(1).optional(),
    noBorder: z.boolean().optional(),
    zoomLongEdge: z.number().int().min(1).max(16_384).optional(),
  })
  .strict();

/** A custom profile as written in a plan's `channelProfiles`. */
export const customChannelProfileSchema = z
  .object({
    maxEdge: z.number().int().min(8).max(8192),
    format: z.enum(CHANNEL_FORMATS),
    quality: z.number().int().min(1).max(100).default(85),
    processing: z
      .object({
        flatten: z.boolean().default(true),
        trim: z.boolean().default(false),
        padSquare: z.boolean().default(false),
        fillTarget: z.number().min(0.5).max(1).default(0.9),
      })
      .strict()
      .default({ flatten: true, trim: false, padSquare: false, fillTarget: 0.9 }),
    rules: rulesSchema.default({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.rules.formats && !p.rules.formats.includes(p.format)) {
      ctx.addIssue({ code: 'custom', path: ['format'], message: `format ${p.format} is not among the profile's own rules.formats (${p.rules.formats.join(', ')})` });
    }
    if (p.rules.minLongEdge !== undefined && p.rules.minLongEdge > p.maxEdge) {
      ctx.addIssue({ code: 'custom', path: ['rules', 'minLongEdge'], message: `is ${p.rules.minLongEdge} px, more than the profile's maxEdge ${p.maxEdge}: no image could pass` });
    }
    if (p.format !== 'png' && !p.processing.flatten) {
      ctx.addIssue({ code: 'custom', path: ['processing', 'flatten'], message: `${p.format} output needs transparency flattened (only png keeps it)` });
    }
  });
export type CustomChannelProfileInput = z.input<typeof customChannelProfileSchema>;

export const channelProfilesSchema = z
  .record(profileName, customChannelProfileSchema)
  .superRefine((profiles, ctx) => {
    for (const name of Object.keys(profiles)) {
      if ((BUILTIN_CHANNELS as readonly string[]).includes(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is a built-in profile; give a custom profile its own name` });
      }
    }
  });

export const slotChannelsSchema = z
  .array(profileName)
  .max(16)
  .superRefine((names, ctx) => {
    const seen = new Set<string>();
    names.forEach((n, i) => {
      if (seen.has(n)) ctx.addIssue({ code: 'custom', path: [i], message: `channel "${n}" is listed twice` });
      seen.add(n);
    });
  });

export function isBuiltinChannel(name: string): name is BuiltinChannel {
  return (BUILTIN_CHANNELS as readonly string[]).includes(name);
}

/** The measured figures of one channel file (after processing, as delivered). */
export interface ChannelFigures {
  /** Lowest channel value over every edge pixel (255 = pure white all round). */
  edgeMin: number;
  /** Mean channel value over the edge pixels, 0-255, one decimal. */
  edgeMean: number;
  /** The product's bounding box along the frame's axis it covers most, 0-1 (3 decimals). */
  fill: number;
  width: number;
  height: number;
  /** width x height / 1e6, 2 decimals. */
  megapixels: number;
  format: ChannelFormat;
  colourSpace: 'srgb';
  bytes: number;
  /** A uniform coloured frame was found around the picture. */
  border: boolean;
}

export interface ChannelRuleFailure {
  rule: keyof ChannelRules;
  /** What was measured against what the rule asks, e.g. "longest side 889 px, needs at least 1000 px". */
  reason: string;
}

/** One asset output checked against one channel profile. */
export interface ChannelCheckSummary {
  profile: string;
  pass: boolean;
  failures: ChannelRuleFailure[];
  /** Advice that does not fail the check (e.g. no zoom under 1600 px). */
  notes: string[];
  /** What processing did (flattened, trimmed, padded, downscaled). */
  processing: string[];
  figures: ChannelFigures;
}
