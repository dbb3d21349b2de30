/**
 * Settings of an outbound-event destination (`kind: 'webhook'`) in a catalog's `destinations` array.
 * The secret itself never sits in settings: `secretEnv` names the environment variable that holds it.
 */
import { z } from 'zod';
import type { OutboundEvent } from '../destination';

export const EVENT_TYPES = ['asset.published', 'asset.failed', 'refresh.completed'] as const satisfies ReadonlyArray<OutboundEvent['type']>;

/** The receiver gets this long to answer (headers and body); Standard Webhooks recommends 15-30 s. */
export const DEFAULT_TIMEOUT_MS = 15_000;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** http is allowed only for this machine (a local receiver, the stand-in); anything else travels over TLS. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost') || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

const receiverUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute URL (https://...)' });
    return;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    ctx.addIssue({ code: 'custom', message: `must use https (http only for localhost), not ${url.protocol}//${url.hostname}` });
  }
  // Credentials in a URL end up in logs and in the delivery log; the signature is the authentication.
  if (url.username !== '' || url.password !== '') ctx.addIssue({ code: 'custom', message: 'must not carry a user name or password' });
  if (url.hash !== '') ctx.addIssue({ code: 'custom', message: 'must not have a #fragment (it is never sent)' });
});

export const webhookSettingsSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . - (at most 64), starting with a letter or digit'),
    kind: z.literal('webhook'),
    url: receiverUrl,
    secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'the name of an environment variable (A-Z, 0-9, _), e.g. EVENTS_WEBHOOK_SECRET'),
    events: z
      .array(z.enum(EVENT_TYPES))
      .min(1, 'name at least one event type (or leave events out for all)')
      .refine((list) => new Set(list).size === list.length, 'lists an event type twice')
      .default([...EVENT_TYPES]),
    timeoutMs: z.number().int().min(100).max(60_000).default(DEFAULT_TIMEOUT_MS),
  })
  .strict();

export type WebhookSettings = z.output<typeof webhookSettingsSchema>;
