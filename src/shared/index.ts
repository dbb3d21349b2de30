// The workflow-safe shared module: no Node imports, nothing that does I/O.
export * from './ids';
export * from './searchAttributes';
export * from './failures';
export * from './plan';
export * from './steps';
export * from './refresh';
