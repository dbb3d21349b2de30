// Every migration, by name. Listed explicitly (not discovered from the folder) so migrations load the
// same way under tsx, vitest and any bundler; a test checks that no file in this folder is missing here.
import type { Migration } from 'kysely/migration';
import * as initial from './20261124T1900_initial';
import * as refresh from './20261124T2010_refresh';
import * as ingest from './20261124T2030_ingest';
import * as review from './20261124T2040_review';
import * as webhookTriggers from './20261124T2045_webhook_triggers';
import * as paidLedger from './20261201T0900_paid_ledger';
import * as operatorDecisions from './20261201T1000_operator_decisions';
import * as refreshFailures from './20261201T1100_refresh_failures';
import * as webhookSecrets from './20261201T1200_webhook_secrets';
import * as publications from './20261201T1300_publications';
import * as outboundDeliveries from './20261201T1310_outbound_deliveries';
import * as channelChecks from './20261201T1320_channel_checks';
import * as labelReadings from './20261201T1330_label_readings';

export const migrations: Record<string, Migration> = {
  '20261124T1900_initial': initial,
  '20261124T2010_refresh': refresh,
  '20261124T2030_ingest': ingest,
  '20261124T2040_review': review,
  '20261124T2045_webhook_triggers': webhookTriggers,
  '20261201T0900_paid_ledger': paidLedger,
  '20261201T1000_operator_decisions': operatorDecisions,
  '20261201T1100_refresh_failures': refreshFailures,
  '20261201T1200_webhook_secrets': webhookSecrets,
  '20261201T1300_publications': publications,
  '20261201T1310_outbound_deliveries': outboundDeliveries,
  '20261201T1320_channel_checks': channelChecks,
  '20261201T1330_label_readings': labelReadings,
};
