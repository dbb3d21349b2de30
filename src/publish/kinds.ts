/**
 * The destination kinds this build knows. Each kind lives in its own folder (src/publish/akeneo,
 * src/publish/shopify, src/publish/webhook) and is listed here; tests bring their own.
 */
import { akeneoKind } from './akeneo';
import type { DestinationKind } from './destination';
import { shopifyKind } from './shopify';
import { webhookKind } from './webhook';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each kind has its own settings type
export const DESTINATION_KINDS: ReadonlyArray<DestinationKind<any>> = [akeneoKind, shopifyKind, webhookKind];
