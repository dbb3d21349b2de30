// The workflows this worker registers.
export { productWorkflow, productStatusQuery, productChangedSignal, reviewSignal } from './product';
export type { ProductRunStatus, ProductWorkflowResult, ProductChanged, SlotStatus } from './product';
export { refreshWorkflow, refreshProgressQuery } from './refresh';
export { publishWorkflow } from './publish';
