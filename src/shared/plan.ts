/**
 * The asset plan: an ordered set of slots, as data. A catalog may override the default plan with a
 * JSON or YAML file; slots may be switched off. Workflow-safe (no Node imports).
 */
import { z } from 'zod';
import { channelProfilesSchema, isBuiltinChannel, slotChannelsSchema } from './channelProfiles';

const slotName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'a lowercase slot name such as hero');
const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'an attribute name such as labelText');

/** Where a source or reference image comes from. */
export const imageSourceSchema = z.union([
  z.object({ attribute: attributeName }).strict(), // a URL in the product's attributes (a PIM packshot)
  z.object({ slot: slotName }).strict(), // another slot's output in this plan
  z.object({ catalogSetting: z.enum(['sceneReferences', 'styleReferences']) }).strict(), // URLs configured per catalog
  z.object({ url: z.string().url() }).strict(), // a fixed URL
]);
export type ImageSource = z.infer<typeof imageSourceSchema>;

/**
 * Reading the label back: the output's text (OCR) is compared with the attribute's value. A mismatch
 * regenerates the slot within the paid attempt cap, then sends it to review. Not part of any
 * fingerprint: switching the check on or off re-buys nothing.
 */
export const labelCheckSchema = z
  .object({
    /** The attribute holding the text the label must read. */
    attribute: attributeName.default('labelText'),
    /** 0 to 1: how alike the reading must be (normalised for case, whitespace and punctuation). */
    threshold: z.number().min(0).max(1).default(0.85),
    /** The attribute naming the label's locale (`en_GB`, `de`); absent means English. */
    localeAttribute: attributeName.default('locale'),
    /** Only these locales are read; others are recorded unchecked. Default: every locale with a reader. */
    locales: z.array(z.string().regex(/^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$/, 'a locale such as en_GB')).min(1).max(50).optional(),
    /** Mismatches before the slot goes to review (at most MAX_PAID_ATTEMPTS, which also bounds it). */
    maxMismatches: z.number().int().min(1).max(10).optional(),
  })
  .strict();
export type LabelCheck = z.infer<typeof labelCheckSchema>;

const outputOptions = {
  enabled: z.boolean().default(true),
  promptTemplate: z.string().min(1).max(4_000),
  imageSize: z
    .union([
      z.enum(['square_hd', 'square', 'portrait_4_3', 'landscape_4_3', 'portrait_16_9', 'landscape_16_9']),
      z.object({ width: z.number().int(), height: z.number().int() }).strict(),
    ])
    .default('square_hd'),
  quality: z.enum(['standard', 'high']).default('high'),
  outputFormat: z.enum(['jpeg', 'png']).default('jpeg'),
  numImages: z.number().int().min(1).max(4).default(1),
  /**
   * Alt text of the published image, in the prompt template language, rendered over the product's
   * attributes in its locale. Not part of any fingerprint: changing it re-buys nothing (the next
   * publication carries the new text). Default: altTemplateOf below.
   */
  altTemplate: z.string().min(1).max(1_000).optional(),
  labelCheck: labelCheckSchema.optional(),
  /** Channel profiles each output is made and checked for (built-in or the plan's channelProfiles); not in the fingerprint. */
  channels: slotChannelsSchema.optional(),
};

export const slotSchema = z.discriminatedUnion('kind', [
  z.object({ name: slotName, kind: z.literal('generate'), ...outputOptions }).strict(),
  z.object({ name: slotName, kind: z.literal('edit'), source: imageSourceSchema, ...outputOptions }).strict(),
  z
    .object({ name: slotName, kind: z.literal('compose'), references: z.array(imageSourceSchema).min(1).max(14), ...outputOptions })
    .strict(),
]);
export type Slot = z.infer<typeof slotSchema>;
export type SlotInput = z.input<typeof slotSchema>;

export function slotDependencies(slot: Slot): string[] {
  const sources = slot.kind === 'edit' ? [slot.source] : slot.kind === 'compose' ? slot.references : [];
  return sources.flatMap((s) => ('slot' in s ? [s.slot] : []));
}

export const planSchema = z
  .object({
    /** Bumped when templates or options change meaning: part of every fingerprint. */
    version: z.number().int().min(1),
    slots: z.array(slotSchema).min(1).max(16),
    /** Custom channel profiles by name, usable in any slot's `channels`. */
    channelProfiles: channelProfilesSchema.optional(),
  })
  .strict()
  .superRefine((plan, ctx) => {
    const seen = new Map<string, number>();
    plan.slots.forEach((slot, i) => {
      if (seen.has(slot.name)) ctx.addIssue({ code: 'custom', path: ['slots', i, 'name'], message: `duplicate slot name "${slot.name}"` });
      for (const dep of slotDependencies(slot)) {
        const at = seen.get(dep);
        if (at === undefined) {
          ctx.addIssue({ code: 'custom', path: ['slots', i], message: `slot "${slot.name}" references slot "${dep}", which is not defined before it` });
        } else if (!plan.slots[at]?.enabled && slot.enabled) {
          ctx.addIssue({ code: 'custom', path: ['slots', i], message: `slot "${slot.name}" references slot "${dep}", which is switched off` });
        }
      }
      seen.set(slot.name, i);
      (slot.channels ?? []).forEach((name, j) => {
        if (!isBuiltinChannel(name) && !plan.channelProfiles?.[name]) {
          ctx.addIssue({ code: 'custom', path: ['slots', i, 'channels', j], message: `unknown channel profile "${name}": use a built-in one or define it in channelProfiles` });
        }
      });
      const problem = templateProblem(slot.promptTemplate);
      if (problem) ctx.addIssue({ code: 'custom', path: ['slots', i, 'promptTemplate'], message: problem });
      const altProblem = slot.altTemplate === undefined ? undefined : templateProblem(slot.altTemplate);
      if (altProblem) ctx.addIssue({ code: 'custom', path: ['slots', i, 'altTemplate'], message: altProblem });
    });
  });
