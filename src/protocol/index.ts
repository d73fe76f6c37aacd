export * from './names.js';
export * from './container.js';
export * from './events.js';
export * from './api.js';
export * from './paths.js';
export * from './runtime.js';
export * from './agents-api.js';
export * from './messages-api.js';
