export { refreshWorkflow } from './workflow';
export { refreshProgressQuery } from './definitions';