export type Plan = z.infer<typeof planSchema>;
export type PlanInput = z.input<typeof planSchema>;


/**
 * Prompt templates, a small Mustache subset:
 *   `{{attr}}`              the attribute's value; required (missing or empty is invalid product data);
 *   `{{attr|fallback}}`     the value, or the fallback text when the attribute is missing;
 *   `{{#attr}}...{{/attr}}` the inner text only when the attribute is present.
 * Whitespace is collapsed after rendering.
 */
const TOKEN = /\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*(\|([^}]*))?\}\}/g;
const SECTION = /\{\{#\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}([\s\S]*?)\{\{\/\s*\1\s*\}\}/g;

function templateProblem(template: string): string | undefined {
  const stripped = template.replace(SECTION, (_a, _n, inner: string) => inner).replace(TOKEN, '');
  if (stripped.includes('{{') || stripped.includes('}}')) return 'has an unbalanced or malformed {{placeholder}}';
  return undefined;
}

export function templateAttributes(template: string): { required: string[]; optional: string[] } {
  const required = new Set<string>();
  const optional = new Set<string>();
  const outside = template.replace(SECTION, (_all, name: string, inner: string) => {
    optional.add(name);
    for (const m of inner.matchAll(TOKEN)) optional.add(m[1]!);
    return '';
  });
  for (const m of outside.matchAll(TOKEN)) {
    if (m[2] === undefined) required.add(m[1]!);
    else optional.add(m[1]!);
  }
  return { required: [...required], optional: [...optional].filter((a) => !required.has(a)) };
}

export class TemplateError extends Error {
  constructor(
    readonly missing: string[],
    message: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

export function attributeText(attributes: Record<string, unknown>, name: string): string | undefined {
  const v = attributes[name];
  if (v === undefined || v === null) return undefined;
  const s = (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '').trim();
  return s === '' ? undefined : s;
}

export function renderTemplate(template: string, attributes: Record<string, unknown>): string {
  const missing: string[] = [];
  const withSections = template.replace(SECTION, (_all, name: string, inner: string) =>
    attributeText(attributes, name) === undefined ? '' : inner,
  );
  const out = withSections.replace(TOKEN, (_all, name: string, hasFallback: string | undefined, fallback: string | undefined) => {
    const value = attributeText(attributes, name);
    if (value !== undefined) return value;
    if (hasFallback === undefined) missing.push(name);
    return fallback ?? '';
  });
  if (missing.length > 0) {
    const unique = [...new Set(missing)];
    throw new TemplateError(
      unique,
      `missing product attribute${unique.length > 1 ? 's' : ''} ${unique.map((m) => `"${m}"`).join(', ')} required by the prompt template`,
    );
  }
  return out.replace(/\s+/g, ' ').replace(/\s+([,.;:])/g, '$1').trim();
}

/** The default plan: hero, label, lifestyle. Parsed here, after the template helpers it uses. */
export const DEFAULT_PLAN: Plan = planSchema.parse({
  version: 1,
  slots: [
    {
      name: 'hero',
      kind: 'generate',
      promptTemplate:
        'Studio product photograph of {{brand}} {{name}}, a {{colour|}} {{category}}{{#material}} in {{material}}{{/material}}. ' +
        'Centered on a seamless white background, soft diffused light, gentle contact shadow, sharp focus, ' +
        'e-commerce hero shot, no text other than the product\'s own packaging.',
      imageSize: 'square_hd',
      channels: ['amazon-main', 'google-shopping', 'shopify', 'marketplace-square'],
    },
    {
      name: 'label',
      kind: 'edit',
      source: { attribute: 'packshotUrl' },
      promptTemplate:
        'Change only the text printed on the packaging label so that it reads exactly: "{{labelText}}"{{#locale}} (language: {{locale}}){{/locale}}. ' +
        'Keep everything else identical: the product\'s shape, material, colours, lighting, reflections, camera angle and background.',
      imageSize: 'square_hd',
      labelCheck: { attribute: 'labelText', threshold: 0.85 },
      channels: ['google-shopping', 'shopify'],
    },
    {
      name: 'lifestyle',
      kind: 'compose',
      references: [{ slot: 'hero' }, { catalogSetting: 'sceneReferences' }],
      promptTemplate:
        'Lifestyle photograph of {{brand}} {{name}} in {{scene|a bright, modern home setting}}, placed naturally as the clear subject, ' +
        'natural daylight, styled like the reference scene; the product must look exactly like the first reference image.',
      imageSize: 'landscape_4_3',
      channels: ['google-shopping', 'shopify'],
    },
  ],
});

/** Alt text templates of the default slots; any other slot without its own gets the generic one. */
export const DEFAULT_ALT_TEMPLATES: Record<string, string> = {
  hero: '{{brand|}} {{name}}{{#colour}}, {{colour}}{{/colour}}',
  label: '{{brand|}} {{name}}, packaging label',
  lifestyle: '{{brand|}} {{name}} in {{scene|a home setting}}',
};
export const GENERIC_ALT_TEMPLATE = '{{brand|}} {{name}}';

export function altTemplateOf(slot: Pick<Slot, 'name' | 'altTemplate'>): string {
  return slot.altTemplate ?? DEFAULT_ALT_TEMPLATES[slot.name] ?? GENERIC_ALT_TEMPLATE;
}
