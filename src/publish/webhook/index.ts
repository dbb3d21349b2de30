/** The outbound-event destination kind (`kind: 'webhook'`): Standard Webhooks-signed JSON events. */
import type { DestinationKind } from '../destination';
import { createWebhookDestination } from './adapter';
import { webhookSettingsSchema, type WebhookSettings } from './settings';

export const webhookKind: DestinationKind<WebhookSettings> = {
  kind: 'webhook',
  settingsSchema: webhookSettingsSchema,
  create: createWebhookDestination,
};

export { createWebhookDestination } from './adapter';
export { assetPublishedEvent, outboundEventId, wireEventId } from './events';
export { EVENT_TYPES, webhookSettingsSchema, type WebhookSettings } from './settings';
