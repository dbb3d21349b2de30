/**
 * Registers the project's custom search attributes on a namespace. Idempotent: attributes that
 * exist with the right type are left alone; one that exists with another type is an error.
 */
import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { ALL_SEARCH_ATTRIBUTES } from '../../shared/searchAttributes';

// The proto package is CommonJS: its namespaces come through the default export under ESM.
const { temporal } = proto;
type IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

const TYPE: Record<string, IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  TEXT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  BOOL: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DOUBLE: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<{ added: string[]; present: string[] }> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = existing.customAttributes ?? {};
  const added: string[] = [];
  const present: string[] = [];
  const missing: Record<string, IndexedValueType> = {};
  for (const key of ALL_SEARCH_ATTRIBUTES) {
    const want = TYPE[key.type]!;
    const have = custom[key.name];
    if (have === undefined) {
      missing[key.name] = want;
      added.push(key.name);
    } else if (have !== want) {
      throw new Error(`search attribute ${key.name} exists on namespace ${namespace} with another type (${have}); expected ${key.type}`);
    } else {
      present.push(key.name);
    }
  }
  if (added.length > 0) await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  return { added, present };
}
