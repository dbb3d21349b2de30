/** The refresh's query, defined once for the workflow and every caller (client, CLI, local stack). */
import { defineQuery } from '@temporalio/workflow';
import type { RefreshProgress } from '../../../shared/refresh';

export const refreshProgressQuery = defineQuery<RefreshProgress>('progress');
