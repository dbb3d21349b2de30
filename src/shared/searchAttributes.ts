/** Typed custom search attributes, registered by `catalog-assets setup` and by the local dev server. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA = {
  catalogId: defineSearchAttributeKey('CatalogId', SearchAttributeType.KEYWORD),
  sku: defineSearchAttributeKey('Sku', SearchAttributeType.KEYWORD),
  slots: defineSearchAttributeKey('AssetSlots', SearchAttributeType.KEYWORD_LIST),
  trigger: defineSearchAttributeKey('RefreshTrigger', SearchAttributeType.KEYWORD),
  outcome: defineSearchAttributeKey('AssetOutcome', SearchAttributeType.KEYWORD),
  /** The SKU's publication over its destinations: published, unchanged, partial, failed, skipped. */
  publishOutcome: defineSearchAttributeKey('PublishOutcome', SearchAttributeType.KEYWORD),
} as const;

export const ALL_SEARCH_ATTRIBUTES = Object.values(SA);

/** `--search-attribute Name=Type` arguments for the Temporal CLI dev server. */
export function devServerSearchAttributeArgs(): string[] {
  const cliType: Record<string, string> = { KEYWORD: 'Keyword', KEYWORD_LIST: 'KeywordList', TEXT: 'Text', INT: 'Int', BOOL: 'Bool', DATETIME: 'Datetime', DOUBLE: 'Double' };
  return ALL_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${cliType[k.type] ?? 'Keyword'}`]);
}
