export { productWorkflow } from './workflow';
export { productChangedSignal, productStatusQuery, reviewSignal } from './definitions';
export type { DestinationPublishStatus, ProductChanged, ProductRunStatus, ProductWorkflowResult, SlotPhase, SlotStatus } from './definitions';
