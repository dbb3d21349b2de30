/** What every room of one product workflow run shares: its input, plan, steps, report and tallies. */
import type { AssetRef, LoadedPlan, ProductWorkflowArgs, ReviewDecisionSignal } from '../../../shared/steps';
import type { StatusReport } from './status';
import type { ProductSteps } from './steps';

export interface ProductRun {
  input: ProductWorkflowArgs;
  /** The fields every step's input starts with. */
  base: { catalogId: string; sku: string; workflowId: string };
  plan: LoadedPlan;
  steps: ProductSteps;
  report: StatusReport;
  /** Review decisions received and not yet taken, by slot. */
  decisions: Map<string, ReviewDecisionSignal>;
  /** Each finished slot's current asset, for the slots that reference it. */
  assets: Map<string, AssetRef>;
  tally: {
    submissions: number;
    /** Every image billed in this run, regenerations after a review rejection included. */
    imagesBilled: number;
  };
}
